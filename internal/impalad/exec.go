package impalad

import (
	"errors"
	"maps"
	"sort"
	"strconv"
	"strings"
	"time"
)

// operation is one statement's execution. Guarded by Coordinator.mu, except
// res, which is immutable once set.
type operation struct {
	key       [16]byte
	secret    [16]byte
	id        string
	sess      *session
	text      string
	res       result // nil: no result set
	opts      map[string]string
	started   time.Time
	readyAt   time.Time // the statement's (simulated) work ends here
	failMsg   string    // set: the statement fails at readyAt
	dml       bool
	modified  int64
	next      int64 // next row to fetch
	canceled  bool
	closed    bool
	final     opState // the state when it was closed
	chClosed  bool
	cancelled chan struct{} // closed on cancel or close
}

type opState int

const (
	opRunning opState = iota
	opFinished
	opError
	opCanceled
	opClosed
)

func (op *operation) stateLocked(now time.Time) opState {
	switch {
	case op.closed:
		return opClosed
	case op.canceled:
		return opCanceled
	case now.Before(op.readyAt):
		return opRunning
	case op.failMsg != "":
		return opError
	}
	return opFinished
}

// viewState is the state shown in profiles and summaries: for a closed
// operation, the state it had when it was closed.
func (op *operation) viewState(now time.Time) opState {
	if op.closed {
		return op.final
	}
	return op.stateLocked(now)
}

func (op *operation) cancelLocked() {
	if op.closed || op.canceled {
		return
	}
	op.canceled = true
	if !op.chClosed {
		op.chClosed = true
		close(op.cancelled)
	}
}

func (op *operation) closeLocked() {
	if !op.closed {
		op.final = op.stateLocked(time.Now())
	}
	op.closed = true
	if g, ok := op.res.(*genResult); ok {
		g.dropBuffers() // closed operations stay archived a while
	}
	if !op.chClosed {
		op.chClosed = true
		close(op.cancelled)
	}
}

// Statement records one statement a coordinator accepted for execution.
type Statement struct {
	// ID is Impala's query id, "%016x:%016x"; IDFromGUID turns an HS2
	// operation handle's guid into it, and it is the beeswax QueryHandle id.
	ID string
	// SessionID is the id of the session, in the same form.
	SessionID string
	Protocol  Protocol
	User      string
	// Text is the statement as the client sent it.
	Text  string
	Start time.Time
	// Overlay is the statement's own query options as the client sent
	// them (HS2 confOverlay); nil for none.
	Overlay map[string]string
}

func truthy(v string) bool {
	v = strings.ToLower(strings.TrimSpace(v))
	return v == "1" || v == "true"
}

// executeLocked parses and runs one statement for s. Side effects (DDL,
// INSERT, SET, USE) happen now; the operation then stays RUNNING until its
// simulated work is done.
func (co *Coordinator) executeLocked(s *session, text string, overlay map[string]string) (*operation, *sqlError) {
	fn, fnArgs, admin := adminFn(text)
	var st *statement
	if !admin {
		var perr *sqlError
		if st, perr = parse(text); perr != nil {
			co.rejected.Add(1)
			return nil, perr
		}
	}
	opts := maps.Clone(s.opts)
	for k, v := range overlay {
		opts[strings.ToLower(k)] = v
	}
	now := time.Now()
	op := &operation{sess: s, text: text, opts: opts, started: now, cancelled: make(chan struct{})}
	delay := co.cfg.ServiceTime
	var (
		res   result
		extra time.Duration
		err   *sqlError
	)
	if admin {
		res, err = co.runAdminFnLocked(fn, fnArgs)
	} else {
		res, extra, err = co.run(s, st, op)
	}
	if err != nil {
		co.rejected.Add(1)
		return nil, err
	}
	delay += extra
	op.res = res
	// Measured from after the statement's side effects, so a SYNC_DDL
	// statement finishes only once its catalog change reached every
	// coordinator.
	op.readyAt = time.Now().Add(delay)
	op.key, op.id = newID()
	op.secret = newSecret()
	co.ops[op.key] = op
	s.ops[op] = struct{}{}
	co.executed.Add(1)
	if max := co.cfg.MaxStatements; max > 0 {
		if len(co.statements) >= max {
			keep := co.statements[len(co.statements)-max/2:]
			co.statements = append([]Statement(nil), keep...)
		}
		rec := Statement{ID: op.id, SessionID: s.id, Protocol: s.proto, User: s.user, Text: text, Start: now}
		if len(overlay) > 0 {
			rec.Overlay = maps.Clone(overlay)
		}
		co.statements = append(co.statements, rec)
	}
	return op, nil
}

func summary(msg string) result {
	return &rowsResult{cols: []Column{{"summary", Type{Kind: String}}}, rows: [][]any{{msg}}}
}

func qualified(db, t string) string { return db + "." + t }

// run executes st; it returns the result (nil when the statement has no
// result set) and extra simulated time.
func (co *Coordinator) run(s *session, st *statement, op *operation) (result, time.Duration, *sqlError) {
	cl := co.cluster
	syncDelay := func() time.Duration {
		if truthy(op.opts["sync_ddl"]) {
			return cl.syncDelay()
		}
		return 0
	}
	db := st.db
	if db == "" {
		db = s.db
	}
	switch st.kind {
	case stSelect:
		return co.runSelect(s, st, op)
	case stSet:
		if st.setAll {
			vals := map[string]string{}
			for _, o := range defaultOptions {
				vals[strings.ToLower(o.key)] = o.value
			}
			for k, v := range op.opts {
				vals[k] = v
			}
			keys := make([]string, 0, len(vals))
			for k := range vals {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			r := &rowsResult{cols: []Column{{"option", Type{Kind: String}}, {"value", Type{Kind: String}}, {"level", Type{Kind: String}}}}
			for _, k := range keys {
				r.rows = append(r.rows, []any{strings.ToUpper(k), vals[k], "REGULAR"})
			}
			return r, 0, nil
		}
		s.setOption(st.setKey, st.setValue)
		return nil, 0, nil
	case stUse:
		if st.db != "gen" && !cl.hasDB(co.member, st.db) {
			return nil, 0, analysisError("Database does not exist: %s", st.db)
		}
		s.db = st.db
		return nil, 0, nil
	case stCreateDB:
		if err := cl.createDB(co.member, st.db); err != nil || st.db == "gen" {
			if st.ifExists {
				return summary("Database already exists."), 0, nil
			}
			return nil, 0, analysisError("Database already exists: %s", st.db)
		}
		return summary("Database has been created."), syncDelay(), nil
	case stDropDB:
		if err := cl.dropDB(co.member, st.db, st.cascade); err != nil {
			if errors.Is(err, errNotFound) {
				if st.ifExists {
					return summary("Database does not exist."), 0, nil
				}
				return nil, 0, analysisError("Database does not exist: %s", st.db)
			}
			return nil, 0, analysisError("%s", err.Error())
		}
		return summary("Database has been dropped."), syncDelay(), nil
	case stCreateTable:
		if db == "gen" {
			return nil, 0, analysisError("Cannot create a table in the generated database gen")
		}
		switch err := cl.createTable(co.member, db, st.table, st.cols); {
		case errors.Is(err, errNotFound):
			return nil, 0, analysisError("Database does not exist: %s", db)
		case errors.Is(err, errExists):
			if st.ifExists {
				return summary("Table already exists."), 0, nil
			}
			return nil, 0, analysisError("Table already exists: %s", qualified(db, st.table))
		}
		return summary("Table has been created."), syncDelay(), nil
	case stDropTable:
		if err := cl.dropTable(co.member, db, st.table); err != nil {
			if st.ifExists {
				return summary("Table does not exist."), 0, nil
			}
			return nil, 0, analysisError("Table does not exist: %s", qualified(db, st.table))
		}
		return summary("Table has been dropped."), syncDelay(), nil
	case stShowTables:
		r := &rowsResult{cols: []Column{{"name", Type{Kind: String}}}}
		if db == "gen" {
			return r, 0, nil
		}
		names, ok := cl.listTables(co.member, db)
		if !ok {
			return nil, 0, analysisError("Database does not exist: %s", db)
		}
		for _, n := range names {
			r.rows = append(r.rows, []any{n})
		}
		return r, 0, nil
	case stShowDBs:
		r := &rowsResult{cols: []Column{{"name", Type{Kind: String}}, {"comment", Type{Kind: String}}}}
		r.rows = append(r.rows, []any{"_impala_builtins", "System database for Impala builtin functions"})
		for _, n := range cl.listDBs(co.member) {
			c := ""
			if n == "default" {
				c = "Default Hive database"
			}
			r.rows = append(r.rows, []any{n, c})
		}
		r.rows = append(r.rows, []any{"gen", "Generated tables rows_N (impalalb test coordinator)"})
		sort.Slice(r.rows, func(i, j int) bool { return r.rows[i][0].(string) < r.rows[j][0].(string) })
		return r, 0, nil
	case stDescribe:
		cols, _, _, err := co.source(db, st.table)
		if err != nil {
			return nil, 0, err
		}
		r := &rowsResult{cols: []Column{{"name", Type{Kind: String}}, {"type", Type{Kind: String}}, {"comment", Type{Kind: String}}}}
		for _, c := range cols {
			r.rows = append(r.rows, []any{c.Name, c.Type.String(), ""})
		}
		return r, 0, nil
	case stInsert:
		if db == "gen" {
			return nil, 0, analysisError("Unable to INSERT into target table (gen.%s) because it is read-only", st.table)
		}
		t, _ := cl.table(co.member, db, st.table)
		if t == nil {
			return nil, 0, analysisError("Table does not exist: %s", qualified(db, st.table))
		}
		rows := make([][]any, 0, len(st.rows))
		for _, in := range st.rows {
			if len(in) != len(t.cols) {
				more, n := "more", len(in)
				if len(in) > len(t.cols) {
					more = "fewer"
				}
				return nil, 0, analysisError("Target table '%s' has %s columns (%d) than the VALUES clause returns (%d)",
					qualified(db, st.table), more, len(t.cols), n)
			}
			row := make([]any, len(in))
			for i, e := range in {
				if err := analyze(e, &scope{env: &evalEnv{now: localNow(), user: s.user, db: s.db, version: co.cfg.Version}}); err != nil {
					return nil, 0, err
				}
				if e.kind != "lit" {
					return nil, 0, analysisError("only constant expressions are supported in VALUES by the test coordinator")
				}
				v, err := castValue(e.val, e.typ, t.cols[i].Type)
				if err != nil {
					return nil, 0, err
				}
				row[i] = v
			}
			rows = append(rows, row)
		}
		t.rowsMu.Lock()
		t.rows = append(t.rows, rows...)
		t.rowsMu.Unlock()
		op.dml = true
		op.modified = int64(len(rows))
		return nil, 0, nil
	}
	return nil, 0, analysisError("unsupported statement")
}

// source resolves a FROM table: a generated gen.rows_N or a catalog table.
// For a catalog table the rows are a snapshot.
func (co *Coordinator) source(db, name string) (cols []Column, n int64, rows [][]any, err *sqlError) {
	if db == "gen" {
		if rest, ok := strings.CutPrefix(name, "rows_"); ok {
			if v, perr := strconv.ParseInt(rest, 10, 64); perr == nil && v >= 0 && v <= MaxGenRows {
				return genSchema, v, nil, nil
			}
		}
		return nil, 0, nil, analysisError("Could not resolve table reference: '%s'", qualified(db, name))
	}
	t, _ := co.cluster.table(co.member, db, name)
	if t == nil {
		return nil, 0, nil, analysisError("Could not resolve table reference: '%s'", qualified(db, name))
	}
	t.rowsMu.Lock()
	rows = t.rows[:len(t.rows):len(t.rows)]
	t.rowsMu.Unlock()
	return t.cols, int64(len(rows)), rows, nil
}

func (co *Coordinator) runSelect(s *session, st *statement, op *operation) (res result, extra time.Duration, serr *sqlError) {
	// A bug in the expression code fails the statement, not the
	// coordinator (which may be serving a demo or other tests).
	defer func() {
		if r := recover(); r != nil {
			res, extra, serr = nil, 0, analysisError("the test coordinator failed on this statement: %v", r)
		}
	}()
	env := &evalEnv{now: localNow(), user: s.user, db: s.db, version: co.cfg.Version}
	src := &tableSource{n: 1} // without FROM: one row of no columns
	if st.hasFrom {
		db := st.fromDB
		if db == "" {
			db = s.db
		}
		cols, n, rows, err := co.source(db, st.from)
		if err != nil {
			return nil, 0, err
		}
		src = &tableSource{name: qualified(db, st.from), cols: cols, n: n, rows: rows, gen: rows == nil}
	}
	return selectFrom(st, src, env, op)
}

// defaultOptions are the query options listed, with their defaults, by SET
// and beeswax get_default_configuration (impala-shell checks SET's
// arguments against them). Options not listed are accepted too.
var defaultOptions = []struct{ key, value string }{
	{"ABORT_ON_ERROR", "0"},
	{"BATCH_SIZE", "0"},
	{"DEBUG_ACTION", ""},
	{"DEFAULT_FILE_FORMAT", "TEXT"},
	{"DISABLE_CODEGEN", "0"},
	{"EXEC_TIME_LIMIT_S", "0"},
	{"EXPLAIN_LEVEL", "STANDARD"},
	{"FETCH_ROWS_TIMEOUT_MS", "10000"},
	{"IDLE_SESSION_TIMEOUT", "0"},
	{"MAX_ERRORS", "100"},
	{"MEM_LIMIT", "0"},
	{"MT_DOP", ""},
	{"NUM_NODES", "0"},
	{"QUERY_TIMEOUT_S", "0"},
	{"REQUEST_POOL", ""},
	{"RUNTIME_FILTER_MODE", "GLOBAL"},
	{"SPOOL_QUERY_RESULTS", "1"},
	{"SYNC_DDL", "0"},
	{"TIMEZONE", ""},
}

// maxArchived bounds the closed operations kept for profiles and summaries.
const maxArchived = 1024

// archiveLocked keeps a closed operation's profile and summary reachable,
// as Impala's query log does (impala-shell asks for the profile after
// closing the query).
func (co *Coordinator) archiveLocked(op *operation) {
	if co.archive == nil {
		co.archive = map[[16]byte]*operation{}
	}
	if _, ok := co.archive[op.key]; ok {
		return
	}
	if len(co.archiveOrder) >= maxArchived {
		delete(co.archive, co.archiveOrder[0])
		co.archiveOrder = co.archiveOrder[1:]
	}
	co.archive[op.key] = op
	co.archiveOrder = append(co.archiveOrder, op.key)
}
