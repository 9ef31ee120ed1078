package impalalb

import (
	"context"
	"database/sql/driver"
	"errors"
)

// stmt is a prepared statement. Impala has no server-side prepared
// statements or bind parameters, so preparing sends nothing: each
// execution interpolates the arguments into the text on the client (see
// [Interpolate]) and runs it on the statement's connection. A stmt is
// cheap; database/sql makes one per connection it runs on.
type stmt struct {
	cn       *sqlConn
	query    string
	numInput int
	closed   bool
}

var (
	_ driver.Stmt              = (*stmt)(nil)
	_ driver.StmtExecContext   = (*stmt)(nil)
	_ driver.StmtQueryContext  = (*stmt)(nil)
	_ driver.NamedValueChecker = (*stmt)(nil)
)

// Close implements driver.Stmt. There is nothing on the coordinator to
// release.
func (s *stmt) Close() error {
	s.closed = true
	return nil
}

// NumInput implements driver.Stmt: the number of '?' placeholders plus
// the number of distinct @name placeholders, or -1 when the statement
// could not be scanned.
func (s *stmt) NumInput() int { return s.numInput }

// Exec implements driver.Stmt.
func (s *stmt) Exec(args []driver.Value) (driver.Result, error) {
	return s.ExecContext(context.Background(), namedValues(args))
}

// Query implements driver.Stmt.
func (s *stmt) Query(args []driver.Value) (driver.Rows, error) {
	return s.QueryContext(context.Background(), namedValues(args))
}

// ExecContext implements driver.StmtExecContext.
func (s *stmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	if s.closed {
		return nil, errStmtClosed
	}
	return s.cn.ExecContext(ctx, s.query, args)
}

// QueryContext implements driver.StmtQueryContext.
func (s *stmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	if s.closed {
		return nil, errStmtClosed
	}
	return s.cn.QueryContext(ctx, s.query, args)
}

// CheckNamedValue implements driver.NamedValueChecker.
func (s *stmt) CheckNamedValue(nv *driver.NamedValue) error { return checkNamedValue(nv) }

var errStmtClosed = errors.New("impalalb: statement is closed")

func namedValues(args []driver.Value) []driver.NamedValue {
	nv := make([]driver.NamedValue, len(args))
	for i, v := range args {
		nv[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	return nv
}
