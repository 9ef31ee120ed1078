// Command impalad runs one test coordinator (package internal/impalad) as
// its own process, for benchmarks behind a real proxy and for interop tests
// with impala-shell and impyla. It prints its addresses and runs until
// SIGINT, or until a graceful shutdown ends: SIGTERM starts one, as it does
// in Impala, and so does the statement ":shutdown()"; the process exits
// once the grace period is over and no statement runs, or at the deadline
// (--shutdown_grace_period_s, --shutdown_deadline_s). With several
// coordinators (--coordinators) it exits when the last has.
//
//	impalad --hs2_port=21050 --beeswax_port=21000 --service_time=2ms
//	impalad --tls_cert=server.pem --tls_key=server.key --ldap_users=users.txt
//	impalad --keytab=impala.keytab --kerberos_qop=auth,auth-conf
//	impalad --hs2_http_port=28000 --jwks_file_path=jwks.json --jwt_allow_without_tls
//
// Coordinators in different processes do not share a catalog, so
// --ddl_delay has no effect on a lone coordinator (its own DDL is visible to
// it at once and SYNC_DDL has no peers to wait for). To see the delay, run
// several coordinators sharing one catalog in one process with
// --coordinators=N: they listen on consecutive ports from --hs2_port and
// --beeswax_port (or on free ports when those are 0).
//
// For each coordinator it prints, one per line, "hs2=host:port", then
// "hs2-http=host:port" when --hs2_http_port is set, then
// "beeswax=host:port" unless beeswax is off, then "web=host:port" when
// --webserver_port is set. The HTTP listener (HiveServer2 over HTTP)
// authenticates as the binary port does — --ldap_users with Basic,
// --keytab with SPNEGO (Negotiate) — and with JWTs (Bearer) signed by a key
// of --jwks_file_path; it issues auth cookies valid for
// --max_cookie_lifetime_s.
package main

import (
	"bufio"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/apache/thrift/lib/go/thrift"

	"github.com/impalalb/impalalb/internal/impalad"
	"github.com/impalalb/impalalb/internal/krbacceptor"
	"github.com/impalalb/impalalb/internal/saslserver"
	"github.com/impalalb/impalalb/kerberos"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "impalad:", err)
		os.Exit(1)
	}
}

//nolint:gocognit // the command's flags into the coordinators' Config, flag by flag
func run(args []string) error {
	fs := flag.NewFlagSet("impalad", flag.ContinueOnError)
	host := fs.String("host", "127.0.0.1", "address to listen on")
	hs2Port := fs.Int("hs2_port", 0, "HiveServer2 port (0: any free port)")
	bzPort := fs.Int("beeswax_port", 0, "beeswax port (0: any free port; -1: off)")
	webPort := fs.Int("webserver_port", -1, "web server port for /healthz and metrics (0: any free port; -1: off)")
	httpPort := fs.Int("hs2_http_port", -1, "HiveServer2 over HTTP port (0: any free port; -1: off)")
	jwks := fs.String("jwks_file_path", "", "JSON Web Key Set file: turns JWT authentication over HTTP on")
	jwtNoTLS := fs.Bool("jwt_allow_without_tls", false, "allow JWT authentication without TLS")
	jwtClaim := fs.String("jwt_custom_claim_username", "username", "JWT claim holding the user name")
	cookieLife := fs.Int64("max_cookie_lifetime_s", 86400, "lifetime of the HTTP auth cookies in seconds (0: no cookies)")
	serviceTime := fs.Duration("service_time", 0, "simulated work per statement")
	ddlDelay := fs.Duration("ddl_delay", 0, "catalog propagation delay (no peers in one process: see the package doc)")
	idle := fs.Duration("idle_session_timeout", 0, "expire sessions idle this long (0: never)")
	disconnected := fs.Duration("disconnected_session_timeout", 0, "keep HS2 sessions this long after their connection closed (0: 15m)")
	certFile := fs.String("tls_cert", "", "PEM certificate file: turns TLS on")
	keyFile := fs.String("tls_key", "", "PEM private key file for --tls_cert")
	usersFile := fs.String("ldap_users", "", "file of user:password lines: turns SASL PLAIN (LDAP) on")
	keytab := fs.String("keytab", "", "service keytab: turns SASL GSSAPI (Kerberos) on, for every principal in it")
	qop := fs.String("kerberos_qop", "auth", "GSSAPI security layers offered, comma-separated: auth, auth-int, auth-conf")
	version := fs.String("version", "", "version string to report")
	feThreads := fs.Int("fe_service_threads", 0, "connections served at once; more wait (0: no cap)")
	n := fs.Int("coordinators", 1, "coordinators to start, sharing one catalog")
	verbose := fs.Bool("v", false, "log connections, sessions and queries (each registered statement with its session, database and query options) to stderr")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to this file until the process ends")
	grace := fs.Int64("shutdown_grace_period_s", 120, "graceful shutdown: seconds before the coordinator may exit")
	deadline := fs.Int64("shutdown_deadline_s", 3600, "graceful shutdown: default deadline in seconds")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 1 {
		return errors.New("--coordinators must be at least 1")
	}
	// The coordinator ends waits on its own when a connection closes; the
	// per-call connectivity goroutine of Thrift's generated processors only
	// costs CPU here. (In-process users keep Thrift's default.)
	thrift.ServerConnectivityCheckInterval = 0
	cfg := impalad.Config{
		DisableBeeswax:             *bzPort < 0,
		ServiceTime:                *serviceTime,
		IdleSessionTimeout:         *idle,
		DisconnectedSessionTimeout: *disconnected,
		Version:                    *version,
		FrontendThreads:            *feThreads,
		Cluster:                    impalad.NewCluster(*ddlDelay),
		ShutdownGracePeriod:        time.Duration(*grace) * time.Second,
		ShutdownDeadline:           time.Duration(*deadline) * time.Second,
		JWKSFile:                   *jwks,
		JWTAllowWithoutTLS:         *jwtNoTLS,
		JWTUsernameClaim:           *jwtClaim,
		CookieLifetime:             time.Duration(*cookieLife) * time.Second,
	}
	if *cookieLife <= 0 {
		cfg.CookieLifetime = -1
	}
	if *grace <= 0 {
		cfg.ShutdownGracePeriod = time.Nanosecond
	}
	if *deadline <= 0 {
		cfg.ShutdownDeadline = time.Nanosecond
	}
	exited := make(chan struct{}, *n)
	cfg.OnShutdownDone = func() { exited <- struct{}{} }
	if *verbose {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if *certFile != "" || *keyFile != "" {
		cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
		if err != nil {
			return fmt.Errorf("load TLS certificate: %w", err)
		}
		cfg.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	if *usersFile != "" {
		users, err := readUsers(*usersFile)
		if err != nil {
			return err
		}
		cfg.Users = users
	}
	if *keytab != "" {
		var q kerberos.QOP
		for _, name := range strings.Split(*qop, ",") {
			switch strings.TrimSpace(name) {
			case "auth":
				q |= kerberos.QOPAuth
			case "auth-int":
				q |= kerberos.QOPAuthInt
			case "auth-conf":
				q |= kerberos.QOPAuthConf
			default:
				return fmt.Errorf("--kerberos_qop: unknown layer %q", name)
			}
		}
		acc, err := krbacceptor.New(krbacceptor.Config{KeytabPath: *keytab, QOP: q, Logger: cfg.Logger})
		if err != nil {
			return err
		}
		cfg.Mechanisms = map[string]saslserver.MechanismFactory{"GSSAPI": acc.Factory()}
		cfg.Negotiate = acc.AcceptNegotiate
	}
	port := func(base, i int) string {
		if base == 0 {
			return net.JoinHostPort(*host, "0")
		}
		return net.JoinHostPort(*host, strconv.Itoa(base+i))
	}
	var cos []*impalad.Coordinator
	closeAll := func() {
		for _, co := range cos {
			_ = co.Close() // on the way out: a close error changes nothing for the caller
		}
	}
	for i := range *n {
		c := cfg
		c.HS2Addr = port(*hs2Port, i)
		c.BeeswaxAddr = port(max(*bzPort, 0), i)
		if *webPort >= 0 {
			c.WebAddr = port(*webPort, i)
		}
		if *httpPort >= 0 {
			c.HS2HTTPAddr = port(*httpPort, i)
		}
		co, err := impalad.Start(c)
		if err != nil {
			closeAll()
			return err
		}
		cos = append(cos, co)
		fmt.Printf("hs2=%s\n", co.HS2Addr())
		if a := co.HS2HTTPAddr(); a != "" {
			fmt.Printf("hs2-http=%s\n", a)
		}
		if a := co.BeeswaxAddr(); a != "" {
			fmt.Printf("beeswax=%s\n", a)
		}
		if a := co.WebAddr(); a != "" {
			fmt.Printf("web=%s\n", a)
		}
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			closeAll()
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			closeAll()
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	waitEnd(cos, sig, exited)
	done := make(chan struct{})
	go func() {
		closeAll()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		return errors.New("close timed out")
	}
	return nil
}

// waitEnd returns when the process is to end: at SIGINT, or once every
// coordinator of cos has ended a graceful shutdown (exited receives one
// value for each), whatever started it: SIGTERM, which starts one on every
// coordinator as it does in Impala, or the statement ":shutdown()". Impala's
// ShutdownThread ends the process then (be/src/service/impala-server.cc).
func waitEnd(cos []*impalad.Coordinator, sig <-chan os.Signal, exited <-chan struct{}) {
	left := len(cos)
	for {
		select {
		case s := <-sig:
			if s != syscall.SIGTERM {
				return
			}
			for _, co := range cos {
				if co.ShuttingDown() {
					continue
				}
				if _, err := co.StartShutdown(-1); err != nil {
					fmt.Fprintf(os.Stderr, "impalad: shutdown %s: %v\n", co.HS2Addr(), err)
				}
			}
		case <-exited:
			if left--; left == 0 {
				return
			}
		}
	}
}

// readUsers reads "user:password" lines; blank lines and lines starting
// with # are skipped.
func readUsers(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read users: %w", err)
	}
	defer f.Close()
	users := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		u, p, ok := strings.Cut(line, ":")
		if !ok || u == "" {
			return nil, fmt.Errorf("read users: %s line %d: want user:password", path, n)
		}
		users[u] = p
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read users: %w", err)
	}
	return users, nil
}
