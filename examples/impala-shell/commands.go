package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/impalalb/impalalb/conn"
)

// The command interpreter of impala-shell 4.6 (the ImpalaShell class of
// shell/impala_shell/impala_shell.py), rebuilt from its rules: how a
// statement is cleaned, which commands the shell handles itself, which it
// sends, what it prints and when it reports a failure.

// status is a command's outcome (impala-shell's CmdStatus).
type status int

const (
	ok status = iota
	failed
)

// runList runs statements as impala-shell's execute_query_list: each
// cleaned (sanitise), then run; a failure prints "Could not execute
// command" and stops the list unless -c. It reports whether the list ran
// without a failure that stopped it.
func (sh *shell) runList(ctx context.Context, stmts []string) bool {
	if !sh.connected() {
		fmt.Fprintln(sh.stderr, "Not connected to Impala, could not execute queries.")
		return false
	}
	for _, raw := range stmts {
		q := sanitise(raw)
		st := ok
		if sh.sigint != nil {
			runCancellable(ctx, sh.sigint, func(ctx context.Context) { st = sh.onecmd(ctx, q) })
		} else {
			st = sh.onecmd(ctx, q)
		}
		if st == failed {
			fmt.Fprintf(sh.stderr, "Could not execute command: %s\n", q)
			if !sh.opts.ignoreFailures || ctx.Err() != nil {
				return false
			}
		}
	}
	return true
}

// onecmd runs one cleaned statement: variables substituted, the command
// word read, then the command's handler or, for anything else, the
// statement sent as it is.
func (sh *shell) onecmd(ctx context.Context, line string) status {
	line, substOK := sh.replaceVariables(line)
	if !substOK {
		return failed
	}
	p := parseLine(line)
	if p.line == "" {
		return ok
	}
	if p.cmd == "" {
		return sh.execStmt(ctx, p.line, false, true)
	}
	if p.line == "EOF" {
		return ok
	}
	query := func(cmd string) string { return p.comment + cmd + " " + p.arg }
	switch strings.ToLower(p.cmd) {
	case "alter", "drop", "load", "show", "values", "explain":
		return sh.execStmt(ctx, query(p.cmd), false, false)
	case "create":
		// The web link only for CREATE TABLE ... AS SELECT.
		return sh.execStmt(ctx, query(p.cmd), false, strings.Contains(p.arg, "select"))
	case "select":
		return sh.execStmt(ctx, query(p.cmd), false, true)
	case "compute":
		lp, ls := sh.liveProgress, sh.liveSummary
		sh.liveProgress, sh.liveSummary = false, false
		defer func() { sh.liveProgress, sh.liveSummary = lp, ls }()
		return sh.execStmt(ctx, query(p.cmd), false, false)
	case "with":
		q := query(p.cmd)
		return sh.execStmt(ctx, q, withIsDML(q), true)
	case "use":
		return sh.cmdUse(ctx, query(p.cmd), p.arg)
	case "describe":
		return sh.execStmt(ctx, query(p.cmd), false, false)
	case "desc":
		// The server knows no "desc".
		return sh.execStmt(ctx, query("describe"), false, false)
	case "insert", "upsert", "update", "delete", "merge":
		return sh.execStmt(ctx, query(p.cmd), true, true)
	case "set":
		return sh.cmdSet(p.arg)
	case "unset":
		return sh.cmdUnset(p.arg)
	case "quit", "exit":
		sh.verbosef("Goodbye %s", sh.opts.user)
		sh.quit = true
		return ok
	case "connect":
		return sh.cmdConnect(ctx, p.arg)
	case "summary":
		return sh.cmdSummary(p.arg)
	case "profile":
		return sh.cmdProfile(p.arg)
	case "shell":
		return sh.cmdShell(p.arg)
	case "version":
		fmt.Fprintf(sh.stderr, "Shell version: %s\n", versionString)
		fmt.Fprintf(sh.stderr, "Server version: %s\n", sh.serverVersion)
		return ok
	case "help":
		return sh.cmdHelp(p.arg)
	case "history":
		return sh.cmdHistory()
	case "tip":
		fmt.Fprintln(sh.stderr, "After running a query, type SUMMARY to see where the time went.")
		return ok
	case "source", "src":
		return sh.cmdSource(ctx, p.arg)
	case "rerun":
		fmt.Fprintln(sh.stderr, readlineUnavailable)
		return failed
	}
	return sh.execStmt(ctx, p.line, false, true)
}

// readlineUnavailable is impala-shell's message where it has no history.
const readlineUnavailable = "The readline module was either not found or disabled. Command history will not be collected."

// withIsDML reports whether a WITH statement ends in INSERT, UPSERT, UPDATE
// or DELETE (impala-shell asks sqlparse for the statement's type): the
// keyword after the WITH clause's "name AS (...)" definitions.
func withIsDML(q string) bool {
	w := &sqlWalk{toks: lexSQL(q)}
	if t := w.next(); t == nil || !strings.EqualFold(t.text, "with") {
		return false
	}
	for {
		if w.next() == nil { // the name
			return false
		}
		t := w.next()
		if t != nil && t.kind == tokPunct && t.text == "(" { // a column list
			if !w.skipParens() {
				return false
			}
			t = w.next()
		}
		if t == nil || !strings.EqualFold(t.text, "as") {
			return false
		}
		if t = w.next(); t == nil || t.text != "(" || !w.skipParens() {
			return false
		}
		if t = w.next(); t == nil {
			return false
		}
		if t.text != "," {
			switch strings.ToLower(t.text) {
			case "insert", "upsert", "update", "delete":
				return true
			}
			return false
		}
	}
}

// sqlWalk steps through the tokens of a statement, skipping blanks and
// comments.
type sqlWalk struct {
	toks []sqlToken
	i    int
}

// next returns the next token, or nil at the end.
func (w *sqlWalk) next() *sqlToken {
	for w.i < len(w.toks) {
		t := &w.toks[w.i]
		w.i++
		switch t.kind {
		case tokSpace, tokNewline, tokLineComment, tokBlockComment:
			continue
		}
		return t
	}
	return nil
}

// skipParens reads on to the ")" that closes a "(" just read; false when
// the statement ends first.
func (w *sqlWalk) skipParens() bool {
	for depth := 1; depth > 0; {
		t := w.next()
		if t == nil {
			return false
		}
		if t.kind == tokPunct && t.text == "(" {
			depth++
		} else if t.kind == tokPunct && t.text == ")" {
			depth--
		}
	}
	return true
}

// cmdUse runs USE and, when it works, makes arg the current database. When
// the database of -d cannot be used, there is no current database.
func (sh *shell) cmdUse(ctx context.Context, query, arg string) status {
	st := sh.execStmt(ctx, query, false, false)
	name := strings.Trim(arg, "`")
	if st == ok {
		sh.db, sh.dbSet = strings.TrimFunc(name, isPySpace), true
		return ok
	}
	if sh.dbSet && name == sh.db {
		sh.db, sh.dbSet = "", false
	}
	return failed
}

// validateDatabase runs "use `db`" for -d, as impala-shell does after
// connecting.
func (sh *shell) validateDatabase(ctx context.Context) {
	if !sh.dbSet || !sh.connected() {
		return
	}
	sh.db = strings.Trim(sh.db, "`")
	sh.onecmd(ctx, "use `"+sh.db+"`")
}

// shellOptions are the shell's own options that SET changes, in
// impala-shell's order.
var shellOptions = []string{"LIVE_PROGRESS", "LIVE_SUMMARY", "WRITE_DELIMITED", "VERBOSE", "DELIMITER",
	"OUTPUT_FILE", "PROFILE_OUTPUT", "VERTICAL", "PROFILE_FORMAT"}

// trueStrings are the values SET reads as true for a shell option.
func isTrueString(v string) bool {
	switch v {
	case "true", "TRUE", "True", "1":
		return true
	}
	return false
}

// setShellOption sets a shell option; false when name is none.
func (sh *shell) setShellOption(name, value string) bool {
	switch name {
	case "LIVE_PROGRESS":
		sh.liveProgress = isTrueString(value)
	case "LIVE_SUMMARY":
		sh.liveSummary = isTrueString(value)
	case "WRITE_DELIMITED":
		sh.writeDelimited = isTrueString(value)
	case "VERBOSE":
		sh.verbose = isTrueString(value)
	case "DELIMITER":
		if value == `\s` {
			value = " "
		}
		sh.delimiter = value
	case "OUTPUT_FILE":
		sh.outputFile = value
	case "PROFILE_OUTPUT":
		sh.profileOutput = value
	case "VERTICAL":
		sh.vertical = isTrueString(value)
	case "PROFILE_FORMAT":
		if value == "" {
			value = "string"
		}
		sh.profileFormat = value
	default:
		return false
	}
	return true
}

// shellOptionDefaults are impala-shell's defaults, which UNSET restores.
var shellOptionDefaults = map[string]string{"LIVE_PROGRESS": "True", "LIVE_SUMMARY": "False", "WRITE_DELIMITED": "False",
	"VERBOSE": "True", "DELIMITER": `\t`, "OUTPUT_FILE": "", "PROFILE_OUTPUT": "", "VERTICAL": "False", "PROFILE_FORMAT": "string"}

// shellOptionValue prints a shell option as Python prints its value.
func (sh *shell) shellOptionValue(name string) string {
	pyBool := func(b bool) string {
		if b {
			return "True"
		}
		return "False"
	}
	pyStr := func(s string) string {
		if s == "" {
			return "None"
		}
		return s
	}
	switch name {
	case "LIVE_PROGRESS":
		return pyBool(sh.liveProgress)
	case "LIVE_SUMMARY":
		return pyBool(sh.liveSummary)
	case "WRITE_DELIMITED":
		return pyBool(sh.writeDelimited)
	case "VERBOSE":
		return pyBool(sh.verbose)
	case "DELIMITER":
		return sh.delimiter
	case "OUTPUT_FILE":
		return pyStr(sh.outputFile)
	case "PROFILE_OUTPUT":
		return pyStr(sh.profileOutput)
	case "VERTICAL":
		return pyBool(sh.vertical)
	case "PROFILE_FORMAT":
		return sh.profileFormat
	}
	return ""
}

// cmdSet is SET: list the options, set a query option, a shell option or a
// variable.
func (sh *shell) cmdSet(arg string) status {
	if arg == "" {
		sh.printOptions(false)
		return ok
	}
	parts := strings.Split(arg, "=")
	for i := range parts {
		parts[i] = strings.TrimFunc(parts[i], isPySpace)
	}
	if len(parts) != 2 {
		if len(parts) == 1 && strings.ToUpper(parts[0]) == "ALL" {
			sh.printOptions(true)
			return ok
		}
		fmt.Fprintln(sh.stderr, "Error: SET <option>=<value>\n       OR\n       SET VAR:<variable>=<value>")
		return failed
	}
	name := strings.ToUpper(parts[0])
	if v, isVar := varName(name); isVar {
		sh.vars[v] = parts[1]
		sh.verbosef("Variable %s set to %s", v, parts[1])
		return ok
	}
	if sh.setShellOption(name, parts[1]) {
		return ok
	}
	if _, known := sh.defaultOptions[name]; !known {
		fmt.Fprintf(sh.stdout, "Unknown query option: %s\n", parts[0])
		fmt.Fprintln(sh.stdout, "Available query options, with their values (defaults shown in []):")
		sh.printQueryOptions(false)
		sh.printShellOptions()
		return failed
	}
	if sh.optionLevels[name] == "REMOVED" {
		sh.verbosef("Ignoring removed query option: '%s'", parts[0])
		return ok
	}
	sh.setOpt.set(name, parts[1])
	sh.verbosef("%s set to %s", name, parts[1])
	return ok
}

// printOptions is SET and SET ALL: the query options, the shell options
// and the variables.
func (sh *shell) printOptions(all bool) {
	sh.printQueryOptions(all)
	sh.printShellOptions()
	fmt.Fprintln(sh.stdout, "\nVariables:")
	if len(sh.vars) == 0 {
		fmt.Fprintln(sh.stdout, "\tNo variables defined.")
	}
	for _, k := range sh.vars.sortedNames() {
		fmt.Fprintf(sh.stdout, "\t%s: %s\n", k, sh.vars[k])
	}
}

// printQueryOptions lists the coordinator's query options by level, the
// defaults in brackets, the values set without.
func (sh *shell) printQueryOptions(all bool) {
	w := sh.stdout
	fmt.Fprintln(w, "Query options (defaults shown in []):")
	if len(sh.defaultOptions) == 0 && len(sh.setOpt.vals) == 0 {
		fmt.Fprintln(w, "\tNo options available.")
		return
	}
	groups := map[string][]string{}
	for k := range sh.defaultOptions {
		lv := sh.optionLevels[k]
		switch lv {
		case "REGULAR", "ADVANCED", "DEVELOPMENT", "DEPRECATED", "REMOVED":
		case "":
			lv = "REGULAR"
		default:
			lv = "DEVELOPMENT"
		}
		groups[lv] = append(groups[lv], k)
	}
	group := func(keys []string) {
		sort.Strings(keys)
		for _, k := range keys {
			if v, set := sh.setOpt.vals[k]; set && v != sh.defaultOptions[k] {
				fmt.Fprintf(w, "\t%s: %s\n", k, v)
			} else {
				fmt.Fprintf(w, "\t%s: [%s]\n", k, sh.defaultOptions[k])
			}
		}
	}
	group(groups["REGULAR"])
	if len(groups["ADVANCED"]) > 0 {
		fmt.Fprintln(w, "\nAdvanced Query Options:")
		group(groups["ADVANCED"])
	}
	if all {
		if len(groups["DEVELOPMENT"]) > 0 {
			fmt.Fprintln(w, "\nDevelopment Query Options:")
			group(groups["DEVELOPMENT"])
		}
		if len(groups["DEPRECATED"]) > 0 {
			fmt.Fprintln(w, "\nDeprecated Query Options:")
			group(groups["DEPRECATED"])
		}
	}
}

// printShellOptions lists the shell options.
func (sh *shell) printShellOptions() {
	fmt.Fprintln(sh.stdout, "\nShell Options")
	for _, k := range shellOptions {
		fmt.Fprintf(sh.stdout, "\t%s: %s\n", k, sh.shellOptionValue(k))
	}
}

// cmdUnset is UNSET: a variable, a query option, a shell option or ALL.
func (sh *shell) cmdUnset(arg string) status {
	if len(strings.Fields(arg)) != 1 {
		fmt.Fprintln(sh.stdout, "Usage: unset <option>")
		return failed
	}
	name := strings.ToUpper(arg)
	if v, isVar := varName(name); isVar {
		if sh.vars[v] != "" {
			fmt.Fprintf(sh.stdout, "Unsetting variable %s\n", v)
			delete(sh.vars, v)
		} else {
			fmt.Fprintf(sh.stdout, "No variable called %s is set\n", v)
		}
		return ok
	}
	switch {
	case sh.setOpt.vals[name] != "":
		fmt.Fprintf(sh.stdout, "Unsetting option %s\n", name)
		sh.setOpt.unset(name)
	case sh.setShellOption(name, shellOptionDefaults[name]):
		fmt.Fprintf(sh.stdout, "Unsetting shell option %s\n", name)
	case name == "ALL":
		fmt.Fprintln(sh.stdout, "Unsetting all option")
		sh.setOpt = queryOptions{}
	default:
		fmt.Fprintf(sh.stdout, "No option called %s is set\n", name)
	}
	return ok
}

// cmdConnect is CONNECT [host:port,...]: a new session, on the given
// coordinators when named.
func (sh *shell) cmdConnect(ctx context.Context, arg string) status {
	arg = strings.TrimSpace(arg)
	if arg != "" {
		port := "21050"
		if sh.opts.protocol == conn.Beeswax {
			port = "21000"
		}
		addrs, err := parseImpalads(strings.Fields(arg)[0], port)
		if err != nil {
			fmt.Fprintln(sh.stderr, "Connection string must either be empty, or of the form <hostname[:port]>")
			return failed
		}
		if err := sh.pool.SetCoordinators(addrs); err != nil {
			fmt.Fprintln(sh.stderr, err)
			return failed
		}
	}
	sh.drop(false)
	if _, err := sh.connect(ctx, true); err != nil {
		sh.connectFailed(err)
		return ok
	}
	sh.validateDatabase(ctx)
	return ok
}

// attemptMode reads the argument of summary and profile: which attempt of
// a retried query to show (all, latest or original; none given: latest).
// It prints impala-shell's complaints and reports whether to go on.
func (sh *shell) attemptMode(cmd, arg string) (string, bool) {
	args := strings.Fields(arg)
	if len(args) > 1 {
		fmt.Fprintf(sh.stderr, "'%s' only accepts 0 or 1 arguments\n", cmd)
		return "", false
	}
	if len(args) == 0 {
		return "latest", true
	}
	switch mode := strings.ToLower(args[0]); mode {
	case "all", "latest", "original":
		return mode, true
	default:
		fmt.Fprintf(sh.stdout, "Invalid value for query attempt display mode: '%s'. Valid values are [ALL | LATEST | ORIGINAL]\n", mode)
		return "", false
	}
}

// cmdSummary is SUMMARY: the last statement's execution summary as a table.
// No query is retried here, so ORIGINAL has no failed attempt to show.
func (sh *shell) cmdSummary(arg string) status {
	if len(strings.Fields(arg)) <= 1 && sh.last == nil {
		fmt.Fprintln(sh.stderr, "Could not retrieve summary: no previous query.")
		return failed
	}
	mode, valid := sh.attemptMode("summary", arg)
	switch {
	case !valid:
		return failed
	case mode == "original":
		fmt.Fprintln(sh.stdout, "No failed summary found")
		return ok
	case mode == "all":
		fmt.Fprintln(sh.stdout, "Query Summary:")
	}
	s := sh.last.summary
	if s == nil || s.Plan == nil {
		fmt.Fprintln(sh.stderr, "Summary not available")
		return ok
	}
	sh.writeOutput(prettyTable(summaryHeader, summaryRows(s)))
	return ok
}

// cmdProfile is PROFILE: the last statement's runtime profile.
func (sh *shell) cmdProfile(arg string) status {
	if len(strings.Fields(arg)) <= 1 && sh.last == nil {
		fmt.Fprintln(sh.stderr, "No previous query available to profile")
		return failed
	}
	if _, valid := sh.attemptMode("profile", arg); !valid {
		return failed
	}
	sh.printProfile(sh.last.profile)
	return ok
}

// cmdShell is SHELL cmd (or !cmd): the command run by /bin/sh, its output
// going straight to the shell's own.
func (sh *shell) cmdShell(arg string) status {
	start := time.Now()
	cmd := exec.Command("/bin/sh", "-c", arg)
	cmd.Stdin = os.Stdin
	cmd.Stdout, cmd.Stderr = sh.stdout, sh.stderr
	if f, isFile := sh.stdout.(*os.File); isFile {
		cmd.Stdout = f
	}
	_ = cmd.Run() // as os.system: the command's status is not the shell's
	sh.verbosef("--------\nExecuted in %.2fs", time.Since(start).Seconds())
	return ok
}

// cmdSource is SOURCE file: the statements of a file.
func (sh *shell) cmdSource(ctx context.Context, arg string) status {
	b, err := os.ReadFile(arg)
	if err != nil {
		fmt.Fprintf(sh.stderr, "Error opening file '%s': %s\n", arg, pyOSError(err))
		return failed
	}
	if sh.runList(ctx, parseQueryText(string(b))) {
		return ok
	}
	return failed
}

// cmdHistory lists the interactive history.
func (sh *shell) cmdHistory() status {
	if sh.history == nil || sh.history.Len() == 0 {
		fmt.Fprintln(sh.stderr, readlineUnavailable)
		return ok
	}
	for i := 0; i < sh.history.Len(); i++ {
		fmt.Fprintf(sh.stderr, "[%d]: %s\n", i+1, sh.history.AtOldest(i))
	}
	return ok
}

// The shell's commands as impala-shell's help lists them: those with a
// help text, and the others.
var (
	documentedCommands   = []string{"compute", "connect", "exit", "explain", "help", "history", "profile", "quit", "rerun", "select", "set", "shell", "show", "tip", "unset", "use", "values", "version", "with"}
	undocumentedCommands = []string{"alter", "create", "delete", "desc", "describe", "drop", "insert", "load", "merge", "source", "src", "summary", "update", "upsert"}
)

// commandHelp is the help text of each documented command.
var commandHelp = map[string]string{
	"compute": "Runs a COMPUTE STATS statement.",
	"connect": "Connects to the coordinators given (host[:port], comma-separated), or again to those of -i.",
	"exit":    "Leaves the shell.",
	"explain": "Shows the plan of a statement.",
	"help":    "Lists the commands, or tells what one does.",
	"history": "Lists the statements typed in this and earlier sessions.",
	"profile": "Prints the runtime profile of the last statement.",
	"quit":    "Leaves the shell.",
	"rerun":   "Runs again a statement of the history: @n.",
	"select":  "Runs a query and prints its rows.",
	"set":     "Lists the options, or sets a query option, a shell option or a variable (SET VAR:NAME=VALUE).",
	"shell":   "Runs a command of the operating system: shell <command> or !<command>.",
	"show":    "Runs a SHOW statement.",
	"tip":     "Prints a tip.",
	"unset":   "Unsets a query option, a shell option or a variable.",
	"use":     "Makes a database the current one.",
	"values":  "Runs a VALUES statement.",
	"version": "Prints the shell's and the coordinator's versions.",
	"with":    "Runs a statement with a WITH clause.",
}

// cmdHelp is HELP [command], laid out as Python's cmd module does.
func (sh *shell) cmdHelp(arg string) status {
	w := sh.stdout
	if arg != "" {
		if h, ok := commandHelp[arg]; ok {
			fmt.Fprintln(w, h)
		} else {
			fmt.Fprintf(w, "*** No help on %s\n", arg)
		}
		return ok
	}
	fmt.Fprintln(w)
	topics := func(header string, cmds []string) {
		fmt.Fprintln(w, header)
		fmt.Fprintln(w, strings.Repeat("=", len(header)))
		columnize(w, cmds, 79)
		fmt.Fprintln(w)
	}
	topics("Documented commands (type help <topic>):", documentedCommands)
	topics("Undocumented commands:", undocumentedCommands)
	return ok
}

// columnize prints words in as few rows as fit in width, columns two blanks
// apart, filled column by column (Python's cmd.Cmd.columnize).
func columnize(w io.Writer, list []string, width int) {
	switch len(list) {
	case 0:
		fmt.Fprintln(w, "<empty>")
		return
	case 1:
		fmt.Fprintln(w, list[0])
		return
	}
	for rows := 1; rows < len(list); rows++ {
		cols := (len(list) + rows - 1) / rows
		widths := make([]int, 0, cols)
		total := -2
		for c := 0; c < cols; c++ {
			cw := 0
			for r := 0; r < rows; r++ {
				if i := r + rows*c; i < len(list) {
					cw = max(cw, len(list[i]))
				}
			}
			widths = append(widths, cw)
			total += cw + 2
			if total > width {
				break
			}
		}
		if total <= width {
			for r := 0; r < rows; r++ {
				var cells []string
				for c := 0; c < cols; c++ {
					i := r + rows*c
					if i >= len(list) {
						break
					}
					cells = append(cells, list[i])
				}
				for len(cells) > 0 && cells[len(cells)-1] == "" {
					cells = cells[:len(cells)-1]
				}
				for c := range cells {
					cells[c] += strings.Repeat(" ", widths[c]-len(cells[c]))
				}
				fmt.Fprintln(w, strings.Join(cells, "  "))
			}
			return
		}
	}
	for _, s := range list {
		fmt.Fprintln(w, s)
	}
}

// replaceVariables substitutes ${VAR:NAME} references as impala-shell's
// replace_variables: every problem printed, and false when there was one.
func (sh *shell) replaceVariables(line string) (string, bool) {
	out, err := sh.vars.substitute(line)
	var se *substError
	if errors.As(err, &se) {
		for _, p := range se.problems {
			fmt.Fprintln(sh.stderr, p)
		}
		return "", false
	}
	return out, true
}

// connectFailed prints why the shell could not connect, as impala-shell
// reports a socket error.
func (sh *shell) connectFailed(err error) {
	if errno, host, port, isSock := socketError(err); isSock {
		fmt.Fprintf(sh.stderr, "Could not connect to any of [('%s', %s)]\n", host, port)
		fmt.Fprintf(sh.stderr, "Socket error %d: [Errno %d] %s\n", int(errno), int(errno), capitalize(errno.Error()))
		return
	}
	sh.logError("Exception", "Error connecting", connectMessage(err))
}

// socketError finds the system error of a failed TCP connect, with the
// address it was for, as impala-shell reports a socket error.
func socketError(err error) (errno syscall.Errno, host, port string, ok bool) {
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "dial" || !errors.As(oe.Err, &errno) {
		return 0, "", "", false
	}
	if ta, isTCP := oe.Addr.(*net.TCPAddr); isTCP {
		return errno, ta.IP.String(), strconv.Itoa(ta.Port), true
	}
	return 0, "", "", false
}
