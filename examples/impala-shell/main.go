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
	"strings"
	"syscall"

	"golang.org/x/term"

	"github.com/impalalb/impalalb/balancer"
	"github.com/impalalb/impalalb/conn"
	"github.com/impalalb/impalalb/conn/sasl"
	"github.com/impalalb/impalalb/internal/impalad"
	"github.com/impalalb/impalalb/kerberos"
	"github.com/impalalb/impalalb/tlsconf"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is the whole shell; it returns the exit status: 0, 1 when a statement
// failed, 2 for a bad command line.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		var ue *usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "impala-shell: %s\n", ue.msg)
		}
		return 2
	}
	out := stdout
	if o.outputFile != "" {
		f, err := os.Create(o.outputFile)
		if err != nil {
			fmt.Fprintf(stderr, "ERROR: %s\n", oneLine(err.Error()))
			return 1
		}
		defer f.Close()
		out = f
	}
	info := stderr
	if o.quiet {
		info = io.Discard
	}

	addrs := o.impalads
	if len(addrs) == 0 {
		lc := impalad.Config{}
		if o.protocol == conn.HS2HTTP {
			lc.HS2HTTPAddr = "127.0.0.1:0"
		}
		cos, err := impalad.NewCluster(0).StartN(o.local, lc)
		if err != nil {
			fmt.Fprintf(stderr, "ERROR: cannot start local coordinators: %s\n", oneLine(err.Error()))
			return 1
		}
		defer func() {
			for _, co := range cos {
				_ = co.Close()
			}
		}()
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
		fmt.Fprintf(info, "Started %d local in-process test coordinators on %s (use -i host:port,... for a real cluster)\n",
			len(addrs), strings.Join(addrs, ", "))
	}

	stdinFile, _ := stdin.(*os.File)
	interactive := o.query == "" && o.queryFile == "" && stdinFile != nil && term.IsTerminal(int(stdinFile.Fd()))

	d, cleanup, err := newDialer(o, stdinFile, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "ERROR: %s\n", oneLine(err.Error()))
		return 1
	}
	defer cleanup()
	sh, err := newShell(o, addrs, d, out, stdout, info)
	if err != nil {
		fmt.Fprintf(stderr, "ERROR: %s\n", oneLine(err.Error()))
		return 1
	}
	defer sh.close()

	if interactive {
		return runInteractive(ctx, sh, stdinFile, stdout, stderr)
	}
	var script string
	switch {
	case o.query != "":
		script = o.query
	case o.queryFile != "" && o.queryFile != "-":
		b, err := os.ReadFile(o.queryFile)
		if err != nil {
			fmt.Fprintf(stderr, "ERROR: %s\n", oneLine(err.Error()))
			return 1
		}
		script = string(b)
	default:
		b, err := io.ReadAll(stdin)
		if err != nil {
			fmt.Fprintf(stderr, "ERROR: %s\n", oneLine(err.Error()))
			return 1
		}
		script = string(b)
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runScript(ctx, sh, script, stderr)
}

// newShell makes the pool over addrs and the shell on it. Results go to
// out, profiles to profOut, messages to info.
func newShell(o *options, addrs []string, d balancer.Dialer[*conn.Session], out, profOut, info io.Writer) (*shell, error) {
	cfg := balancer.Config{}
	cfg.Coordinators = addrs
	cfg.Policy = o.balance
	cfg.DefaultKey = o.affinityKey
	pool, err := balancer.New(cfg, d)
	if err != nil {
		return nil, err
	}
	return &shell{opts: o, pool: pool, out: out, profOut: profOut, info: info, db: o.database, vars: o.vars.vars.clone()}, nil
}

// runScript runs every statement of script through one session, in order,
// stopping at the first failure unless -c was given. A statement whose
// variables cannot be substituted fails without being sent.
func runScript(ctx context.Context, sh *shell, script string, stderr io.Writer) int {
	raws, rest, pending := splitRaw(script)
	if pending {
		// impala-shell runs a last statement without its ';'.
		more, _, _ := splitRaw(rest + ";")
		raws = append(raws, more...)
	}
	status := 0
	for _, raw := range raws {
		st, err := sh.prepare(raw)
		if err == nil && st == "" {
			continue
		}
		if err != nil {
			fmt.Fprintf(sh.info, "Query: %s\n", oneLine(raw))
		} else {
			fmt.Fprintf(sh.info, "Query: %s\n", oneLine(st))
			err = sh.runStatement(ctx, st)
		}
		if errors.Is(err, errQuit) {
			break
		}
		if err != nil {
			fmt.Fprintf(stderr, "ERROR: %s\n", err)
			status = 1
			if !sh.opts.ignoreFailures || ctx.Err() != nil {
				break
			}
		}
	}
	return status
}

// newDialer builds the dialer of the flags: protocol, TLS, Kerberos or LDAP.
func newDialer(o *options, stdin *os.File, stderr io.Writer) (*balancer.ConnDialer, func(), error) {
	opts := conn.Options{
		Protocol:       o.protocol,
		User:           o.user,
		Database:       o.database,
		SessionOptions: o.queryOptions.clone(),
		// The shell runs every statement on its one session, as
		// impala-shell does: no SYNC_DDL of its own.
		SyncDDL: conn.SyncDDLNever,
	}
	httpMode := o.protocol == conn.HS2HTTP
	if httpMode {
		opts.HTTPPath = o.httpPath
		if o.hs2XForward != "" {
			opts.HTTPHeaders = map[string]string{"X-Forwarded-For": o.hs2XForward}
		}
	}
	cleanup := func() {}
	if o.ssl {
		c, err := tlsconf.NewClient(tlsconf.Config{CAFile: o.caCert, ServerName: o.kerberosHostFQDN})
		if err != nil {
			return nil, nil, fmt.Errorf("--ssl: %w", err)
		}
		opts.TLSHandshake = c.HandshakeConn
	}
	switch {
	case o.kerberos:
		kc, err := kerberos.NewClient(kerberos.Config{ServiceName: o.kerberosServiceName, HostFQDN: o.kerberosHostFQDN})
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
		pw, err := ldapPassword(o, stdin, stderr)
		if err != nil {
			return nil, nil, err
		}
		if httpMode {
			opts.HTTPAuth = conn.BasicAuth(o.user, pw)
		} else {
			opts.Mechanism = sasl.PlainFactory(o.user, pw)
		}
	case o.jwt:
		tok, err := secretInput(o.jwtCmd, "--jwt_cmd", "-j", "JWT", stdin, stderr)
		if err != nil {
			return nil, nil, err
		}
		opts.HTTPAuth = conn.BearerAuth(conn.StaticToken(tok))
	}
	return balancer.NewConnDialer(opts), cleanup, nil
}

// ldapPassword runs --ldap_password_cmd, or asks on the terminal.
func ldapPassword(o *options, stdin *os.File, stderr io.Writer) (string, error) {
	return secretInput(o.ldapPasswordCmd, "--ldap_password_cmd", "-l", "LDAP password for "+o.user, stdin, stderr)
}

// secretInput runs cmd (a shell command, flag its name) and takes its
// output, as impala-shell's read_password_cmd does, or asks on the
// terminal (what names what is asked, short the flag that asked for it).
func secretInput(cmd, flag, short, what string, stdin *os.File, stderr io.Writer) (string, error) {
	if cmd != "" {
		c := exec.Command("sh", "-c", cmd)
		c.Stderr = stderr
		b, err := c.Output()
		if err != nil {
			return "", fmt.Errorf("%s failed: %v", flag, err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	if stdin == nil || !term.IsTerminal(int(stdin.Fd())) {
		return "", fmt.Errorf("%s: stdin is not a terminal to ask on: use %s", short, flag)
	}
	fmt.Fprintf(stderr, "%s: ", what)
	b, err := term.ReadPassword(int(stdin.Fd()))
	fmt.Fprintln(stderr)
	if err != nil {
		return "", fmt.Errorf("%s: %v", short, err)
	}
	return string(b), nil
}
