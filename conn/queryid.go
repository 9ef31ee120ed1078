package conn

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
)

// StatementStarted describes a statement a coordinator accepted.
type StatementStarted struct {
	// Addr is the coordinator's address, host:port as dialed.
	Addr string
	// QueryID is Impala's query id of the statement, as its web UI, logs
	// and profiles show it ("d74d8ce632c9d4d0:75c5a51100000000").
	QueryID string
}

// startedKey keys the WithStatementStarted callback in a context.
type startedKey struct{}

// WithStatementStarted returns a context under which Execute calls fn as
// soon as the coordinator has accepted a statement and given it a query id,
// before Execute waits for it to finish: a service logs the id, a shell
// prints where to watch the query (the coordinator's web UI,
// /query_plan?query_id=...). fn runs on the goroutine that called Execute
// and must not block. A SET on a beeswax session, which never leaves the
// client, has no query id and no call.
func WithStatementStarted(ctx context.Context, fn func(StatementStarted)) context.Context {
	return context.WithValue(ctx, startedKey{}, fn)
}

// started tells the context's WithStatementStarted callback, if any.
func started(ctx context.Context, addr, id string) {
	if fn, _ := ctx.Value(startedKey{}).(func(StatementStarted)); fn != nil && id != "" {
		fn(StatementStarted{Addr: addr, QueryID: id})
	}
}

// queryIDFromGUID is Impala's query id from an HS2 operation handle's
// guid: the two halves of the id are 64-bit little-endian integers, printed
// in hex, high half first.
func queryIDFromGUID(guid []byte) string {
	if len(guid) != 16 {
		return ""
	}
	return fmt.Sprintf("%016x:%016x", binary.LittleEndian.Uint64(guid[:8]), binary.LittleEndian.Uint64(guid[8:]))
}

// tagQuery records the query id in err's *Error, when it has none yet.
func tagQuery(err error, id string) error {
	var e *Error
	if id != "" && errors.As(err, &e) && e.QueryID == "" {
		e.QueryID = id
	}
	return err
}
