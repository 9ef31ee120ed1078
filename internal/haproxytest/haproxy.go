package haproxytest

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ErrNotInstalled is returned (wrapped) by Start when no haproxy binary is
// found.
var ErrNotInstalled = errors.New("haproxytest: haproxy not found on PATH: install Debian's haproxy (scripts/test.sh does)")

// Defaults used for zero fields of Options.
const (
	DefaultTimeoutConnect = 5 * time.Second
	DefaultTimeoutClient  = time.Hour
	DefaultTimeoutServer  = time.Hour
	DefaultInter          = 2 * time.Second
	DefaultFall           = 3
	DefaultRise           = 2
	DefaultRetries        = 3
	DefaultReadyTimeout   = 10 * time.Second
	DefaultStopTimeout    = 10 * time.Second
)

// Options configure one HAProxy process. The zero value of each field
// selects the default documented on it; Frontends must not be empty.
type Options struct {
	// Binary is the haproxy executable. Empty means "haproxy" looked up on
	// PATH (and in /usr/sbin, where Debian installs it).
	Binary string
	// Dir receives the configuration file and the stats socket. Empty:
	// StartT uses t.TempDir(); Start fails.
	Dir string
	// Frontends are the listeners, each with its own backend.
	Frontends []Frontend

	// TimeoutConnect, TimeoutClient and TimeoutServer are HAProxy's
	// "timeout connect/client/server". A short TimeoutClient makes the
	// proxy drop idle client connections, as the guide warns. Zero means
	// 5 s, 1 h and 1 h.
	TimeoutConnect, TimeoutClient, TimeoutServer time.Duration
	// Inter, Fall and Rise are the health-check period and the consecutive
	// failures and successes that take a server down or up ("default-server
	// inter 2s fall 3 rise 2", HAProxy's own defaults). Zero means those.
	Inter time.Duration
	Fall  int
	Rise  int
	// Retries is "retries": connection attempts to a server after the
	// first fails. Zero means 3; negative means 0.
	Retries int
	// NoRedispatch leaves out "option redispatch" (by default the last
	// retry goes to another server, as in the guide).
	NoRedispatch bool
	// MaxConn is "maxconn" in the global section (the defaults section gets
	// the same). Zero means 4000, the guide's value.
	MaxConn int
	// Threads is "nbthread". Zero leaves HAProxy's default (one per CPU).
	Threads int

	// ReadyTimeout bounds the wait for HAProxy to come up. Zero means 10 s.
	ReadyTimeout time.Duration
	// Stderr, when set, receives HAProxy's standard error (warnings and
	// alerts) as well; the last lines are kept for error messages anyway.
	Stderr io.Writer
}

// Frontend is one listener and its backend.
type Frontend struct {
	// Name names the frontend ("fe_<Name>") and its backend ("be_<Name>");
	// letters, digits, '-', '_' and '.'.
	Name string
	// Listener, when set, is the listening socket HAProxy takes over (it
	// must be a *net.TCPListener); Start closes this process's copy. Nil
	// means a new listener on 127.0.0.1 with a free port.
	Listener net.Listener
	// CertBundle, when set, makes the frontend end TLS with this PEM file
	// of certificate chain and unencrypted key ("bind ... ssl crt FILE"),
	// as certtest.Cert.WriteBundle writes it.
	CertBundle string
	// Balance is the algorithm: "leastconn" (empty), "source",
	// "roundrobin".
	Balance string
	// HTTP puts the frontend and its backend in "mode http", for
	// HiveServer2 over HTTP: HAProxy then reads each request and picks a
	// server for each (keep-alive connections on both sides), unless
	// StickyCookie or PreferLastServer keep a client's requests together.
	HTTP bool
	// StickyCookie, with HTTP, is the name of a cookie HAProxy inserts into
	// its answers and follows on later requests ("cookie NAME insert
	// indirect nocache", each server's Name its value): every request of a
	// client that sends it back reaches the same server, which is what an
	// HS2 session, living on one coordinator, needs. Empty means none.
	StickyCookie string
	// PreferLastServer, with HTTP, sends the requests of a client
	// connection to the server of its previous request, as TCP mode does
	// ("option prefer-last-server" with "http-reuse never", so that the
	// server connection stays the client connection's): a client that
	// reconnects may reach another server.
	PreferLastServer bool
	// HTTPCheck, when set, makes the backend's health checks HTTP
	// requests ("option httpchk <HTTPCheck>", such as "GET /healthz" for
	// an impalad's web server, with Server.CheckPort): a server is up while
	// it answers 2xx or 3xx. Empty: a TCP connect (or TLS handshake).
	HTTPCheck string
	// Servers are the backend's servers.
	Servers []Server
}

// Server is one backend server.
type Server struct {
	// Name is the server's name in the configuration and in Stats.
	Name string
	// Addr is host:port.
	Addr string
	// Check turns on health checks ("check"): TCP connect, or a TLS
	// handshake when TLS is set, or Frontend.HTTPCheck.
	Check bool
	// CheckPort is the port the health checks go to ("port N"), such as
	// an impalad's web server port. Zero: the port of Addr.
	CheckPort int
	// TLS, when set, makes HAProxy connect to the server over TLS
	// (bridging).
	TLS *ServerTLS
}

// ServerTLS is the TLS HAProxy speaks to one server.
type ServerTLS struct {
	// CAFile is the PEM CA bundle the server's certificate must chain to
	// ("ssl verify required ca-file FILE"). Required.
	CAFile string
	// VerifyHost is the name the certificate must hold ("verifyhost"); it
	// is also sent in SNI. Empty checks only the chain.
	VerifyHost string
}

// ServerStat is one server line of "show stat".
type ServerStat struct {
	// Backend is the backend's name ("be_<Frontend.Name>").
	Backend string
	// Server is Server.Name.
	Server string
	// Status is "UP", "DOWN", "UP 1/3" (going down), "DOWN 1/2" (going
	// up), "no check", "MAINT".
	Status string
	// Current is the number of sessions open now (scur).
	Current int64
	// Total counts sessions sent to the server (stot).
	Total int64
	// ConnectErrors counts failed connections to it (econ).
	ConnectErrors int64
	// Retries and Redispatches count connection retries and redispatches
	// to another server (wretr, wredis).
	Retries, Redispatches int64
	// CheckDowns counts UP to DOWN transitions (chkdown).
	CheckDowns int64
	// LastChange is the time since the last UP/DOWN change (lastchg).
	LastChange time.Duration
}

// Up reports whether HAProxy sends new sessions to the server: its status
// starts with "UP" or is "no check".
func (s ServerStat) Up() bool {
	return strings.HasPrefix(s.Status, "UP") || s.Status == "no check"
}

// Proxy is a running HAProxy process.
type Proxy struct {
	cmd    *exec.Cmd
	cfg    string
	sock   string
	addrs  map[string]string
	stderr *tailBuffer
	exited chan struct{}
	// waitErr is set before exited is closed.
	waitErr error

	stopOnce sync.Once
	stopErr  error
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// LookPath returns the haproxy executable to use for Options.Binary, or an
// error wrapping ErrNotInstalled.
func LookPath(binary string) (string, error) {
	if binary != "" {
		p, err := exec.LookPath(binary)
		if err != nil {
			return "", fmt.Errorf("%w (%w)", ErrNotInstalled, err)
		}
		return p, nil
	}
	if p, err := exec.LookPath("haproxy"); err == nil {
		return p, nil
	}
	if st, err := os.Stat("/usr/sbin/haproxy"); err == nil && st.Mode().IsRegular() {
		return "/usr/sbin/haproxy", nil
	}
	return "", ErrNotInstalled
}

// StartT starts HAProxy for a test, writing its files into t.TempDir()
// when opts.Dir is empty, and stops it in t.Cleanup. It fails the test when
// haproxy is missing or does not start.
func StartT(t testing.TB, opts Options) *Proxy {
	t.Helper()
	if _, err := LookPath(opts.Binary); err != nil {
		t.Fatal(err)
	}
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	p, err := Start(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			t.Errorf("haproxytest: stop: %v", err)
		}
	})
	return p
}

// Start writes the configuration into opts.Dir, starts "haproxy -db -f
// FILE" and returns when it answers on its stats socket. ctx bounds the
// start only; Stop ends the process. On error nothing is left running and
// the listeners of opts are closed.
func Start(ctx context.Context, opts Options) (_ *Proxy, err error) {
	// Listeners: ours to close in every case (HAProxy has its own copies).
	var files []*os.File
	addrs := map[string]string{}
	defer func() {
		for _, f := range files {
			f.Close()
		}
		for _, fe := range opts.Frontends {
			if fe.Listener != nil {
				fe.Listener.Close()
			}
		}
	}()
	bin, err := LookPath(opts.Binary)
	if err != nil {
		return nil, err
	}
	if opts.Dir == "" {
		return nil, errors.New("haproxytest: Options.Dir is required")
	}
	if len(opts.Frontends) == 0 {
		return nil, errors.New("haproxytest: no frontend")
	}
	for i := range opts.Frontends {
		fe := &opts.Frontends[i]
		if !nameRE.MatchString(fe.Name) {
			return nil, fmt.Errorf("haproxytest: frontend %d: bad name %q", i, fe.Name)
		}
		if _, dup := addrs[fe.Name]; dup {
			return nil, fmt.Errorf("haproxytest: frontend %q twice", fe.Name)
		}
		f, err := fe.listenerFile()
		if err != nil {
			return nil, err
		}
		files = append(files, f)
		addrs[fe.Name] = fe.Listener.Addr().String()
		if err := fe.check(); err != nil {
			return nil, err
		}
	}
	p := &Proxy{
		sock:   filepath.Join(opts.Dir, "haproxy.sock"),
		addrs:  addrs,
		stderr: &tailBuffer{max: 16 << 10},
		exited: make(chan struct{}),
	}
	if len(p.sock) > 100 {
		return nil, fmt.Errorf("haproxytest: Options.Dir too long for a unix socket path (%d bytes)", len(p.sock))
	}
	p.cfg = configText(&opts, p.sock)
	cfgFile := filepath.Join(opts.Dir, "haproxy.cfg")
	if err := os.WriteFile(cfgFile, []byte(p.cfg), 0o600); err != nil {
		return nil, fmt.Errorf("haproxytest: %w", err)
	}
	_ = os.Remove(p.sock) // a socket left by an earlier run, if any

	// Check the configuration first: a clear error instead of a process
	// that dies at once.
	check := exec.CommandContext(ctx, bin, "-c", "-f", cfgFile)
	check.ExtraFiles = files
	if out, err := check.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("haproxytest: configuration refused: %w: %s", err, strings.TrimSpace(string(out)))
	}

	cmd := exec.Command(bin, "-db", "-f", cfgFile)
	cmd.ExtraFiles = files
	cmd.Stdout = p.stderr
	cmd.Stderr = p.stderr
	if opts.Stderr != nil {
		cmd.Stdout = io.MultiWriter(p.stderr, opts.Stderr)
		cmd.Stderr = cmd.Stdout
	}
	// Its own process group, so that a Ctrl-C on the terminal reaches
	// only the program that started it, which then stops it in order.
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("haproxytest: start %s: %w", bin, err)
	}
	p.cmd = cmd
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()

	readyTimeout := opts.ReadyTimeout
	if readyTimeout <= 0 {
		readyTimeout = DefaultReadyTimeout
	}
	rctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	if err := p.waitReady(rctx); err != nil {
		_ = p.Stop() // err says why it did not start
		return nil, err
	}
	return p, nil
}

// listenerFile returns a file of the frontend's listener for HAProxy,
// listening on a loopback port first when it has none.
func (fe *Frontend) listenerFile() (*os.File, error) {
	if fe.Listener == nil {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("haproxytest: listen: %w", err)
		}
		fe.Listener = ln
	}
	tl, ok := fe.Listener.(*net.TCPListener)
	if !ok {
		return nil, fmt.Errorf("haproxytest: frontend %q: listener is %T, want *net.TCPListener", fe.Name, fe.Listener)
	}
	f, err := tl.File()
	if err != nil {
		return nil, fmt.Errorf("haproxytest: frontend %q: %w", fe.Name, err)
	}
	return f, nil
}

// check checks the frontend's servers and settings.
func (fe *Frontend) check() error {
	if len(fe.Servers) == 0 {
		return fmt.Errorf("haproxytest: frontend %q: no server", fe.Name)
	}
	for _, s := range fe.Servers {
		if !nameRE.MatchString(s.Name) || s.Addr == "" {
			return fmt.Errorf("haproxytest: frontend %q: bad server %q at %q", fe.Name, s.Name, s.Addr)
		}
		if s.TLS != nil && s.TLS.CAFile == "" {
			return fmt.Errorf("haproxytest: server %q: TLS without CAFile", s.Name)
		}
	}
	if strings.ContainsAny(fe.HTTPCheck, "\r\n") {
		return fmt.Errorf("haproxytest: frontend %q: HTTPCheck must be one line", fe.Name)
	}
	switch fe.Balance {
	case "", "leastconn", "source", "roundrobin":
	default:
		return fmt.Errorf("haproxytest: frontend %q: unknown balance %q", fe.Name, fe.Balance)
	}
	if (fe.StickyCookie != "" || fe.PreferLastServer) && !fe.HTTP {
		return fmt.Errorf("haproxytest: frontend %q: StickyCookie and PreferLastServer need HTTP", fe.Name)
	}
	if fe.StickyCookie != "" && !nameRE.MatchString(fe.StickyCookie) {
		return fmt.Errorf("haproxytest: frontend %q: bad cookie name %q", fe.Name, fe.StickyCookie)
	}
	return nil
}

// waitReady polls the stats socket until "show info" answers.
func (p *Proxy) waitReady(ctx context.Context) error {
	delay := time.Millisecond
	for {
		out, err := p.Command(ctx, "show info")
		if err == nil && strings.Contains(out, "Pid:") {
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("haproxytest: haproxy exited at start (%v): %s", p.waitErr, p.stderr.String()) //nolint:errorlint // waitErr is nil after a clean exit
		case <-ctx.Done():
			return fmt.Errorf("haproxytest: haproxy not ready: %w (last error: %v): %s", ctx.Err(), err, p.stderr.String()) //nolint:errorlint // err is nil when "show info" answered without a pid
		case <-time.After(delay):
		}
		delay = min(delay*2, 50*time.Millisecond)
	}
}

func configText(o *Options, sock string) string {
	dur := func(d, def time.Duration) string {
		if d <= 0 {
			d = def
		}
		return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
	}
	orInt := func(v, def int) int {
		if v == 0 {
			return def
		}
		return v
	}
	retries := o.Retries
	switch {
	case retries == 0:
		retries = DefaultRetries
	case retries < 0:
		retries = 0
	}
	maxconn := orInt(o.MaxConn, 4000)
	var b strings.Builder
	b.WriteString("# written by impalalb's internal/haproxytest\n")
	b.WriteString("global\n")
	fmt.Fprintf(&b, "    maxconn %d\n", maxconn)
	fmt.Fprintf(&b, "    stats socket %s mode 600 level admin\n", sock)
	if o.Threads > 0 {
		fmt.Fprintf(&b, "    nbthread %d\n", o.Threads)
	}
	b.WriteString("\ndefaults\n")
	b.WriteString("    mode tcp\n")
	if !o.NoRedispatch {
		b.WriteString("    option redispatch\n")
	}
	fmt.Fprintf(&b, "    retries %d\n", retries)
	fmt.Fprintf(&b, "    maxconn %d\n", maxconn)
	fmt.Fprintf(&b, "    timeout connect %s\n", dur(o.TimeoutConnect, DefaultTimeoutConnect))
	fmt.Fprintf(&b, "    timeout client %s\n", dur(o.TimeoutClient, DefaultTimeoutClient))
	fmt.Fprintf(&b, "    timeout server %s\n", dur(o.TimeoutServer, DefaultTimeoutServer))
	fmt.Fprintf(&b, "    default-server inter %s fall %d rise %d\n",
		dur(o.Inter, DefaultInter), orInt(o.Fall, DefaultFall), orInt(o.Rise, DefaultRise))
	for i, fe := range o.Frontends {
		fmt.Fprintf(&b, "\nfrontend fe_%s\n", fe.Name)
		if fe.HTTP {
			b.WriteString("    mode http\n")
		}
		// Inherited descriptors start at 3, in the order of ExtraFiles.
		fmt.Fprintf(&b, "    bind fd@%d", 3+i)
		if fe.CertBundle != "" {
			fmt.Fprintf(&b, " ssl crt %s", fe.CertBundle)
		}
		b.WriteString("\n")
		fmt.Fprintf(&b, "    default_backend be_%s\n", fe.Name)
		fmt.Fprintf(&b, "\nbackend be_%s\n", fe.Name)
		if fe.HTTP {
			b.WriteString("    mode http\n")
		}
		bal := fe.Balance
		if bal == "" {
			bal = "leastconn"
		}
		fmt.Fprintf(&b, "    balance %s\n", bal)
		if fe.PreferLastServer {
			// Never share the server connection of a client
			// connection with another: then the last server is the one
			// that connection holds.
			b.WriteString("    option prefer-last-server\n    http-reuse never\n")
		}
		if fe.StickyCookie != "" {
			fmt.Fprintf(&b, "    cookie %s insert indirect nocache\n", fe.StickyCookie)
		}
		if fe.HTTPCheck != "" {
			fmt.Fprintf(&b, "    option httpchk %s\n", fe.HTTPCheck)
		}
		for _, s := range fe.Servers {
			writeServer(&b, s, fe.StickyCookie != "")
		}
	}
	return b.String()
}

// writeServer writes the "server" line of s; cookie says the backend
// sticks by cookie.
func writeServer(b *strings.Builder, s Server, cookie bool) {
	fmt.Fprintf(b, "    server %s %s", s.Name, s.Addr)
	if s.Check {
		b.WriteString(" check")
		if s.CheckPort > 0 {
			fmt.Fprintf(b, " port %d", s.CheckPort)
		}
	}
	if cookie {
		fmt.Fprintf(b, " cookie %s", s.Name)
	}
	if t := s.TLS; t != nil {
		fmt.Fprintf(b, " ssl verify required ca-file %s", t.CAFile)
		if t.VerifyHost != "" {
			fmt.Fprintf(b, " verifyhost %s sni str(%s)", t.VerifyHost, t.VerifyHost)
		}
	}
	b.WriteString("\n")
}

// Addr returns the address ("127.0.0.1:port") of the named frontend, or ""
// when there is none of that name.
func (p *Proxy) Addr(frontend string) string { return p.addrs[frontend] }

// Config returns the configuration text HAProxy runs with.
func (p *Proxy) Config() string { return p.cfg }

// Pid returns HAProxy's process id.
func (p *Proxy) Pid() int { return p.cmd.Process.Pid }

// Output returns the last lines HAProxy wrote to its standard output and
// error (warnings, alerts, server state changes).
func (p *Proxy) Output() string { return p.stderr.String() }

// Command sends one command to the stats socket (HAProxy's runtime API,
// such as "show stat" or "disable server be_x/s1") and returns the answer.
func (p *Proxy) Command(ctx context.Context, command string) (string, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", p.sock)
	if err != nil {
		return "", fmt.Errorf("haproxytest: stats socket: %w", err)
	}
	defer c.Close()
	// A deadline on a socket just dialed cannot fail but for a closed
	// connection, which the write below reports.
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	} else {
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	}
	if _, err := io.WriteString(c, command+"\n"); err != nil {
		return "", fmt.Errorf("haproxytest: stats socket: %w", err)
	}
	out, err := io.ReadAll(c)
	if err != nil {
		return "", fmt.Errorf("haproxytest: stats socket: %w", err)
	}
	return string(out), nil
}

// Stats returns the server lines of "show stat", in configuration order.
func (p *Proxy) Stats(ctx context.Context) ([]ServerStat, error) {
	out, err := p.Command(ctx, "show stat")
	if err != nil {
		return nil, err
	}
	return parseStat(out)
}

func parseStat(out string) ([]ServerStat, error) {
	out = strings.TrimPrefix(strings.TrimLeft(out, " "), "# ")
	r := csv.NewReader(strings.NewReader(out))
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("haproxytest: show stat: %w", err)
	}
	if len(recs) == 0 {
		return nil, errors.New("haproxytest: show stat: empty answer")
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	for _, need := range []string{"pxname", "svname", "status", "scur", "stot"} {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("haproxytest: show stat: no %s column", need)
		}
	}
	get := func(rec []string, name string) string {
		i, ok := col[name]
		if !ok || i >= len(rec) {
			return ""
		}
		return rec[i]
	}
	num := func(rec []string, name string) int64 {
		n, _ := strconv.ParseInt(get(rec, name), 10, 64)
		return n
	}
	var stats []ServerStat
	for _, rec := range recs[1:] {
		sv := get(rec, "svname")
		if sv == "" || sv == "FRONTEND" || sv == "BACKEND" {
			continue
		}
		stats = append(stats, ServerStat{
			Backend:       get(rec, "pxname"),
			Server:        sv,
			Status:        get(rec, "status"),
			Current:       num(rec, "scur"),
			Total:         num(rec, "stot"),
			ConnectErrors: num(rec, "econ"),
			Retries:       num(rec, "wretr"),
			Redispatches:  num(rec, "wredis"),
			CheckDowns:    num(rec, "chkdown"),
			LastChange:    time.Duration(num(rec, "lastchg")) * time.Second,
		})
	}
	return stats, nil
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's times: 100 on every
// Linux architecture Go supports.
const clockTicks = 100

// CPUTime returns the user and system CPU time HAProxy has used so far, read
// from /proc/<pid>/stat (10 ms resolution).
func (p *Proxy) CPUTime() (user, system time.Duration, err error) {
	return ProcessCPUTime(p.Pid())
}

// ProcessCPUTime returns the user and system CPU time of process pid, read
// from /proc/<pid>/stat (Linux only; 10 ms resolution).
func ProcessCPUTime(pid int) (user, system time.Duration, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("haproxytest: cpu time: %w", err)
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// fields are counted after its closing parenthesis.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, 0, errors.New("haproxytest: cpu time: malformed /proc stat")
	}
	f := strings.Fields(string(data[i+1:]))
	// After ")" come field 3 (state) onwards; utime is field 14, stime 15.
	if len(f) < 13 {
		return 0, 0, errors.New("haproxytest: cpu time: short /proc stat")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, errors.New("haproxytest: cpu time: malformed /proc stat")
	}
	tick := time.Second / clockTicks
	return time.Duration(ut) * tick, time.Duration(st) * tick, nil
}

// Stop ends HAProxy: SIGTERM (a hard stop: connections are closed), then
// SIGKILL if it has not exited within 10 s. It is idempotent and safe to
// call from several goroutines.
func (p *Proxy) Stop() error {
	p.stopOnce.Do(func() {
		select {
		case <-p.exited:
			p.stopErr = fmt.Errorf("haproxytest: haproxy had exited (%v): %s", p.waitErr, p.stderr.String()) //nolint:errorlint // waitErr is nil after a clean exit
			return
		default:
		}
		_ = p.cmd.Process.Signal(syscall.SIGTERM) // fails only when it exited already
		select {
		case <-p.exited:
		case <-time.After(DefaultStopTimeout):
			_ = p.cmd.Process.Kill()
			<-p.exited
			p.stopErr = errors.New("haproxytest: haproxy ignored SIGTERM; killed")
		}
		_ = os.Remove(p.sock) // haproxy removes it itself on a clean exit
	})
	return p.stopErr
}

// Exited returns a channel closed when the HAProxy process has exited.
func (p *Proxy) Exited() <-chan struct{} { return p.exited }

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex // guards buf
	buf []byte
	max int
}

func (t *tailBuffer) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if len(t.buf) > t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
	return len(b), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.buf))
}
