package impalalb

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/impalalb/impalalb/balancer"
	"github.com/impalalb/impalalb/conn"
	"github.com/impalalb/impalalb/conn/sasl"
	"github.com/impalalb/impalalb/kerberos"
	"github.com/impalalb/impalalb/tlsconf"
)

// Connector is the driver.Connector of a [Config]: it owns one balancer
// pool over the Config's coordinators, and each database/sql connection is
// one session leased from it, on the coordinator the policy picks.
//
// Use it with sql.OpenDB to keep access to [Connector.Stats]:
//
//	c, err := impalalb.NewConnector(cfg)
//	if err != nil { ... }
//	db := sql.OpenDB(c)
//	defer db.Close() // closes the Connector and its pool
//
// The pool caps the sessions per coordinator at
// balancer.DefaultMaxPerCoordinator (48, below impalad's 64 frontend
// threads); a connection asked for beyond the cap waits for one, within
// its ctx. Set sql.DB.SetMaxOpenConns at or below that cap times the
// number of coordinators.
//
// Through sql.Conn.Raw, a connection is a [RawConn]: the address of its
// session's coordinator, the coordinator's version, and the session
// itself for what database/sql has no call for (the metadata calls, a
// statement's profile):
//
//	err := c.Raw(func(dc any) error {
//		addr = dc.(impalalb.RawConn).Coordinator()
//		return nil
//	})
//
// A Connector is safe for concurrent use.
type Connector struct {
	cfg  *Config
	drv  *Driver
	pool *balancer.Pool[*conn.Session]
	// bcfg and opts are what the pool and its dialer were given.
	bcfg balancer.Config
	opts conn.Options
	// validateAfter is the pool's ValidateAfter, default applied: the
	// idleness after which database/sql's reuse of a connection pings.
	validateAfter time.Duration
	krb           *kerberos.Client // nil unless auth=gssapi

	closeOnce sync.Once
	closeErr  error
}

var (
	_ driver.Connector = (*Connector)(nil)
)

// NewConnector validates cfg and returns a Connector with its balancer
// pool. cfg is copied; later changes to it have no effect. With
// auth=gssapi it loads krb5.conf and the keytab or credential cache now
// (no KDC exchange until the first session). Close releases the pool.
func NewConnector(cfg *Config) (*Connector, error) {
	if cfg == nil {
		return nil, errors.New("impalalb: NewConnector: nil Config")
	}
	return newConnector(cfg.Clone(), &Driver{})
}

func newConnector(cfg *Config, drv *Driver) (*Connector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Connector{cfg: cfg, drv: drv}
	opts := conn.Options{
		ConnectTimeout: cfg.ConnectTimeout,
		User:           cfg.User,
		Database:       cfg.Database,
		SessionOptions: cfg.QueryOptions,
		FetchSize:      cfg.FetchSize,
		AllowNonImpala: cfg.AllowNonImpala,
		PollQueries:    cfg.PollQueries,
		Tracer:         cfg.Tracer,
		Logger:         cfg.Logger,
	}
	httpMode := cfg.Protocol == ProtocolHS2HTTP
	switch cfg.Protocol {
	case ProtocolBeeswax:
		opts.Protocol = conn.Beeswax
	case ProtocolHS2HTTP:
		opts.Protocol = conn.HS2HTTP
		opts.HTTPPath = cfg.HTTPPath
		opts.HTTPHeaders = cfg.HTTPHeaders
	}
	switch cfg.Auth {
	case AuthPlain:
		if httpMode {
			opts.HTTPAuth = conn.BasicAuth(cfg.User, cfg.Password)
		} else {
			opts.Mechanism = sasl.PlainFactory(cfg.User, cfg.Password)
		}
	case AuthJWT:
		src := cfg.JWTFunc
		switch {
		case cfg.JWTFile != "":
			src = conn.TokenFile(cfg.JWTFile)
		case cfg.JWT != "":
			src = conn.StaticToken(cfg.JWT)
		}
		opts.HTTPAuth = conn.BearerAuth(src)
	case AuthGSSAPI:
		kc := kerberos.Config{
			Krb5Conf:    cfg.Krb5Conf,
			Principal:   cfg.Principal,
			Keytab:      cfg.Keytab,
			Password:    cfg.Password,
			CCache:      cfg.CCache,
			ServiceName: cfg.ServiceName,
			HostFQDN:    cfg.KerberosHostFQDN,
			Logger:      cfg.Logger,
		}
		if kc.Principal == "" {
			kc.Principal = cfg.User
		}
		krb, err := kerberos.NewClient(kc)
		if err != nil {
			return nil, fmt.Errorf("impalalb: auth=gssapi: %w", err)
		}
		c.krb = krb
		if httpMode {
			// SPNEGO, for the principal of the same rule as SASL's.
			opts.HTTPAuth = krb.NegotiateHeader
		} else {
			opts.Mechanism = krb.MechanismFactory()
		}
	}
	if cfg.TLS {
		tc, err := tlsconf.NewClient(tlsconf.Config{
			CAFile:             cfg.CACert,
			ServerName:         cfg.ServerName,
			CertFile:           cfg.ClientCert,
			KeyFile:            cfg.ClientKey,
			InsecureSkipVerify: cfg.TLSInsecureSkipVerify,
			Logger:             cfg.Logger,
		})
		if err != nil {
			c.closeKerberos()
			return nil, fmt.Errorf("impalalb: tls: %w", err)
		}
		// tlsconf checks each coordinator's certificate against
		// server_name, or the dialed address's host, and reloads rotated
		// files; its errors name the expected and the presented names.
		opts.TLSHandshake = tc.HandshakeConn
	}

	// Config and balancer.Config share one convention (zero: the
	// default, negative: off) and the same defaults.
	bc := balancer.Config{
		Coordinators:  cfg.Addrs,
		DialTimeout:   cfg.ConnectTimeout,
		Retries:       cfg.Retries,
		MaxIdleTime:   cfg.MaxIdleTime,
		ValidateAfter: cfg.ValidateAfter,
		Interval:      cfg.HealthInterval,
		SlowStart:     cfg.SlowStart,
		Logger:        cfg.Logger,
	}
	if t, ok := cfg.Tracer.(balancer.Tracer); ok {
		bc.Tracer = t
	}
	switch cfg.Balance {
	case BalanceAffinity:
		bc.Policy = balancer.Affinity
		bc.DefaultKey = cfg.AffinityKey
	case BalanceRoundRobin:
		bc.Policy = balancer.RoundRobin
	default:
		bc.Policy = balancer.LeastConn
	}
	c.bcfg, c.opts = bc, opts
	c.validateAfter = bc.WithDefaults().ValidateAfter
	pool, err := balancer.NewWithHooks(bc, balancer.NewConnDialer(opts), cfg.Hooks)
	if err != nil {
		c.closeKerberos()
		return nil, fmt.Errorf("impalalb: %w", err)
	}
	c.pool = pool
	return c, nil
}

func (c *Connector) closeKerberos() {
	if c.krb != nil {
		_ = c.krb.Close()
	}
}

// Connect leases a session from the pool: an idle one, validated, or a
// new one on the coordinator the policy picks. It implements
// driver.Connector. A failure here means no statement was sent; it is
// returned as it is (database/sql reports it), never as driver.ErrBadConn.
func (c *Connector) Connect(ctx context.Context) (driver.Conn, error) {
	lease, err := c.pool.Acquire(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("impalalb: connect: %w", err)
	}
	return &sqlConn{c: c, lease: lease, s: lease.Session(), lastUsed: time.Now()}, nil
}

// Driver returns the [Driver]. It implements driver.Connector.
func (c *Connector) Driver() driver.Driver { return c.drv }

// Config returns a copy of the Connector's configuration.
func (c *Connector) Config() *Config { return c.cfg.Clone() }

// Stats returns the balancer pool's figures: per coordinator its state,
// sessions in use and idle, dials, failures; for the pool, waits and
// redispatches. Sessions held by database/sql connections (idle in
// database/sql's own pool or running a statement) count as in use.
func (c *Connector) Stats() balancer.Stats { return c.pool.Stats() }

// Close closes the pool (idle sessions now; sessions still held by
// connections when those close) and, with auth=gssapi, stops the ticket
// renewal. database/sql calls it from DB.Close. It is idempotent.
func (c *Connector) Close() error {
	c.closeOnce.Do(func() {
		c.closeErr = c.pool.Close()
		c.closeKerberos()
	})
	return c.closeErr
}
