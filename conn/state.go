package conn

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
)

// What a client can observe of an Impala session is its current database
// and its query options; Impala has no temporary tables or session
// variables beyond them. A Session keeps both as its statements change
// them, so that a pool can give it back as it was opened (Reset) and move
// it to another coordinator as it is now (Adopt).
//
// The query options are those the session set explicitly: OpenSession's
// configuration, then SET k=v; SET k='' puts k back to the server's
// default and UNSET ALL does that for every option, OpenSession's
// included (Impala's SetQueryOption and ResetAllQueryOptions on the
// session's set_query_options, be/src/service/client-request-state.cc and
// query-options.cc). Impala has no UNSET of one option.

// sessionState is a session's database ("" for the server's default,
// "default") and its explicitly set query options, keyed by lower-case
// name (Impala's option names ignore case; other HiveServer2 servers'
// settings do not, and keep theirs).
type sessionState struct {
	db   string
	opts map[string]string
}

func (s sessionState) clone() sessionState {
	return sessionState{db: s.db, opts: maps.Clone(s.opts)}
}

// stateOf is the state a session opened with o starts in.
func stateOf(o *Options) sessionState {
	st := sessionState{db: strings.ToLower(o.Database), opts: make(map[string]string, len(o.SessionOptions))}
	for k, v := range o.SessionOptions {
		if v != "" {
			st.opts[optionKey(k, o.AllowNonImpala)] = v
		}
	}
	return st
}

// optionKey is the key of a query option in a sessionState: its name in
// lower case for Impala, as written for other servers.
func optionKey(name string, allowNonImpala bool) string {
	if allowNonImpala {
		return name
	}
	return strings.ToLower(name)
}

// tracker follows a session's state. It is used by the goroutine that
// runs the session's statements; dirty may be read from any.
type tracker struct {
	fold bool         // option names ignore case (Impala)
	base sessionState // as opened
	cur  sessionState // as the statements that succeeded left it
	// touched holds options a statement may have changed on the server
	// without cur knowing the result (a SET that failed); all and db say
	// the same of every option (an UNSET ALL that failed) and of the
	// database (a USE that failed).
	touched  map[string]struct{}
	allTouch bool
	dbTouch  bool
	dirty    atomic.Bool // the server's state may differ from base
}

func newTracker(o *Options) *tracker {
	base := stateOf(o)
	return &tracker{fold: !o.AllowNonImpala, base: base, cur: base.clone()}
}

func (t *tracker) key(name string) string { return optionKey(name, !t.fold) }

// chosen reports whether option k was set on the session (at open or by
// a SET), or may have been.
func (t *tracker) chosen(k string) bool {
	k = t.key(k)
	_, set := t.cur.opts[k]
	_, touched := t.touched[k]
	return set || touched || t.allTouch
}

// begin notes a statement that may change the state before it is sent.
func (t *tracker) begin(c classified) {
	switch c.kind {
	case stmtSet:
		if t.touched == nil {
			t.touched = make(map[string]struct{})
		}
		t.touched[t.key(c.key)] = struct{}{}
	case stmtUnsetAll:
		t.allTouch = true
	case stmtUse:
		t.dbTouch = true
	default:
		return
	}
	t.dirty.Store(true)
}

// done records the effect of a statement that succeeded.
func (t *tracker) done(c classified) {
	switch c.kind {
	case stmtSet:
		k := t.key(c.key)
		if c.value == "" {
			delete(t.cur.opts, k)
		} else {
			t.cur.opts[k] = c.value
		}
		delete(t.touched, k)
	case stmtUnsetAll:
		clear(t.cur.opts)
		clear(t.touched)
		t.allTouch = false
	case stmtUse:
		t.cur.db = c.db
		t.dbTouch = false
	default:
		return
	}
	t.dirty.Store(t.differs(t.base))
}

// differs reports whether the server's state may differ from target.
func (t *tracker) differs(target sessionState) bool {
	return len(t.touched) > 0 || t.allTouch || t.dbTouch ||
		t.cur.db != target.db || !maps.Equal(t.cur.opts, target.opts)
}

// plan returns the statements that take the server's state to target,
// given that it is cur except where touched: a SET for each option that
// differs (set to the empty string, the default, for one target does not
// set), then a USE.
func (t *tracker) plan(target sessionState, allowNonImpala bool) ([]string, error) {
	keys := make(map[string]struct{}, len(t.cur.opts)+len(target.opts)+len(t.touched))
	for k := range t.cur.opts {
		keys[k] = struct{}{}
	}
	for k := range target.opts {
		keys[k] = struct{}{}
	}
	for k := range t.touched {
		keys[k] = struct{}{}
	}
	var stmts []string
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		want, have := target.opts[k], t.cur.opts[k]
		_, unknown := t.touched[k]
		if !unknown && !t.allTouch && have == want {
			continue
		}
		s, err := setStatement(k, want, allowNonImpala)
		if err != nil {
			return nil, err
		}
		stmts = append(stmts, s)
	}
	if t.dbTouch || t.cur.db != target.db {
		db := target.db
		if db == "" {
			db = "default"
		}
		stmts = append(stmts, "USE "+quoteIdent(db))
	}
	return stmts, nil
}

// apply runs plan's statements with run, then takes target as the state.
func (t *tracker) apply(ctx context.Context, target sessionState, allowNonImpala bool, run func(ctx context.Context, stmt string) error) error {
	stmts, err := t.plan(target, allowNonImpala)
	if err != nil {
		return err
	}
	for _, s := range stmts {
		if err := run(ctx, s); err != nil {
			return err
		}
	}
	t.cur = target.clone()
	clear(t.touched)
	t.allTouch, t.dbTouch = false, false
	t.dirty.Store(t.differs(t.base))
	return nil
}

// setStatement is the statement that sets option k to v on the session,
// or back to the server's default when v is empty. Impala's SET keeps a
// quoted value as it is written, without backslash escapes
// (common/cup/sql-parser.cup, set_stmt), so a value is quoted with single
// quotes, or double quotes when it holds a single quote; one with both
// cannot be written. HiveServer2's SET takes the raw rest of the
// statement, and RESET k (Spark SQL's) puts k back to its default.
func setStatement(k, v string, allowNonImpala bool) (string, error) {
	if allowNonImpala {
		if v == "" {
			return "RESET " + k, nil
		}
		return "SET " + k + "=" + v, nil
	}
	switch {
	case !strings.Contains(v, "'"):
		return "SET " + k + "='" + v + "'", nil
	case !strings.Contains(v, `"`):
		return "SET " + k + `="` + v + `"`, nil
	}
	return "", fmt.Errorf("conn: query option %s: a value with both ' and \" cannot be written in Impala's SET", k)
}
