package impalalb

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"unicode/utf8"
)

// queryOptionsKey is the context key of WithQueryOptions.
type queryOptionsKey struct{}

// WithQueryOptions returns a context that runs the statements given it
// (QueryContext, ExecContext, and those of a Stmt) with these Impala query
// options, for that statement only: HiveServer2's per-statement
// configuration overlay, or beeswax's query configuration. The session's
// options (the DSN's opt.NAME, or a SET run earlier) are untouched, so the
// next statement on the same connection runs without them. Typical use: a
// MEM_LIMIT or REQUEST_POOL for one heavy report on a shared *sql.DB.
//
// Names are case-insensitive (letters, digits and underscores); a context
// that already carries options keeps them, and opts wins where both name
// the same option. opts is copied. A bad name or value is reported by the
// statement, before anything is sent.
func WithQueryOptions(ctx context.Context, opts map[string]string) context.Context {
	merged := make(map[string]string, len(opts))
	var bad error
	if prev, ok := ctx.Value(queryOptionsKey{}).(queryOptions); ok {
		maps.Copy(merged, prev.opts)
		bad = prev.err
	}
	for k, v := range opts {
		u := strings.ToUpper(k)
		if err := checkQueryOption(k, v); err != nil && bad == nil {
			bad = err
		}
		merged[u] = v
	}
	return context.WithValue(ctx, queryOptionsKey{}, queryOptions{opts: merged, err: bad})
}

// queryOptions is what WithQueryOptions stores: the options, or the first
// problem found with them.
type queryOptions struct {
	opts map[string]string
	err  error
}

// queryOptionsFrom returns the per-statement options of ctx (nil without
// any), or the error of a bad one.
func queryOptionsFrom(ctx context.Context) (map[string]string, error) {
	q, ok := ctx.Value(queryOptionsKey{}).(queryOptions)
	if !ok || len(q.opts) == 0 {
		return nil, q.err
	}
	return q.opts, q.err
}

// checkQueryOption says what is wrong with one per-statement option.
func checkQueryOption(name, value string) error {
	if !isIdent(name, true) {
		return fmt.Errorf("impalalb: WithQueryOptions: option name %q must be letters, digits and underscores", name)
	}
	if strings.ContainsAny(value, "\r\n\x00") || !utf8.ValidString(value) {
		return fmt.Errorf("impalalb: WithQueryOptions: %s: value contains a line break, NUL or invalid UTF-8", strings.ToUpper(name))
	}
	return nil
}
