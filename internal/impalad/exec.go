package impalad

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sort"
	"strconv"
	"strings"
	"time"
)

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

// resultCacheOption is the HS2 overlay key clients use to ask for a result
// cache (IMPALA_RESULT_CACHING_OPT in be/src/service/impala-hs2-server.cc):
// not a query option.
const resultCacheOption = "impala.resultset.cache.size"

// statementOptions returns the query options a statement runs with: the
// session's, overlaid with the statement's own, each checked as
// SetQueryOption does (an unknown name or a bad value fails the statement
// before it gets a query id, as TExecuteStatementReqToTQueryContext does).
func statementOptions(s *session, overlay map[string]string) (map[string]string, *sqlError) {
	opts := maps.Clone(s.opts)
	for k, v := range overlay {
		if strings.EqualFold(k, resultCacheOption) {
			if _, err := strconv.ParseInt(v, 10, 64); err != nil {
				return nil, &sqlError{msg: "Invalid value '" + v + "' for '" + resultCacheOption + "' option.", sqlState: "HY000"}
			}
			continue
		}
		name, norm, ok, err := checkOption(k, v)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		if norm == "" {
			delete(opts, name)
		} else {
			opts[name] = norm
		}
	}
	return opts, nil
}

// executeLocked parses and runs one statement for s. Side effects (DDL,
// INSERT, SET, USE) happen now; the operation then stays RUNNING until its
// simulated work is done. A statement that fails to run still has a query
// id (Impala registers the query before it plans it): id is set with err,
// except for a bad option overlay, which fails before.
func (co *Coordinator) executeLocked(s *session, text string, overlay map[string]string) (op *operation, id string, err *sqlError) {
	opts, err := statementOptions(s, overlay)
	if err != nil {
		co.rejected.Add(1)
		return nil, "", err
	}
	// The database the statement is analysed in (a USE changes it as it
	// runs).
	db := s.db
	now := time.Now()
	op = &operation{sess: s, text: text, opts: opts, started: now, lastActive: now, cancelled: make(chan struct{})}
	op.key, op.id = newID()
	op.secret = newSecret()
	// ImpalaServer::ExecuteInternal: MAX_STATEMENT_LENGTH_EXCEEDED.
	if max, _ := strconv.Atoi(optionValue(opts, "max_statement_length_bytes")); max > 0 && len(text) > max {
		co.rejected.Add(1)
		return nil, op.id, &sqlError{msg: fmt.Sprintf("Statement length of %d bytes exceeds the maximum statement length (%d bytes)", len(text), max), sqlState: "HY000"}
	}
	var (
		res   result
		extra time.Duration
	)
	if fn, fnArgs, admin := adminFn(text); admin {
		// ":shutdown()" and the other administrative functions
		// (shutdown.go).
		res, err = co.runAdminFnLocked(fn, fnArgs)
	} else {
		var st *statement
		if st, err = parse(text); err == nil {
			res, extra, err = co.run(s, st, op)
		}
	}
	if err != nil {
		co.rejected.Add(1)
		return nil, op.id, err
	}
	op.res = res
	// Measured from after the statement's side effects, so a SYNC_DDL
	// statement finishes only once its catalog change reached every
	// coordinator.
	op.readyAt = time.Now().Add(co.cfg.ServiceTime + extra)
	if op.failMsg != "" && op.errAt.IsZero() {
		op.errAt = op.readyAt
	}
	co.ops[op.key] = op
	s.ops[op] = struct{}{}
	co.executed.Add(1)
	if co.log != nil {
		// As Frontend.getTExecRequest's "Analyzing query: <stmt> db:
		// <db>" (fe/src/main/java/org/apache/impala/service/Frontend.java),
		// with the query options set by configuration of the profile
		// (ClientRequestState, be/src/service/client-request-state.cc) and
		// the ids of the query and its session.
		co.debug("query registered", slog.String("query_id", op.id), slog.String("session_id", s.id),
			slog.String("db", db), slog.String("query_options", optionsText(opts)), slog.String("stmt", text))
	}
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
	return op, op.id, nil
}

// optionsText prints query options as the profile's "Query Options (set
// by configuration)" line does (DebugQueryOptions,
// be/src/service/query-options.cc): NAME=value, comma-separated, here in
// name order.
func optionsText(opts map[string]string) string {
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strings.ToUpper(k))
		b.WriteByte('=')
		b.WriteString(opts[k])
	}
	return b.String()
}

func summary(msg string) result {
	return &rowsResult{cols: []Column{{"summary", Type{Kind: String}}}, rows: [][]any{{msg}}}
}

func qualified(db, t string) string { return db + "." + t }

// setColumns are the columns of SET's result set (Frontend.createExecRequest,
// fe/src/main/java/org/apache/impala/service/Frontend.java).
var setColumns = []Column{{"option", Type{Kind: String}}, {"value", Type{Kind: String}}, {"level", Type{Kind: String}}}

// serverOptions returns set over the coordinator's own defaults: those of
// the flags (DefaultQueryOptions in be/src/service/query-options.cc sets
// IDLE_SESSION_TIMEOUT from --idle_session_timeout).
func (co *Coordinator) serverOptions(set map[string]string) map[string]string {
	out := map[string]string{"idle_session_timeout": strconv.FormatInt(int64(co.cfg.IdleSessionTimeout/time.Second), 10)}
	maps.Copy(out, set)
	return out
}

// run executes st; it returns the result (nil when the statement has no
// result set) and extra simulated time.
//
//nolint:gocognit // one case per statement kind, each short: a dispatcher read best as one switch
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
		// As ClientRequestState::Exec for TStmtType::SET
		// (be/src/service/client-request-state.cc): SET k=v and UNSET ALL
		// answer an empty result set, SET and SET ALL list the options.
		r := &rowsResult{cols: setColumns}
		switch st.setMode {
		case setOne:
			if err := s.setOption(st.setKey, st.setValue); err != nil {
				return nil, 0, err
			}
		case unsetAll:
			// ResetAllQueryOptions: every option the session set, the
			// ones of OpenSession included.
			clear(s.opts)
		default:
			r.rows = optionRows(co.serverOptions(op.opts), st.setMode == setAll)
		}
		return r, 0, nil
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
		// As DropDbStmt.analyze (fe/.../analysis/DropDbStmt.java): the
		// session's current database cannot be dropped.
		if st.db == s.db && cl.hasDB(co.member, st.db) {
			return nil, 0, analysisError("Cannot drop current default database: %s", st.db)
		}
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
		if st.meta.format == icebergFormat {
			if err := checkIcebergCreate(st); err != nil {
				return nil, 0, err
			}
		}
		switch err := cl.createTable(co.member, db, st.table, st.cols, st.meta); {
		case errors.Is(err, errNotFound):
			return nil, 0, analysisError("Database does not exist: %s", db)
		case errors.Is(err, errExists):
			if st.ifExists {
				return summary("Table already exists."), 0, nil
			}
			// TableDef.analyze (fe/.../analysis/TableDef.java) names the
			// table fully qualified.
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
	case stShowCreateTable:
		if db == "gen" {
			return nil, 0, unsupported("SHOW CREATE TABLE of the generated table %s", qualified(db, st.table))
		}
		t, _ := cl.table(co.member, db, st.table)
		if t == nil {
			// ShowCreateTableStmt.analyze: the table fully qualified.
			return nil, 0, analysisError("Table does not exist: %s", qualified(db, st.table))
		}
		if t.meta.format == icebergFormat {
			// ToSqlUtils prints an Iceberg table with the properties its
			// catalog adds, which the test coordinator does not keep.
			return nil, 0, unsupported("SHOW CREATE TABLE of the Iceberg table %s", qualified(db, st.table))
		}
		return &rowsResult{cols: []Column{{"result", Type{Kind: String}}}, rows: [][]any{{createTableSQL(t)}}}, 0, nil
	case stDescribe:
		// DescribeTableStmt resolves the path as written.
		cols, _, _, err := co.source(db, st.table, rawName(st.db, st.table), "path")
		if err != nil {
			return nil, 0, err
		}
		var comments []string
		iceberg := false
		if t, _ := cl.table(co.member, db, st.table); t != nil {
			comments = t.meta.colComments
			iceberg = t.meta.format == icebergFormat
		}
		r := &rowsResult{cols: []Column{{"name", Type{Kind: String}}, {"type", Type{Kind: String}}, {"comment", Type{Kind: String}}}}
		if iceberg {
			// Frontend.createExecRequest adds "nullable" for an Iceberg
			// table, DescribeResultFactory.buildIcebergDescribeMinimalResult
			// fills it; every column here is nullable (no NOT NULL).
			r.cols = append(r.cols, Column{"nullable", Type{Kind: String}})
		}
		for i, c := range cols {
			comment := ""
			if i < len(comments) {
				comment = comments[i]
			}
			row := []any{c.Name, c.Type.String(), comment}
			if iceberg {
				row = append(row, "true")
			}
			r.rows = append(r.rows, row)
		}
		return r, 0, nil
	case stInsert:
		return co.runInsert(s, st, db, op)
	case stDelete:
		return co.runDelete(s, st, db, op)
	}
	return nil, 0, unsupported("this statement")
}

// source resolves a FROM table (or DESCRIBE's path): a generated
// gen.rows_N or a catalog table, whose rows are a snapshot. An unknown one
// is Impala's "Could not resolve <what>: '<name as written>'"
// (Analyzer.resolvePaths, fe/.../analysis/Analyzer.java).
func (co *Coordinator) source(db, name, written, what string) (cols []Column, n int64, rows [][]any, err *sqlError) {
	if db == "gen" {
		if rest, ok := strings.CutPrefix(name, "rows_"); ok {
			if v, perr := strconv.ParseInt(rest, 10, 64); perr == nil && v >= 0 && v <= MaxGenRows {
				return genSchema, v, nil, nil
			}
		}
		return nil, 0, nil, analysisError("Could not resolve %s: '%s'", what, written)
	}
	t, _ := co.cluster.table(co.member, db, name)
	if t == nil {
		return nil, 0, nil, analysisError("Could not resolve %s: '%s'", what, written)
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
			res, extra, serr = nil, 0, unsupported("the test coordinator failed on this statement: %v", r)
		}
	}()
	env := co.evalEnv(s)
	src := &tableSource{n: 1} // without FROM: one row of no columns
	if st.hasFrom {
		db := st.fromDB
		if db == "" {
			db = s.db
		}
		cols, n, rows, err := co.source(db, st.from, rawName(st.fromDB, st.from), "table reference")
		if err != nil {
			return nil, 0, err
		}
		src = &tableSource{name: qualified(db, st.from), cols: cols, n: n, rows: rows, gen: rows == nil}
	}
	return selectFrom(st, src, env, op)
}

func (co *Coordinator) evalEnv(s *session) *evalEnv {
	return &evalEnv{now: localNow(), user: s.user, db: s.db, version: co.cfg.Version}
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
