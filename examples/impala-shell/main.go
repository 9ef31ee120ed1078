package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/impalalb/impalalb/balancer"
	"github.com/impalalb/impalalb/conn"
	"github.com/impalalb/impalalb/conn/sasl"
	"github.com/impalalb/impalalb/internal/impalad"
	"github.com/impalalb/impalalb/kerberos"
	"github.com/impalalb/impalalb/secret"
	"github.com/impalalb/impalalb/tlsconf"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is the whole shell, in the order of impala-shell's main; it returns
// the exit status: 0, 1 when a statement failed or impala-shell's checks
// refuse the flags, 2 for a bad command line.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var fe *fatalError
	if errors.As(err, &fe) {
		fmt.Fprintln(stderr, fe.msg)
		return 1
	}
	if err != nil {
		var ue *usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "impala-shell: %s\n", ue.msg)
		}
		return 2
	}
	if o.version {
		fmt.Fprintln(stdout, versionString)
		return 0
	}
	infof := func(format string, args ...any) {
		if o.verbose {
			fmt.Fprintf(stderr, format+"\n", args...)
		}
	}
	auth := "with no authentication"
	switch {
	case o.kerberos:
		auth = "with Kerberos authentication"
	case o.ldap:
		auth = "with LDAP-based authentication"
	case o.jwt:
		auth = "with JWT-based authentication"
	}
	infof("Starting Impala Shell %s using Go %s", auth, strings.TrimPrefix(runtime.Version(), "go"))
	if o.kerberos {
		infof("Using service name '%s'", o.kerberosServiceName)
	}
	stdinFile, _ := stdin.(*os.File)
	// The LDAP password or the JWT, read before connecting.
	var cred secret.Value
	switch {
	case o.ldap:
		cred, err = ldapPassword(o, stdinFile, stderr)
	case o.jwt:
		cred, err = jwtToken(o, stdinFile, stderr)
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if o.ssl {
		infof("SSL is enabled")
	}
	// As impala-shell, the output files are emptied first.
	for _, f := range []struct{ path, what string }{{o.outputFile, "output"}, {o.profileOutput, "profile output"}} {
		if f.path == "" {
			continue
		}
		if err := os.WriteFile(f.path, nil, 0o666); err != nil { //nolint:gosec // G306: the user's output file, as impala-shell makes it (0666 less the umask)
			fmt.Fprintf(stderr, "Error opening %s file for writing: %s\n", f.what, pyOSError(err))
			return 1
		}
	}
	nonInteractive := o.query != "" || o.queryFile != ""
	if nonInteractive {
		if o.liveProgress {
			infof("Warning: live_progress only applies to interactive shell sessions, and is being skipped for now.")
			o.liveProgress = false
		}
		if o.liveSummary {
			fmt.Fprintln(stderr, "Error: live_summary is available for interactive mode only.")
			return 1
		}
	}
	interactive := !nonInteractive && stdinFile != nil && term.IsTerminal(int(stdinFile.Fd()))

	script, read := readScript(o, stdin, interactive, stderr)
	if !read {
		return 1
	}

	pcfg, tlsFromFile, err := poolConfig(o, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "ERROR: %s\n", err)
		return 1
	}
	if len(pcfg.Coordinators) == 0 {
		addrs, stop, err := startLocal(o)
		if err != nil {
			fmt.Fprintf(stderr, "ERROR: cannot start local coordinators: %s\n", err)
			return 1
		}
		defer stop()
		pcfg.Coordinators = addrs
		infof("Started %d local in-process test coordinators on %s (use -i host:port,... for a real cluster)",
			len(pcfg.Coordinators), strings.Join(pcfg.Coordinators, ", "))
	}
	d, cleanup, err := newDialer(o, cred, tlsFromFile, &pcfg)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer cleanup()
	pool, err := balancer.New(pcfg, d)
	if err != nil {
		fmt.Fprintf(stderr, "ERROR: %s\n", err)
		return 1
	}
	sh := newShell(o, pool, stdout, stderr)
	defer sh.close()
	sh.interactive = interactive
	stmts := parseQueryText(script)
	sourced := usesCommand(stmts, "source") || usesCommand(stmts, "src") // their statements are not known yet
	sh.wantSummary = interactive || sourced || usesCommand(stmts, "summary")
	sh.wantProfile = interactive || sourced || usesCommand(stmts, "profile")

	if interactive {
		return runInteractive(ctx, sh, stdinFile, stdout, stderr)
	}
	// SIGTERM ends the shell; Ctrl-C (SIGINT) cancels the running
	// statement, and the script goes on, as impala-shell's does.
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM)
	defer stop()
	sigint := make(chan os.Signal, 1)
	signal.Notify(sigint, os.Interrupt)
	defer signal.Stop(sigint)
	sh.sigint = sigint
	sh.startup(ctx)
	okList := sh.runList(ctx, sh.queue)
	if okList {
		okList = sh.runList(ctx, stmts)
	}
	if !okList {
		return 1
	}
	return 0
}

// readScript reads the statements of -q, -f or a piped stdin, before
// connecting as impala-shell does; false when it could not (the error
// printed).
func readScript(o *options, stdin io.Reader, interactive bool, stderr io.Writer) (string, bool) {
	switch {
	case o.query != "":
		return o.query, true
	case o.queryFile == "-" || (!interactive && o.queryFile == ""):
		b, err := io.ReadAll(stdin)
		if err != nil {
			fmt.Fprintf(stderr, "Could not open file '-': %s\n", err)
			return "", false
		}
		return string(b), true
	case o.queryFile != "":
		b, err := os.ReadFile(o.queryFile) //nolint:gosec // G703: the user's own -f file
		if err != nil {
			fmt.Fprintf(stderr, "Could not open file '%s': %s\n", o.queryFile, pyOSError(err))
			return "", false
		}
		return string(b), true
	}
	return "", true
}

// startLocal starts the in-process test coordinators of --local and
// returns their addresses for o.protocol and a func that stops them.
func startLocal(o *options) ([]string, func(), error) {
	lc := impalad.Config{}
	if o.protocol == conn.HS2HTTP {
		lc.HS2HTTPAddr = "127.0.0.1:0"
	}
	cos, err := impalad.NewCluster(0).StartN(o.local, lc)
	if err != nil {
		return nil, nil, err
	}
	addrs := make([]string, 0, len(cos))
	for _, co := range cos {
		a := co.HS2Addr()
		switch o.protocol {
		case conn.Beeswax:
			a = co.BeeswaxAddr()
		case conn.HS2HTTP:
			a = co.HS2HTTPAddr()
		}
		addrs = append(addrs, a)
	}
	stop := func() {
		for _, co := range cos {
			_ = co.Close() // on the way out: nothing left to report to
		}
	}
	return addrs, stop, nil
}

// newShell makes the shell on pool with the options of the flags.
func newShell(o *options, pool *balancer.Pool[*conn.Session], stdout, stderr io.Writer) *shell {
	sh := &shell{opts: o, pool: pool, stdout: stdout, stderr: stderr, vars: o.vars.vars.clone(),
		liveProgress: o.liveProgress, liveSummary: o.liveSummary, writeDelimited: o.delimited, vertical: o.vertical,
		verbose: o.verbose, delimiter: o.outputDelimiter, outputFile: o.outputFile, profileOutput: o.profileOutput,
		profileFormat: o.profileFormat, db: o.database, dbSet: o.database != ""}
	if sh.delimiter == `\s` {
		sh.delimiter = " "
	}
	for _, k := range o.queryOptions.keys {
		sh.setOpt.set(k, o.queryOptions.vals[k])
	}
	return sh
}

// usesCommand reports whether a statement of the script is the shell
// command cmd (so its statements must keep what the command shows).
func usesCommand(stmts []string, cmd string) bool {
	for _, s := range stmts {
		if strings.EqualFold(parseLine(sanitise(s)).cmd, cmd) {
			return true
		}
	}
	return false
}

// startup connects as impala-shell does when it starts: the connection
// messages, the coordinator's query options, and -d's database.
func (sh *shell) startup(ctx context.Context) {
	if _, err := sh.connect(ctx, true); err != nil {
		sh.connectFailed(err)
		return
	}
	sh.loadDefaultOptions(ctx)
	if sh.dbSet {
		// impala-shell both queues "use `db`" and runs it at once.
		sh.queue = append(sh.queue, "use `"+strings.Trim(sh.db, "`")+"`;")
	}
	sh.validateDatabase(ctx)
}

// loadDefaultOptions reads the coordinator's query options (SET ALL) and
// drops those set with -Q that it does not know, as impala-shell does.
func (sh *shell) loadDefaultOptions(ctx context.Context) {
	sh.defaultOptions, sh.optionLevels = map[string]string{}, map[string]string{}
	s, err := sh.session(ctx)
	if err != nil {
		return
	}
	op, err := s.Execute(ctx, "set all", nil)
	if err != nil {
		return
	}
	defer func() { _ = op.Close(ctx) }() // a read-only listing: nothing to report
	for {
		b, err := op.Next(ctx)
		if err != nil {
			break
		}
		for _, r := range batchRows(b) {
			if len(r) >= 2 {
				k := strings.ToUpper(r[0])
				sh.defaultOptions[k] = r[1]
				if len(r) >= 3 {
					sh.optionLevels[k] = strings.ToUpper(r[2])
				}
			}
		}
	}
	for _, k := range append([]string(nil), sh.setOpt.keys...) {
		if _, known := sh.defaultOptions[k]; !known {
			fmt.Fprintf(sh.stdout, "%s is not supported for the impalad being connected to, ignoring.\n", k)
			sh.setOpt.unset(k)
		}
	}
	if _, known := sh.defaultOptions["CLIENT_IDENTIFIER"]; known {
		if _, set := sh.setOpt.vals["CLIENT_IDENTIFIER"]; !set {
			sh.setOpt.set("CLIENT_IDENTIFIER", versionString)
		}
	}
}

// poolConfig makes the pool's configuration from the flags: -i or the
// backend of --haproxy_config, with the policy; the TLS settings of the
// configuration file are returned for the dialer.
func poolConfig(o *options, stderr io.Writer) (balancer.Config, *balancer.HAProxyBackend, error) {
	cfg := balancer.Config{}
	cfg.Coordinators = o.impalads
	cfg.Policy = o.balance
	cfg.DefaultKey = o.affinityKey
	if o.haproxyConfig == "" {
		return cfg, nil, nil
	}
	b, err := balancer.LoadHAProxyConfig(expandHome(o.haproxyConfig), o.haproxyBackend)
	if err != nil {
		return cfg, nil, err
	}
	b.Apply(&cfg)
	if o.verbose {
		for _, d := range b.Ignored {
			fmt.Fprintf(stderr, "--haproxy_config: ignored %s\n", d)
		}
	}
	return cfg, &b, nil
}

// newDialer builds the dialer of the flags: protocol (hs2-http with its
// path and X-Forwarded-For), TLS (of the flags or of --haproxy_config),
// Kerberos, LDAP with password or a JWT (cred). With pcfg, it also adds
// the discovery and load sources of the flags to it, their web servers
// reached with the same TLS trust and credentials.
func newDialer(o *options, cred secret.Value, hap *balancer.HAProxyBackend, pcfg *balancer.Config) (*balancer.ConnDialer, func(), error) {
	opts := conn.Options{
		Protocol:    o.protocol,
		User:        o.user,
		FetchSize:   o.fetchSize,
		BeeswaxText: true,
		// impala-shell polls every statement's state and reports a failure
		// with the coordinator's status message (Impala's "Query <id>
		// failed:" form), which a first fetch would not give.
		PollQueries: true,
		// The shell runs every statement on its one session, as
		// impala-shell does: no SYNC_DDL of its own unless --sync_ddl.
		SyncDDL: o.syncDDL,
	}
	if o.connectTimeoutMs > 0 {
		opts.ConnectTimeout = time.Duration(o.connectTimeoutMs) * time.Millisecond
	}
	httpMode := o.protocol == conn.HS2HTTP
	if httpMode {
		opts.HTTPPath = o.httpPath
		if o.hs2XForward != "" {
			opts.HTTPHeaders = map[string]secret.Value{"X-Forwarded-For": secret.New(o.hs2XForward)}
		}
	}
	cleanup := func() {}
	tc := tlsconf.Config{CAFile: o.caCert, ServerName: o.kerberosHostFQDN}
	useTLS := o.ssl
	if hap != nil && hap.TLS {
		useTLS = true
		if tc.CAFile == "" {
			tc.CAFile = hap.CAFile
		}
		if hap.ServerName != "" {
			tc.ServerName = hap.ServerName
		}
		if hap.ClientCertFile != "" {
			tc.CertFile, tc.KeyFile = hap.ClientCertFile, hap.ClientCertFile
		}
	}
	var tlsClient *tlsconf.Client
	if useTLS || o.webTLS {
		c, err := tlsconf.NewClient(tc)
		if err != nil {
			return nil, nil, fmt.Errorf("--ssl: %w", err)
		}
		tlsClient = c
	}
	if useTLS {
		opts.TLSHandshake = tlsClient.HandshakeConn
	}
	var kc *kerberos.Client
	switch {
	case o.kerberos:
		var err error
		kc, err = kerberos.NewClient(kerberos.Config{ServiceName: o.kerberosServiceName, HostFQDN: o.kerberosHostFQDN})
		if err != nil {
			return nil, nil, fmt.Errorf("-k: %w", err)
		}
		if httpMode {
			opts.HTTPAuth = kc.NegotiateHeader
		} else {
			opts.Mechanism = kc.MechanismFactory()
		}
		cleanup = func() { _ = kc.Close() }
	case o.ldap:
		if httpMode {
			opts.HTTPAuth = conn.BasicAuth(o.user, cred)
		} else {
			opts.Mechanism = sasl.PlainFactory(o.user, cred.Reveal())
		}
	case o.jwt:
		opts.HTTPAuth = conn.BearerAuth(conn.StaticToken(cred))
	}
	if pcfg != nil {
		if err := setDiscovery(o, pcfg, tlsClient, kc, cred); err != nil {
			cleanup()
			return nil, nil, err
		}
	}
	return balancer.NewConnDialer(opts), cleanup, nil
}

// ldapPassword runs --ldap_password_cmd, or asks on the terminal.
func ldapPassword(o *options, stdin *os.File, stderr io.Writer) (secret.Value, error) {
	if o.ldapPasswordCmd != "" {
		return readSecretCmd(o.ldapPasswordCmd, "LDAP password", false)
	}
	return askSecret(stdin, stderr, "LDAP password for "+o.user+": ", "-l", "password", "--ldap_password_cmd")
}

// jwtToken runs --jwt_cmd (its output without the trailing line break), or
// asks on the terminal, as impala-shell does.
func jwtToken(o *options, stdin *os.File, stderr io.Writer) (secret.Value, error) {
	if o.jwtCmd != "" {
		return readSecretCmd(o.jwtCmd, "JWT", true)
	}
	return askSecret(stdin, stderr, "Enter JWT: ", "-j", "JWT", "--jwt_cmd")
}

// readSecretCmd runs cmd, split into words as impala-shell's
// read_password_cmd does (shlex.split, not through a shell), and returns
// its output, with the trailing line break dropped when stripNewline; its
// errors are impala-shell's, desc naming the secret.
func readSecretCmd(cmd, desc string, stripNewline bool) (secret.Value, error) {
	words, err := shlexSplit(cmd)
	if err != nil || len(words) == 0 {
		return secret.Value{}, fmt.Errorf("Error retrieving %s (command was: '%s', exception was: '%v')", desc, cmd, err) //nolint:errorlint // impala-shell's text, with the exception's text (err may be nil)
	}
	c := exec.Command(words[0], words[1:]...)
	var errb strings.Builder
	c.Stderr = &errb
	b, err := c.Output()
	if err != nil {
		return secret.Value{}, fmt.Errorf("Error retrieving %s (command was '%s', error was: '%s')", desc, cmd, strings.TrimSpace(errb.String()))
	}
	if stripNewline {
		return secret.New(strings.TrimRight(string(b), "\r\n")), nil
	}
	return secret.New(string(b)), nil
}

// askSecret asks for a secret on the terminal with prompt; flag is the
// option that wanted it, what the secret, cmdFlag the option that gives it
// without a terminal.
func askSecret(stdin *os.File, stderr io.Writer, prompt, flag, what, cmdFlag string) (secret.Value, error) {
	if stdin == nil || !term.IsTerminal(int(stdin.Fd())) {
		return secret.Value{}, fmt.Errorf("%s: stdin is not a terminal to ask the %s on: use %s", flag, what, cmdFlag)
	}
	fmt.Fprint(stderr, prompt)
	b, err := term.ReadPassword(int(stdin.Fd()))
	fmt.Fprintln(stderr)
	if err != nil {
		return secret.Value{}, fmt.Errorf("%s: %w", flag, err)
	}
	return secret.New(string(b)), nil
}

// shlexSplit splits a command line as Python's shlex.split does (POSIX
// mode): blanks separate words; '...' keeps everything; "..." keeps
// everything but a backslash before \ or "; a backslash elsewhere keeps the
// next character.
func shlexSplit(s string) ([]string, error) {
	var words []string
	var w strings.Builder
	in := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if in {
				words = append(words, w.String())
				w.Reset()
				in = false
			}
		case c == '\\':
			if i+1 >= len(s) {
				//lint:ignore ST1005 Python shlex's text, as impala-shell shows it
				return nil, errors.New("No escaped character")
			}
			i++
			w.WriteByte(s[i])
			in = true
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				//lint:ignore ST1005 Python shlex's text, as impala-shell shows it
				return nil, errors.New("No closing quotation")
			}
			w.WriteString(s[i+1 : i+1+j])
			i += j + 1
			in = true
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && (s[i+1] == '\\' || s[i+1] == '"') {
					i++
				}
				w.WriteByte(s[i])
			}
			if i >= len(s) {
				//lint:ignore ST1005 Python shlex's text, as impala-shell shows it
				return nil, errors.New("No closing quotation")
			}
			in = true
		default:
			w.WriteByte(c)
			in = true
		}
	}
	if in {
		words = append(words, w.String())
	}
	return words, nil
}
