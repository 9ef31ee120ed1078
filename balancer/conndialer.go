package balancer

import (
	"context"
	"maps"

	"github.com/impalalb/impalalb/conn"
)

// ConnDialer is the default [Dialer]: it opens [*conn.Session] values with
// [conn.Dial], so a pool over it balances real HS2 or beeswax sessions. It
// also implements [Checker], so the pool's active health checks work at
// protocol level. A ConnDialer is safe for concurrent use.
//
// *conn.Session implements [LivenessChecker], [Resetter] and [Reattacher]:
// the pool checks its socket before reuse, resets SET and USE at release
// and reattaches an HS2 session whose connection was cut. A pool over a
// ConnDialer is a Pool[*conn.Session]:
//
//	pool, err := balancer.New(cfg, balancer.NewConnDialer(conn.Options{User: "etl"}))
//	...
//	l, err := pool.Acquire(ctx, "")
//	if err != nil { ... }
//	defer l.Release()
//	op, err := l.Session().Execute(ctx, "select 1", nil)
type ConnDialer struct {
	opts conn.Options
}

var (
	_ Dialer[*conn.Session] = (*ConnDialer)(nil)
	_ Checker               = (*ConnDialer)(nil)
	_ Session               = (*conn.Session)(nil)
	_ LivenessChecker       = (*conn.Session)(nil)
	_ Breaker               = (*conn.Session)(nil)
	_ Resetter              = (*conn.Session)(nil)
	_ Reattacher            = (*conn.Session)(nil)
)

// NewConnDialer returns a ConnDialer that dials with a private copy of
// opts (its SessionOptions map included), so later changes to the caller's
// value have no effect. Options are validated at each Dial, whose error
// names the field.
//
// Keep opts.ConnectTimeout at or below [Config.DialTimeout] when it
// matters which ends a dial first; the pool bounds every Dial and Check by
// its own timeouts in any case.
func NewConnDialer(opts conn.Options) *ConnDialer {
	opts.SessionOptions = maps.Clone(opts.SessionOptions)
	if opts.TLS != nil {
		opts.TLS = opts.TLS.Clone()
	}
	return &ConnDialer{opts: opts}
}

// Options returns a copy of the options the dialer uses.
func (d *ConnDialer) Options() conn.Options {
	o := d.opts
	o.SessionOptions = maps.Clone(o.SessionOptions)
	if o.TLS != nil {
		o.TLS = o.TLS.Clone()
	}
	return o
}

// Dial opens a session on the coordinator at addr with [conn.Dial]: TCP,
// TLS and SASL as the options say, OpenSession with the options' user,
// database and query options, and a first ping. Its error is conn's
// [*conn.Error], for which [conn.SafeToRetry] reports true: nothing of a
// statement was sent.
func (d *ConnDialer) Dial(ctx context.Context, addr string) (*conn.Session, error) {
	return conn.Dial(ctx, addr, d.opts)
}

// Check checks the coordinator at addr at protocol level: it connects, runs
// the TLS and SASL handshakes, opens a session, pings it
// (PingImpalaHS2Service, or PingImpalaService on beeswax) and closes it. A
// TCP connect alone says little: a coordinator whose frontend threads
// (fe_service_threads) are all busy accepts the connection and then leaves
// it unanswered, and one whose keytab or certificate is wrong accepts it and
// fails the handshake. A nil error means that a new session would work now.
//
// Check costs about as much as a Dial plus a CloseSession; the pool runs it
// once per [Config.Interval] per coordinator, and with backoff on down ones.
func (d *ConnDialer) Check(ctx context.Context, addr string) error {
	s, err := conn.Dial(ctx, addr, d.opts)
	if err != nil {
		return err
	}
	// The session was proved by Dial's ping; a failed CloseSession after
	// that does not make the coordinator unhealthy.
	_ = s.Close()
	return nil
}

// String describes the dialer with its options, the password redacted.
func (d *ConnDialer) String() string { return "balancer.ConnDialer{" + d.opts.String() + "}" }

// GoString is String, so that %#v redacts the password too.
func (d *ConnDialer) GoString() string { return d.String() }
