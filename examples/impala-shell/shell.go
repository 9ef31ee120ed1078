package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/impalalb/impalalb/balancer"
	"github.com/impalalb/impalalb/conn"
)

// errQuit is returned by runStatement for quit and exit.
var errQuit = errors.New("quit")

// shell holds the pool and the one session statements run on.
type shell struct {
	opts    *options
	pool    *balancer.Pool[*conn.Session]
	out     io.Writer // results: stdout or -o
	info    io.Writer // messages: stderr
	profOut io.Writer // profiles: stdout, as impala-shell prints them

	// progress, when set, is started for each statement and stopped when
	// it ends (interactive mode only).
	progress func(coord string) (update func(float64), stop func())

	// mu guards lease and sess, which Close may read from another
	// goroutine; statements run on one goroutine.
	mu    sync.Mutex
	lease *balancer.Lease[*conn.Session]
	sess  *conn.Session

	db          string        // current database (after USE)
	setOpts     queryOptions  // options of the set command, sent with each statement
	vars        variables     // of --var and SET VAR:NAME=VALUE
	lastSummary *conn.Summary // of the last statement
	lastProfile string        // of the last statement
	lastCoord   string        // where the last statement ran
	lastUsed    time.Time     // when the session last ran a statement
}

// validateAfter is the pause after which the session is pinged before use.
const validateAfter = 30 * time.Second

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

// session returns the current session, leasing one when there is none.
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
	return sh.connect(ctx)
}

// connect leases a session from the pool and moves it to the current
// database.
func (sh *shell) connect(ctx context.Context) (*conn.Session, error) {
	lease, err := sh.pool.Acquire(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("cannot connect to %s: %s", describeCoordinators(sh.pool), connectMessage(err))
	}
	s := lease.Session()
	if sh.db != "" && sh.db != sh.opts.database {
		op, err := s.Execute(ctx, "use "+sh.db, nil)
		if err != nil {
			lease.Discard()
			return nil, fmt.Errorf("[%s] use %s: %s", lease.Coordinator(), sh.db, impalaMessage(err))
		}
		_ = op.Close(ctx)
	}
	sh.mu.Lock()
	sh.lease, sh.sess = lease, s
	sh.mu.Unlock()
	sh.lastUsed = time.Now()
	if !sh.opts.quiet {
		fmt.Fprintf(sh.info, "Connected to %s\n", lease.Coordinator())
		if sh.opts.verbose {
			fmt.Fprintf(sh.info, "Server version: %s\n", s.ServerVersion())
		}
	}
	return s, nil
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

// prepare turns a statement as typed (comments included, no ';') into the
// text to run: variables substituted, as impala-shell does, in the whole
// text, comments and string literals included; then comments removed. An
// empty result means nothing to run.
func (sh *shell) prepare(raw string) (string, error) {
	s, err := sh.vars.substitute(raw)
	if err != nil {
		return "", err
	}
	return stripComments(s), nil
}

// runStatement runs one statement or shell command. The error is one line,
// ready to print after "ERROR: ".
func (sh *shell) runStatement(ctx context.Context, stmt string) error {
	word, arg := firstWord(stmt)
	switch word {
	case "quit", "exit":
		return errQuit
	case "help":
		fmt.Fprintln(sh.info, "Shell commands: connect [host:port,...], set [KEY=VALUE | VAR:NAME=VALUE], unset KEY | VAR:NAME, summary, profile, quit, exit.\n"+
			"Other statements end with ';' and run on the coordinator shown in the prompt; ${VAR:NAME} in them is replaced by the variable's value.")
		return nil
	case "connect":
		return sh.cmdConnect(ctx, arg)
	case "set":
		return sh.cmdSet(arg)
	case "unset":
		k := strings.ToUpper(strings.TrimSpace(arg))
		if name, ok := varName(k); ok {
			if _, set := sh.vars[name]; !set {
				fmt.Fprintf(sh.info, "No variable %s is set\n", name)
				return nil
			}
			delete(sh.vars, name)
			fmt.Fprintf(sh.info, "Unset variable %s\n", name)
			return nil
		}
		if !sh.setOpts.unset(k) {
			return fmt.Errorf("no option %s was set", k)
		}
		fmt.Fprintf(sh.info, "Unset query option %s\n", k)
		return nil
	case "summary":
		return sh.cmdSummary()
	case "profile":
		if sh.lastProfile == "" {
			return errors.New("no profile: run a statement first")
		}
		sh.printProfile()
		return nil
	}
	return sh.execute(ctx, stmt, word == "use", arg)
}

func (sh *shell) cmdConnect(ctx context.Context, arg string) error {
	arg = strings.TrimSpace(arg)
	if arg != "" {
		port := "21050"
		if sh.opts.protocol == conn.Beeswax {
			port = "21000"
		}
		addrs, err := parseImpalads(arg, port)
		if err != nil {
			return err
		}
		if err := sh.pool.SetCoordinators(addrs); err != nil {
			return err
		}
	}
	sh.drop(false)
	_, err := sh.connect(ctx)
	return err
}

func (sh *shell) cmdSet(arg string) error {
	arg = strings.TrimSpace(arg)
	if arg == "" || strings.EqualFold(arg, "all") {
		keys := append([]string(nil), sh.opts.queryOptions.keys...)
		sort.Strings(keys)
		fmt.Fprintln(sh.out, "Query options of the session (--query_option):")
		for _, k := range keys {
			fmt.Fprintf(sh.out, "\t%s: %s\n", k, sh.opts.queryOptions.vals[k])
		}
		fmt.Fprintln(sh.out, "Query options set in the shell (sent with each statement):")
		for _, k := range sh.setOpts.keys {
			fmt.Fprintf(sh.out, "\t%s: %s\n", k, sh.setOpts.vals[k])
		}
		fmt.Fprintln(sh.out, "Variables:")
		if len(sh.vars) == 0 {
			fmt.Fprintln(sh.out, "\tNo variables defined.")
		}
		for _, k := range sh.vars.sortedNames() {
			fmt.Fprintf(sh.out, "\t%s: %s\n", k, sh.vars[k])
		}
		return nil
	}
	k, v, ok := strings.Cut(arg, "=")
	k = strings.ToUpper(strings.TrimSpace(k))
	if name, isVar := varName(k); isVar {
		// The value is kept as typed, quotes included: it is pasted into
		// statements.
		v = strings.TrimSpace(v)
		if !ok || name == "" || strings.ContainsAny(name, "}$ \t\n") {
			return fmt.Errorf("set: want VAR:NAME=VALUE, got %q", arg)
		}
		sh.vars[name] = v
		fmt.Fprintf(sh.info, "Variable %s set to %s\n", name, v)
		return nil
	}
	v = strings.Trim(strings.TrimSpace(v), `'"`)
	if !ok || k == "" {
		return fmt.Errorf("set: want KEY=VALUE or VAR:NAME=VALUE, got %q", arg)
	}
	sh.setOpts.set(k, v)
	fmt.Fprintf(sh.info, "%s set to %s\n", k, v)
	return nil
}

func (sh *shell) cmdSummary() error {
	s := sh.lastSummary
	if s == nil {
		return errors.New("no summary: run a statement first")
	}
	fmt.Fprintf(sh.out, "Summary of the last statement (on %s): state %s, scan ranges %d/%d (%.0f%%), %d plan node(s)\n",
		sh.lastCoord, s.State, s.CompletedScanRanges, s.TotalScanRanges, 100*s.Progress(), s.Nodes)
	if s.Queued {
		fmt.Fprintf(sh.out, "Queued: %s\n", s.QueuedReason)
	}
	for _, l := range s.ErrorLogs {
		fmt.Fprintf(sh.out, "Error log: %s\n", oneLine(l))
	}
	return nil
}

// execute sends a statement to the coordinator and prints its result.
func (sh *shell) execute(ctx context.Context, stmt string, isUse bool, useArg string) error {
	s, err := sh.session(ctx)
	if err != nil {
		return err
	}
	coord := s.Addr()
	start := time.Now()
	defer func() { sh.lastUsed = time.Now() }()
	var stop func()
	ectx := ctx
	if sh.progress != nil {
		var update func(float64)
		update, stop = sh.progress(coord)
		// The bar follows the coordinator's exec summary (scan ranges
		// done); without scan ranges it sweeps.
		ectx = conn.WithProgress(ctx, 250*time.Millisecond, func(sum *conn.Summary) {
			if sum.TotalScanRanges > 0 {
				update(sum.Progress())
			} else {
				update(-1)
			}
		})
	}
	if sh.opts.verbose && !sh.opts.quiet {
		web := s.WebServer()
		ectx = conn.WithStatementStarted(ectx, func(st conn.StatementStarted) {
			fmt.Fprintf(sh.info, "Query ID: %s on %s\n", st.QueryID, st.Addr)
			if web != "" {
				fmt.Fprintf(sh.info, "Query progress can be monitored at: %s/query_plan?query_id=%s\n", web, st.QueryID)
			}
		})
	}
	op, err := s.Execute(ectx, stmt, sh.setOpts.clone())
	if stop != nil {
		stop()
	}
	if err != nil {
		return sh.statementError(ctx, coord, err)
	}
	var rows int64
	if op.HasResultSet() {
		rows, err = sh.printRows(ctx, op)
		if err != nil {
			_ = op.Close(context.WithoutCancel(ctx))
			return sh.statementError(ctx, coord, err)
		}
	}
	sh.lastCoord = coord
	if sum, err := op.Summary(ctx); err == nil {
		sh.lastSummary = sum
	}
	gotProfile := false
	if p, err := op.Profile(ctx); err == nil {
		sh.lastProfile, gotProfile = p, true
	}
	if err := op.Close(ctx); err != nil {
		return sh.statementError(ctx, coord, err)
	}
	if isUse {
		sh.db = strings.Trim(strings.TrimSpace(useArg), "`")
	}
	modified := false
	if n := op.RowsAffected(); n >= 0 {
		rows, modified = n, true
	}
	if !sh.opts.quiet {
		fmt.Fprintln(sh.info, fetchedLine(rows, modified, time.Since(start)))
	}
	// As impala-shell: queries and DML, not statements such as USE.
	if sh.opts.showProfiles && gotProfile && (op.HasResultSet() || modified) {
		sh.printProfile()
	}
	return nil
}

// printProfile prints the profile of the last statement.
func (sh *shell) printProfile() {
	fmt.Fprintf(sh.profOut, "Query Runtime Profile (from %s):\n%s\n", sh.lastCoord, strings.TrimRight(sh.lastProfile, "\n"))
}

// printRows writes the rows of op as -B or a table, and returns their number.
func (sh *shell) printRows(ctx context.Context, op *conn.Operation) (int64, error) {
	cols := op.Columns()
	header := make([]string, len(cols))
	for i, c := range cols {
		header[i] = c.Name
	}
	var table *tableWriter
	if sh.opts.delimited {
		if sh.opts.printHeader {
			if err := writeDelimited(sh.out, header, sh.opts.outputDelimiter); err != nil {
				return 0, err
			}
		}
	} else {
		table = &tableWriter{header: header}
	}
	var n int64
	for {
		b, err := op.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return n, err
		}
		for r := 0; r < b.Len(); r++ {
			row := make([]string, b.NumColumns())
			for c := range row {
				row[c] = formatCell(b, c, r)
			}
			if table != nil {
				table.add(row)
			} else if err := writeDelimited(sh.out, row, sh.opts.outputDelimiter); err != nil {
				return n, err
			}
			n++
		}
	}
	if table != nil && len(cols) > 0 {
		if err := table.write(sh.out); err != nil {
			return n, err
		}
	}
	return n, nil
}

// statementError turns a failed statement into one line naming the
// coordinator, and gives up a session that can no longer be used.
func (sh *shell) statementError(ctx context.Context, coord string, err error) error {
	// Keep the session after an error of the statement itself; give it up
	// when the connection or the session failed.
	sh.mu.Lock()
	keep := sh.sess != nil && !sh.sess.Broken() &&
		(errors.Is(err, conn.ErrOperationFailed) || errors.Is(err, conn.ErrOperationCanceled) || ctx.Err() != nil)
	sh.mu.Unlock()
	if !keep {
		sh.drop(true)
	}
	if ctx.Err() != nil || errors.Is(err, context.Canceled) {
		return &cancelError{coord: coord}
	}
	return fmt.Errorf("[%s] %s", coord, impalaMessage(err))
}

// cancelError reports a statement cancelled by Ctrl-C.
type cancelError struct{ coord string }

func (e *cancelError) Error() string {
	return fmt.Sprintf("[%s] statement cancelled", e.coord)
}

// impalaMessage is what Impala said, or the error when it said nothing.
func impalaMessage(err error) string {
	var ce *conn.Error
	if errors.As(err, &ce) {
		if ce.Message != "" {
			return oneLine(ce.Message)
		}
		if ce.Err != nil {
			return oneLine(string(ce.Op) + ": " + ce.Err.Error())
		}
	}
	return oneLine(err.Error())
}

// connectMessage says briefly why a session could not be opened: the step,
// the coordinator and the root cause, or what Impala said.
func connectMessage(err error) string {
	var ce *conn.Error
	if !errors.As(err, &ce) {
		return oneLine(err.Error())
	}
	if ce.Message != "" {
		return oneLine(string(ce.Op) + " " + ce.Addr + ": " + ce.Message)
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
		return oneLine(err.Error())
	}
	return oneLine(string(ce.Op) + " " + ce.Addr + ": " + cause.Error())
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

// firstWord returns the lower-cased first word of a statement and the rest.
func firstWord(stmt string) (string, string) {
	stmt = strings.TrimSpace(stmt)
	i := strings.IndexFunc(stmt, func(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' })
	if i < 0 {
		return strings.ToLower(stmt), ""
	}
	return strings.ToLower(stmt[:i]), strings.TrimSpace(stmt[i+1:])
}
