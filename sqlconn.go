package impalalb

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

	"github.com/impalalb/impalalb/balancer"
	"github.com/impalalb/impalalb/conn"
)

// sqlConn is one database/sql connection: one session leased from the
// connector's pool. database/sql uses it from one goroutine at a time.
type sqlConn struct {
	c     *Connector
	lease *balancer.Lease[*conn.Session]
	s     *conn.Session

	// bad is set when the session can no longer be trusted: its
	// connection broke, a ping failed, or a reset failed. database/sql
	// then discards the connection (IsValid, ResetSession) and the lease
	// is discarded rather than returned to the pool.
	bad    bool
	closed bool
	// ownsConnector is set for connections made by Driver.Open, which
	// close their private connector with them.
	ownsConnector bool
	// lastUsed is when the last statement ended, for idle validation.
	lastUsed time.Time
}

var (
	_ driver.Conn               = (*sqlConn)(nil)
	_ driver.ConnPrepareContext = (*sqlConn)(nil)
	_ driver.ConnBeginTx        = (*sqlConn)(nil)
	_ driver.QueryerContext     = (*sqlConn)(nil)
	_ driver.ExecerContext      = (*sqlConn)(nil)
	_ driver.Pinger             = (*sqlConn)(nil)
	_ driver.SessionResetter    = (*sqlConn)(nil)
	_ driver.Validator          = (*sqlConn)(nil)
	_ driver.NamedValueChecker  = (*sqlConn)(nil)
)

// badConnError is driver.ErrBadConn carrying the cause: database/sql
// retries on another connection when errors.Is(err, driver.ErrBadConn),
// and when it gives up the caller still sees what went wrong.
type badConnError struct{ err error }

func (e *badConnError) Error() string { return "impalalb: bad connection: " + e.err.Error() }

// Is reports driver.ErrBadConn.
func (e *badConnError) Is(target error) bool { return target == driver.ErrBadConn }

// Unwrap returns the cause.
func (e *badConnError) Unwrap() error { return e.err }

// RawConn is what a database/sql connection is inside sql.Conn.Raw:
//
//	err := c.Raw(func(dc any) error {
//		rc := dc.(impalalb.RawConn)
//		log.Printf("on %s (%s)", rc.Coordinator(), rc.ServerVersion())
//		return nil
//	})
type RawConn interface {
	// Coordinator returns the address of the coordinator the
	// connection's session is on.
	Coordinator() string
	// ServerVersion returns the version the coordinator reported.
	ServerVersion() string
	// Session returns the connection's session, for what database/sql has
	// no call for. It is the connection's own: use it only inside the Raw
	// function, and never Close it.
	Session() *conn.Session
}

var _ RawConn = (*sqlConn)(nil)

// Session returns the connection's session (see RawConn).
func (cn *sqlConn) Session() *conn.Session { return cn.s }

// Coordinator returns the address of the coordinator the connection's
// session is on (reachable through sql.Conn.Raw, see Connector).
func (cn *sqlConn) Coordinator() string { return cn.lease.Coordinator() }

// ServerVersion returns the version the coordinator reported.
func (cn *sqlConn) ServerVersion() string { return cn.s.ServerVersion() }

// usable returns driver.ErrBadConn when no statement should be sent on
// the connection any more. Nothing was sent, so database/sql may retry. A
// session whose socket the peer closed, or whose coordinator is shutting
// down or gone, is not bad: conn.Session reattaches it, or moves it to
// another coordinator with its SET and USE, before the next statement.
func (cn *sqlConn) usable() error {
	if cn.closed || cn.bad {
		return driver.ErrBadConn
	}
	return nil
}

// withTimeout applies query_timeout to a ctx without a deadline.
func (cn *sqlConn) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if qt := cn.c.cfg.QueryTimeout; qt > 0 {
		if _, ok := ctx.Deadline(); !ok {
			return context.WithTimeout(ctx, qt)
		}
	}
	return ctx, func() {}
}

// failed classifies the error of a call that may have carried a
// statement. An error that conn says nothing of the statement reached the
// coordinator becomes driver.ErrBadConn (with the cause), so that
// database/sql runs the statement on another connection; any other error
// is returned as it is, and the connection is marked bad when its session
// broke, so that database/sql drops it.
func (cn *sqlConn) failed(ctx context.Context, err error) error {
	if ctx.Err() == nil && conn.SafeToRetry(err) {
		cn.bad = true
		return &badConnError{err: err}
	}
	cn.noteError(err)
	return err
}

// noteError marks the connection bad when err left its session unusable.
func (cn *sqlConn) noteError(err error) {
	if cn.s.Broken() || errors.Is(err, conn.ErrSessionClosed) || errors.Is(err, conn.ErrBroken) {
		cn.bad = true
	}
}

// QueryContext interpolates args into query and runs it. It implements
// driver.QueryerContext.
func (cn *sqlConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	q, hidden, err := interpolate(query, args)
	if err != nil {
		return nil, err
	}
	return cn.query(ctx, q, hidden)
}

// query runs q, whose errors must not show hidden (its secret arguments).
func (cn *sqlConn) query(ctx context.Context, q string, hidden argSecrets) (driver.Rows, error) {
	opts, err := queryOptionsFrom(ctx)
	if err != nil {
		return nil, err
	}
	if err := cn.usable(); err != nil {
		return nil, err
	}
	ctx, cancel := cn.withTimeout(ctx)
	op, err := cn.s.Execute(ctx, q, opts)
	if err != nil {
		cancel()
		cn.lastUsed = time.Now()
		return nil, cn.failed(ctx, hidden.scrub(err))
	}
	r := newRows(ctx, cn, op, cancel)
	r.hidden = hidden
	return r, nil
}

// ExecContext interpolates args into query, runs it and reports the rows
// a DML statement changed (CloseImpalaOperation's dml_result; beeswax
// CloseInsert), zero for other statements. It implements
// driver.ExecerContext.
func (cn *sqlConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	q, hidden, err := interpolate(query, args)
	if err != nil {
		return nil, err
	}
	return cn.exec(ctx, q, hidden)
}

// exec runs q, whose errors must not show hidden (its secret arguments).
func (cn *sqlConn) exec(ctx context.Context, q string, hidden argSecrets) (driver.Result, error) {
	opts, err := queryOptionsFrom(ctx)
	if err != nil {
		return nil, err
	}
	if err := cn.usable(); err != nil {
		return nil, err
	}
	ctx, cancel := cn.withTimeout(ctx)
	defer cancel()
	defer func() { cn.lastUsed = time.Now() }()
	op, err := cn.s.Execute(ctx, q, opts)
	if err != nil {
		return nil, cn.failed(ctx, hidden.scrub(err))
	}
	if err := op.Close(ctx); err != nil {
		cn.noteError(err)
		return nil, hidden.scrub(err)
	}
	n := op.RowsAffected()
	if n < 0 {
		n = 0
	}
	return driver.RowsAffected(n), nil
}

// Prepare implements driver.Conn.
func (cn *sqlConn) Prepare(query string) (driver.Stmt, error) {
	return cn.PrepareContext(context.Background(), query)
}

// PrepareContext returns a statement that interpolates its arguments on
// the client at each execution (Impala has no server-side parameters):
// nothing is sent to the coordinator. It implements
// driver.ConnPrepareContext.
func (cn *sqlConn) PrepareContext(_ context.Context, query string) (driver.Stmt, error) {
	if err := cn.usable(); err != nil {
		return nil, err
	}
	return &stmt{cn: cn, query: query, numInput: numInput(query)}, nil
}

// Begin implements driver.Conn: Impala has no transactions.
func (cn *sqlConn) Begin() (driver.Tx, error) { return nil, ErrNoTransactions }

// BeginTx implements driver.ConnBeginTx: Impala has no transactions.
func (cn *sqlConn) BeginTx(context.Context, driver.TxOptions) (driver.Tx, error) {
	return nil, ErrNoTransactions
}

// Ping checks the session on its coordinator with one round trip. It
// implements driver.Pinger. A failure (other than ctx's) is
// driver.ErrBadConn: a ping carries no statement.
func (cn *sqlConn) Ping(ctx context.Context) error {
	if err := cn.usable(); err != nil {
		return err
	}
	if err := cn.s.Ping(ctx); err != nil {
		if ctx.Err() != nil {
			cn.noteError(err)
			return err
		}
		cn.bad = true
		return &badConnError{err: err}
	}
	return nil
}

// ResetSession is called by database/sql before it reuses the
// connection. It implements driver.SessionResetter: a broken session, or
// one whose socket the peer closed and that cannot be reattached, or one
// idle past validate_after that fails a ping, is driver.ErrBadConn
// (database/sql then takes another connection; nothing was sent); a
// session changed by SET or USE is restored to the DSN's options and
// database.
func (cn *sqlConn) ResetSession(ctx context.Context) error {
	if err := cn.usable(); err != nil {
		return err
	}
	if cn.lease.Retire() {
		// Its coordinator holds clearly more than its share (another came
		// back): database/sql opens a new connection, which leastconn
		// places where there is room. Nothing was sent.
		cn.bad = true
		return driver.ErrBadConn
	}
	if !cn.s.Alive() {
		if err := cn.s.Reattach(ctx); err != nil {
			cn.bad = true
			return &badConnError{err: fmt.Errorf("impalalb: session's connection closed by the peer: %w", err)}
		}
	} else if va := cn.c.validateAfter; va >= 0 && time.Since(cn.lastUsed) > va {
		if err := cn.s.Ping(ctx); err != nil {
			if rerr := cn.s.Reattach(ctx); rerr != nil {
				cn.bad = true
				return &badConnError{err: err}
			}
		}
	}
	if cn.s.NeedsReset() {
		if err := cn.s.Reset(ctx); err != nil {
			cn.bad = true
			return &badConnError{err: err}
		}
	}
	cn.lastUsed = time.Now()
	return nil
}

// IsValid implements driver.Validator: false once the session is broken,
// so that database/sql closes the connection rather than keep it.
func (cn *sqlConn) IsValid() bool {
	return !cn.closed && !cn.bad && !cn.s.Broken()
}

// CheckNamedValue implements driver.NamedValueChecker: every type
// Interpolate handles is accepted as it is.
func (cn *sqlConn) CheckNamedValue(nv *driver.NamedValue) error {
	return checkNamedValue(nv)
}

// Close returns the session to the pool (which resets a SET or USE first)
// or, when it is bad, closes it. It implements driver.Conn.
func (cn *sqlConn) Close() error {
	if cn.closed {
		return nil
	}
	cn.closed = true
	if cn.bad || cn.s.Broken() {
		cn.lease.Discard()
	} else {
		cn.lease.Release()
	}
	if cn.ownsConnector {
		return cn.c.Close()
	}
	return nil
}

// numInput counts the distinct arguments query takes: each '?' and each
// distinct @name. -1 when the statement cannot be scanned (Interpolate
// then reports the error at execution).
func numInput(query string) int {
	n := 0
	var names []string
	err := placeholders(query, func(_, _ int, name string) error {
		if name == "" {
			n++
			return nil
		}
		for _, x := range names {
			if x == name {
				return nil
			}
		}
		names = append(names, name)
		return nil
	})
	if err != nil {
		return -1
	}
	return n + len(names)
}
