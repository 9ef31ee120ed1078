package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/impalalb/impalalb/balancer"
	"github.com/impalalb/impalalb/conn"
)

// shell holds the pool, the one session statements run on, and the state
// impala-shell keeps between statements (database, options set, variables,
// the last query). Its commands follow shell/impala_shell/impala_shell.py of
// impala-shell 4.6; see commands.go.
type shell struct {
	opts   *options
	pool   *balancer.Pool[*conn.Session]
	stdout io.Writer // results (without -o), listings, profiles
	stderr io.Writer // messages and errors

	interactive bool
	// sigint, when set, delivers Ctrl-C, which cancels the statement
	// running (not the shell).
	sigint <-chan os.Signal
	// progress, when set, is started for each statement and stopped when
	// it ends (interactive --live_progress / --live_summary).
	progress func(coord string) (update func(*conn.Summary), stop func())

	// mu guards lease and sess, which close may read from another
	// goroutine; statements run on one goroutine.
	mu    sync.Mutex
	lease *balancer.Lease[*conn.Session]
	sess  *conn.Session

	serverVersion string // of the last connection
	webserver     string // the coordinator's web server, "" when unknown

	db     string // current database, "" when none (impala-shell's None)
	dbSet  bool
	setOpt queryOptions // query options sent with each statement (-Q, SET)
	vars   variables    // --var and SET VAR:NAME=VALUE
	// defaultOptions are the coordinator's query options and their levels
	// (SET ALL at connect), to check SET and to list options.
	defaultOptions map[string]string
	optionLevels   map[string]string

	// Shell options, settable with SET as impala-shell's.
	liveProgress, liveSummary bool
	writeDelimited, vertical  bool
	verbose                   bool
	delimiter                 string // as given (impala-shell prints it so)
	outputFile                string
	profileOutput             string
	profileFormat             string

	// wantSummary and wantProfile say whether statements keep their
	// summary and profile for a later summary or profile command (-p, an
	// interactive session, or a script that uses the command).
	wantSummary, wantProfile bool

	queue   []string // statements to run before the script's (-d's USE)
	history *history // interactive history, nil otherwise

	last     *lastQuery // the last statement run, nil when none
	lastUsed time.Time  // when the session last ran a statement
	quit     bool       // quit or exit was run
}

// lastQuery is what the summary and profile commands show.
type lastQuery struct {
	summary *conn.Summary
	profile string
}

// validateAfter is the pause after which the session is pinged before use.
const validateAfter = 30 * time.Second

// versionString is the shell's version line, in the form of impala-shell's
// VERSION_STRING: the impala-shell release it follows, then what built it.
var versionString = "Impala Shell v4.6.0-impalalb (impalalb) built with " + runtime.Version()

// coordinator returns the coordinator of the current session, or "" when
// not connected.
func (sh *shell) coordinator() string {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.lease == nil {
		return ""
	}
	return sh.lease.Coordinator()
}

// connected reports whether the shell holds a session.
func (sh *shell) connected() bool {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.sess != nil
}

// session returns the current session, leasing one when there is none
// (quietly: impala-shell reconnects only interactively, and says so there).
func (sh *shell) session(ctx context.Context) (*conn.Session, error) {
	sh.mu.Lock()
	s := sh.sess
	sh.mu.Unlock()
	// Between statements the session is idle: a coordinator that died or
	// cut the connection shows without a round trip, and nothing is lost
	// by moving to another one.
	if s != nil && s.Alive() {
		// After a long pause, also prove that the coordinator still knows
		// the session (Impala expires idle sessions).
		if time.Since(sh.lastUsed) < validateAfter || s.Ping(ctx) == nil {
			return s, nil
		}
	}
	if s != nil {
		sh.drop(true)
	}
	if sh.interactive {
		fmt.Fprintln(sh.stderr, "Connection lost, reconnecting...")
	}
	return sh.connect(ctx, false)
}

// connect leases a session from the pool and moves it to the current
// database. announce prints impala-shell's connection messages.
func (sh *shell) connect(ctx context.Context, announce bool) (*conn.Session, error) {
	lease, err := sh.pool.Acquire(ctx, "")
	if err != nil {
		return nil, err
	}
	s := lease.Session()
	if !announce && sh.dbSet && sh.db != "" {
		// A new session after a lost one goes back to the database.
		op, err := s.Execute(ctx, "use `"+sh.db+"`", nil)
		if err != nil {
			lease.Discard()
			return nil, err
		}
		_ = op.Close(ctx)
	}
	sh.mu.Lock()
	sh.lease, sh.sess = lease, s
	sh.mu.Unlock()
	sh.lastUsed = time.Now()
	sh.serverVersion, sh.webserver = s.ServerVersion(), s.WebServer()
	if announce {
		c := hostPort(lease.Coordinator())
		sh.verbosef("Opened TCP connection to %s", c)
		sh.verbosef("Connected to %s", c)
		sh.verbosef("Server version: %s", sh.serverVersion)
	}
	return s, nil
}

// hostPort prints an address as impala-shell does ("%s:%s"): an IPv6 host
// without brackets.
func hostPort(addr string) string {
	return strings.NewReplacer("[", "", "]", "").Replace(addr)
}

// drop gives the current session back to the pool, or closes it when it is
// broken or its state unknown.
func (sh *shell) drop(discard bool) {
	sh.mu.Lock()
	l := sh.lease
	sh.lease, sh.sess = nil, nil
	sh.mu.Unlock()
	if l == nil {
		return
	}
	if discard {
		l.Discard()
	} else {
		l.Release()
	}
}

// close releases the session and closes the pool.
func (sh *shell) close() {
	sh.drop(false)
	_ = sh.pool.Close()
}

// verbosef prints a message to stderr unless --quiet (impala-shell's
// _print_if_verbose).
func (sh *shell) verbosef(format string, args ...any) {
	if sh.verbose {
		fmt.Fprintf(sh.stderr, format+"\n", args...)
	}
}

// logError prints an error as impala-shell's log_exception_with_timestamp
// does: "<time> [<kind>] <msg> <error>".
func (sh *shell) logError(kind, msg, err string) {
	fmt.Fprintf(sh.stderr, "%s [%s] %s %s\n", time.Now().Format("2006-01-02 15:04:05"), kind, msg, err)
}

// writeOutput prints formatted results as impala-shell's OutputStream: to
// stdout, or appended to the output file (falling back to stderr when it
// cannot be opened).
func (sh *shell) writeOutput(data string) {
	if sh.outputFile == "" {
		fmt.Fprint(sh.stdout, data+"\n")
		return
	}
	f, err := os.OpenFile(sh.outputFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o666) //nolint:gosec // G302: the user's output file, made as impala-shell (Python's open) makes it: 0666 less the umask
	if err == nil {
		_, err = io.WriteString(f, data+"\n")
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintf(sh.stderr, "Error opening file %s: %s (falling back to stderr)\n", sh.outputFile, pyOSError(err))
		fmt.Fprintln(sh.stderr, data)
	}
}

// progressLineRE is the progress line Impala adds to an HS2 log, which
// impala-shell removes before printing warnings.
var progressLineRE = regexp.MustCompile(`Query.*Complete \([0-9]* out of [0-9]*\)\n`)

// execStmt runs a statement on the coordinator and prints its result, as
// impala-shell's _execute_stmt: the query, the web UI link, the rows, the
// warnings, the row count and, with -p, the profile.
func (sh *shell) execStmt(ctx context.Context, query string, isDML, webLink bool) status {
	sh.verbosef("Query: %s", query)
	if sh.webserver == "" {
		webLink = false
	}
	if webLink {
		sh.verbosef("Query submitted at: %s (Coordinator: %s)", time.Now().Format("2006-01-02 15:04:05"), sh.webserver)
	}
	start := time.Now()
	sh.last = nil
	s, err := sh.session(ctx)
	if err != nil {
		sh.logError("Exception", "", "ERROR: "+connectMessage(err))
		return failed
	}
	defer func() { sh.lastUsed = time.Now() }()
	ectx := ctx
	if webLink && sh.verbose {
		web := sh.webserver
		ectx = conn.WithStatementStarted(ectx, func(st conn.StatementStarted) {
			sh.verbosef("Query state can be monitored at: %s/query_plan?query_id=%s", web, st.QueryID)
		})
	}
	var stop func()
	if sh.progress != nil && (sh.liveProgress || sh.liveSummary) {
		var update func(*conn.Summary)
		update, stop = sh.progress(s.Addr())
		ectx = conn.WithProgress(ectx, time.Second, update)
	}
	op, err := s.Execute(ectx, query, sh.setOpt.clone())
	if stop != nil {
		stop()
	}
	if err != nil {
		return sh.statementError(ctx, err)
	}
	lq := &lastQuery{}
	sh.last = lq
	closed := false
	closeOp := func() error {
		if closed {
			return nil
		}
		closed = true
		return op.Close(ctx)
	}
	defer func() { _ = closeOp() }()

	hasResult := op.HasResultSet()
	if sh.opts.protocol == conn.Beeswax {
		// Beeswax does not say; impala-shell guesses from the text.
		hasResult = !strings.HasPrefix(strings.ToLower(query), "use")
	}
	if !isDML && !hasResult {
		sh.keepSummary(ctx, op, lq)
		if err := closeOp(); err != nil {
			return sh.statementError(ctx, err)
		}
		if !strings.HasPrefix(strings.ToLower(query), "use") {
			if sh.opts.beeswaxCompatNumRows {
				sh.verbosef("Fetched 0 row(s) in %.2fs", time.Since(start).Seconds())
			} else {
				sh.verbosef("Time elapsed: %.2fs", time.Since(start).Seconds())
			}
		}
		return ok
	}
	var rows int64
	if !isDML {
		if rows, err = sh.printRows(ctx, op); err != nil {
			return sh.statementError(ctx, err)
		}
	}
	warnings := ""
	if l, err := op.Log(ctx); err == nil {
		l = progressLineRE.ReplaceAllString(l, "")
		if strings.TrimFunc(l, isPySpace) != "" {
			warnings = "WARNINGS: " + l
		}
	}
	sh.keepSummary(ctx, op, lq)
	if isDML {
		if err := closeOp(); err != nil {
			return sh.statementError(ctx, err)
		}
	}
	if warnings != "" {
		sh.verbosef("%s", warnings)
	}
	elapsed := time.Since(start).Seconds()
	if isDML {
		if !sh.reportDML(op, elapsed) {
			return failed
		}
	} else {
		sh.verbosef("Fetched %d row(s) in %.2fs", rows, elapsed)
		if err := closeOp(); err != nil {
			return sh.statementError(ctx, err)
		}
	}
	if sh.opts.showProfiles {
		sh.printProfile(lq.profile)
	}
	return ok
}

// reportDML prints the rows a DML statement changed; false when the
// coordinator did not say.
func (sh *shell) reportDML(op *conn.Operation, elapsed float64) bool {
	r, ok := op.DMLResult()
	if !ok {
		sh.logError("Exception", "", "Impala DML operation did not return DML statistics.")
		return false
	}
	verb, n := "Modified", r.Modified
	if r.Modified == 0 && r.HasDeleted && r.Deleted > 0 {
		verb, n = "Deleted", r.Deleted
	}
	errs := ""
	if r.HasRowErrors {
		errs = fmt.Sprintf(", %d row error(s)", r.RowErrors)
	}
	sh.verbosef("%s %d row(s)%s in %.2fs", verb, n, errs, elapsed)
	return true
}

// keepSummary keeps the statement's summary and profile for the summary
// and profile commands and -p, while the operation is open.
func (sh *shell) keepSummary(ctx context.Context, op *conn.Operation, lq *lastQuery) {
	if sh.wantSummary {
		if sum, err := op.Summary(ctx); err == nil {
			lq.summary = sum
		}
	}
	if sh.wantProfile || sh.opts.showProfiles {
		if p, err := op.Profile(ctx); err == nil {
			lq.profile = p
		}
	}
}

// printProfile prints a profile as impala-shell does, to stdout or
// --profile_output; nothing for an empty one.
func (sh *shell) printProfile(p string) {
	if p == "" {
		return
	}
	text := "Query Runtime Profile:\n" + p + "\n"
	if sh.profileOutput == "" {
		fmt.Fprint(sh.stdout, text)
		return
	}
	f, err := os.OpenFile(sh.profileOutput, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o666) //nolint:gosec // G302: as the output file
	if err == nil {
		_, err = io.WriteString(f, text)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintf(sh.stderr, "%s\n", pyOSError(err))
	}
}

// printRows writes the rows of op batch by batch as impala-shell does (a
// table per batch, or -B, or -E) and returns their number.
func (sh *shell) printRows(ctx context.Context, op *conn.Operation) (int64, error) {
	cols := op.Columns()
	header := make([]string, len(cols))
	for i, c := range cols {
		header[i] = c.Name
	}
	var delim rune
	if sh.writeDelimited {
		d, ok := unescapeDelimiter(sh.delimiter)
		if !ok {
			// impala-shell checks -B's delimiter at start; a SET DELIMITER
			// is checked here.
			return 0, fmt.Errorf("illegal delimiter %s, the delimiter must be a 1-character string", d)
		}
		delim = []rune(d)[0]
		if sh.opts.printHeader {
			sh.writeOutput(delimited([][]string{header}, delim))
		}
	}
	var n int64
	for {
		b, err := op.Next(ctx)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		rows := batchRows(b)
		if len(rows) == 0 {
			continue
		}
		switch {
		case sh.writeDelimited:
			sh.writeOutput(delimited(rows, delim))
		case sh.vertical:
			sh.writeOutput(vertical(header, rows))
		default:
			sh.writeOutput(sh.pretty(header, rows))
		}
		n += int64(len(rows))
	}
}

// pretty renders one batch as a table, or, when a beeswax row has more
// fields than the result has columns (a value held a tab), as
// impala-shell falls back: a message and the rows as sent.
func (sh *shell) pretty(header []string, rows [][]string) string {
	for _, r := range rows {
		if len(r) != len(header) {
			fmt.Fprintln(sh.stderr, "Prettytable cannot resolve string columns values that have embedded tabs. Reverting to tab delimited text output")
			fmt.Fprintf(sh.stderr, "<class 'Exception'>: Row has incorrect number of values, (actual) %d!=%d (expected)\n", len(r), len(header))
			lines := make([]string, len(rows))
			for i, r := range rows {
				lines[i] = strings.Join(r, "\t")
			}
			return strings.Join(lines, "\n")
		}
	}
	return prettyTable(header, rows)
}

// batchRows converts a batch into text rows as impala-shell does: beeswax
// rows split at tabs; HS2 values by type (see output.go).
func batchRows(b *conn.Batch) [][]string {
	if text := b.TextRows(); text != nil {
		rows := make([][]string, len(text))
		for i, t := range text {
			rows[i] = strings.Split(t, "\t")
		}
		return rows
	}
	rows := make([][]string, b.Len())
	for r := range rows {
		row := make([]string, b.NumColumns())
		for c := range row {
			row[c] = formatCell(b, c, r)
		}
		rows[r] = row
	}
	return rows
}

// nullText is how impala-shell prints NULL.
const nullText = "NULL"

// formatCell returns an HS2 cell as impala-shell prints it.
func formatCell(b *conn.Batch, col, row int) string {
	if b.IsNull(col, row) {
		return nullText
	}
	switch c := b.Column(col); c.Type {
	case conn.TypeNull:
		return nullText
	case conn.TypeBoolean:
		if b.Bool(col, row) {
			return "true"
		}
		return "false"
	case conn.TypeTinyInt, conn.TypeSmallInt, conn.TypeInt, conn.TypeBigInt:
		return fmt.Sprint(b.Int64(col, row))
	case conn.TypeFloat, conn.TypeDouble:
		return pyFloat(b.Float64(col, row))
	case conn.TypeBinary:
		return pyUTF8(b.Bytes(col, row))
	default:
		return b.String(col, row)
	}
}

// statementError prints a failed statement's error as impala-shell does and
// gives up a session that can no longer be used.
func (sh *shell) statementError(ctx context.Context, err error) status {
	sh.mu.Lock()
	keep := sh.sess != nil && !sh.sess.Broken() &&
		(errors.Is(err, conn.ErrOperationFailed) || errors.Is(err, conn.ErrOperationCanceled) || ctx.Err() != nil)
	sh.mu.Unlock()
	if !keep {
		sh.drop(true)
	}
	if ctx.Err() != nil || errors.Is(err, context.Canceled) {
		sh.logError("Warning", "Query Interrupted", "")
		return ok
	}
	sh.logError("Exception", "", "ERROR: "+impalaMessage(err))
	return failed
}

// impalaMessage is what Impala said, or the error when it said nothing.
func impalaMessage(err error) string {
	var ce *conn.Error
	if errors.As(err, &ce) {
		if ce.Message != "" {
			return ce.Message
		}
		if ce.Err != nil {
			return string(ce.Op) + ": " + ce.Err.Error()
		}
	}
	return err.Error()
}

// connectMessage says briefly why a session could not be opened: the step,
// the coordinator and the root cause, or what Impala said.
func connectMessage(err error) string {
	var ce *conn.Error
	if !errors.As(err, &ce) {
		return err.Error()
	}
	if ce.Message != "" {
		return string(ce.Op) + " " + ce.Addr + ": " + ce.Message
	}
	cause := ce.Err
	for cause != nil {
		next := errors.Unwrap(cause)
		if next == nil {
			break
		}
		cause = next
	}
	if cause == nil {
		return err.Error()
	}
	return string(ce.Op) + " " + ce.Addr + ": " + cause.Error()
}

// pyOSError prints an OS error as Python's str() of it does:
// "[Errno 2] No such file or directory: 'name'".
func pyOSError(err error) string {
	var pe *os.PathError
	var errno syscall.Errno
	if errors.As(err, &pe) && errors.As(pe.Err, &errno) {
		return fmt.Sprintf("[Errno %d] %s: '%s'", int(errno), capitalize(errno.Error()), pe.Path)
	}
	if errors.As(err, &errno) {
		return fmt.Sprintf("[Errno %d] %s", int(errno), capitalize(errno.Error()))
	}
	return err.Error()
}

// capitalize upper-cases the first letter, as C's strerror spells what Go's
// errno strings spell in lower case.
func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// describeCoordinators lists the pool's coordinators with their state.
func describeCoordinators(p *balancer.Pool[*conn.Session]) string {
	st := p.Stats()
	parts := make([]string, 0, len(st.Coordinators))
	for _, c := range st.Coordinators {
		parts = append(parts, c.Addr+" ("+c.State.String()+")")
	}
	return strings.Join(parts, ", ")
}
