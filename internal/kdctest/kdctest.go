package kdctest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Options configures [Start]. The zero value is usable.
type Options struct {
	// Realm is the Kerberos realm. Empty means "IMPALALB.TEST".
	Realm string
	// Domain is the DNS domain mapped to the realm. Empty means "impalalb.test".
	Domain string
	// ServiceName is the service part of the service principals. Empty means "impala".
	ServiceName string
	// LBHost is the load balancer's host name (kerberos_host_fqdn). Empty
	// means "lb." + Domain.
	LBHost string
	// Hosts are coordinator host names; each gets the principal
	// ServiceName/host and a keytab holding it and the LB principal.
	Hosts []string
	// User is the user principal's name (without realm). Empty means "alice".
	User string
	// TicketLifetime caps every ticket's lifetime (realm max_life, principal
	// maxlife, krb5.conf ticket_lifetime). Zero means 10 hours. MIT counts in
	// whole seconds.
	TicketLifetime time.Duration
	// RenewLifetime is the renewable lifetime. Zero means tickets are not
	// renewable.
	RenewLifetime time.Duration
}

// KDC is a running MIT KDC. Its fields are read-only.
type KDC struct {
	// Realm is the realm name.
	Realm string
	// Domain is the DNS domain of the test hosts.
	Domain string
	// ServiceName is the service part of the service principals.
	ServiceName string
	// LBHost is the load balancer's host name.
	LBHost string
	// Hosts are the coordinator host names.
	Hosts []string
	// User is the user principal's name without realm.
	User string
	// Password is the user's password.
	Password string
	// Dir is the realm's directory (inside t.TempDir()).
	Dir string
	// Krb5Conf is the path of the client krb5.conf.
	Krb5Conf string
	// KDCConf is the path of the KDC profile (kdc.conf).
	KDCConf string
	// UserKeytab is a keytab holding the user's keys.
	UserKeytab string
	// Addr is the KDC's address (127.0.0.1:port, UDP and TCP).
	Addr string
	// TicketLifetime is the maximum ticket lifetime the realm grants.
	TicketLifetime time.Duration

	bins binaries

	mu   sync.Mutex // guards cmd and done
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

type binaries struct {
	krb5kdc, kdb5util, kadmin, kinit string
}

// searchDirs are looked at after PATH: the sbin directories are not always
// in PATH. Tests replace it.
var searchDirs = []string{"/usr/sbin", "/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"}

// findBinary looks for an MIT tool in PATH and in searchDirs.
func findBinary(name string) (string, bool) {
	if p, err := exec.LookPath(name); err == nil {
		return p, true
	}
	for _, dir := range searchDirs {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, true
		}
	}
	return "", false
}

func lookBinaries() (binaries, error) {
	var b binaries
	var missing []string
	for _, x := range []struct {
		dst  *string
		name string
		pkg  string
	}{
		{&b.krb5kdc, "krb5kdc", "krb5-kdc"},
		{&b.kdb5util, "kdb5_util", "krb5-kdc"},
		{&b.kadmin, "kadmin.local", "krb5-admin-server"},
		{&b.kinit, "kinit", "krb5-user"},
	} {
		p, ok := findBinary(x.name)
		if !ok {
			missing = append(missing, fmt.Sprintf("%s (Debian package %s)", x.name, x.pkg))
			continue
		}
		*x.dst = p
	}
	if len(missing) > 0 {
		return b, fmt.Errorf("kdctest: MIT Kerberos binaries missing: %s; install them with: apt-get install -y krb5-kdc krb5-admin-server krb5-user",
			strings.Join(missing, ", "))
	}
	return b, nil
}

// Available reports whether the MIT KDC binaries are installed, and if not,
// an error naming the packages to install.
func Available() error {
	_, err := lookBinaries()
	return err
}

// Start creates a realm and starts its KDC. It fails the test (never skips)
// when the MIT binaries are missing or the KDC does not come up. The KDC is
// stopped in t.Cleanup.
func Start(t testing.TB, opts Options) *KDC {
	t.Helper()
	bins, err := lookBinaries()
	if err != nil {
		t.Fatal(err)
	}
	k := &KDC{
		Realm:       orDefault(opts.Realm, "IMPALALB.TEST"),
		Domain:      orDefault(opts.Domain, "impalalb.test"),
		ServiceName: orDefault(opts.ServiceName, "impala"),
		User:        orDefault(opts.User, "alice"),
		Hosts:       append([]string(nil), opts.Hosts...),
		Dir:         t.TempDir(),
		bins:        bins,
	}
	k.LBHost = orDefault(opts.LBHost, "lb."+k.Domain)
	k.TicketLifetime = opts.TicketLifetime
	if k.TicketLifetime <= 0 {
		k.TicketLifetime = 10 * time.Hour
	}
	k.Password = randomHex(12)
	k.Krb5Conf = filepath.Join(k.Dir, "krb5.conf")
	k.KDCConf = filepath.Join(k.Dir, "kdc.conf")
	k.UserKeytab = filepath.Join(k.Dir, "user.keytab")

	port, err := freePort()
	if err != nil {
		t.Fatalf("kdctest: no free loopback port: %v", err)
	}
	k.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	if err := k.writeConfigs(port, opts); err != nil {
		t.Fatal(err)
	}

	// kdb5_util create -s: database and stash file, master password random.
	if out, err := k.run(bins.kdb5util, nil, "-r", k.Realm, "create", "-s", "-P", randomHex(16)); err != nil {
		t.Fatalf("kdctest: kdb5_util create: %v\n%s", err, out)
	}
	life := seconds(k.TicketLifetime)
	renew := "0"
	if opts.RenewLifetime > 0 {
		renew = seconds(opts.RenewLifetime)
	}
	queries := []string{
		fmt.Sprintf("modprinc -maxlife %s -maxrenewlife %s krbtgt/%s@%s", life, renew, k.Realm, k.Realm),
		fmt.Sprintf("addprinc -pw %s -maxlife %s -maxrenewlife %s %s", k.Password, life, renew, k.User),
		fmt.Sprintf("ktadd -k %s -norandkey %s", k.UserKeytab, k.User),
		fmt.Sprintf("addprinc -randkey -maxlife %s -maxrenewlife %s %s", life, renew, k.LBPrincipal()),
	}
	for _, h := range k.Hosts {
		queries = append(queries, fmt.Sprintf("addprinc -randkey -maxlife %s -maxrenewlife %s %s", life, renew, k.HostPrincipal(h)))
	}
	for _, h := range k.Hosts {
		queries = append(queries, fmt.Sprintf("ktadd -k %s -norandkey %s %s", k.Keytab(h), k.HostPrincipal(h), k.LBPrincipal()))
	}
	for _, q := range queries {
		if err := k.kadmin(q); err != nil {
			t.Fatal(err)
		}
	}
	if err := k.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := k.stop(); err != nil {
			t.Errorf("kdctest: stopping krb5kdc: %v", err)
		}
	})
	return k
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func seconds(d time.Duration) string {
	s := int64(d / time.Second)
	if s < 1 {
		s = 1
	}
	return strconv.FormatInt(s, 10)
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// freePort finds a port free for both TCP and UDP on 127.0.0.1, below the
// kernel's ephemeral range where it can: krb5kdc binds it after we let go
// of it, and Restart binds it again after Stop, so it must not be a port
// the kernel hands out to other programs' outgoing connections or port-0
// listeners in between (the test suite runs packages in parallel).
func freePort() (int, error) {
	lo, hi := 20000, ephemeralLow()
	for range 64 {
		port := 0
		if hi > lo {
			port = lo + mrand.IntN(hi-lo) //nolint:gosec // G404: a port to try, no secret
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			if port != 0 {
				continue
			}
			return 0, err
		}
		port = l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		_ = l.Close()
		if err != nil {
			continue
		}
		_ = u.Close()
		return port, nil
	}
	return 0, errors.New("no port free for both tcp and udp")
}

// ephemeralLow is the first port of Linux's ephemeral range, or 0 when it
// cannot be read (then freePort takes any free port).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0
	}
	n, err := strconv.Atoi(f[0])
	if err != nil {
		return 0
	}
	return n
}

func (k *KDC) writeConfigs(port int, opts Options) error {
	d := k.Dir
	life := seconds(k.TicketLifetime)
	renew := "0"
	if opts.RenewLifetime > 0 {
		renew = seconds(opts.RenewLifetime)
	}
	listen := fmt.Sprintf("127.0.0.1:%d", port)
	kdcConf := fmt.Sprintf(`[kdcdefaults]
	kdc_listen = %[1]s
	kdc_tcp_listen = %[1]s

[realms]
	%[2]s = {
		database_name = %[3]s
		key_stash_file = %[4]s
		acl_file = %[5]s
		kdc_listen = %[1]s
		kdc_tcp_listen = %[1]s
		max_life = %[6]s
		max_renewable_life = %[7]s
		master_key_type = aes256-cts-hmac-sha1-96
		supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
	}

[logging]
	kdc = FILE:%[8]s
	admin_server = FILE:%[9]s
	default = FILE:%[8]s
`, listen, k.Realm, filepath.Join(d, "principal"), filepath.Join(d, "stash"), filepath.Join(d, "kadm5.acl"),
		life, renew, filepath.Join(d, "kdc.log"), filepath.Join(d, "kadmin.log"))

	var dr strings.Builder
	fmt.Fprintf(&dr, "\t.%s = %s\n\t%s = %s\n", k.Domain, k.Realm, k.Domain, k.Realm)
	for _, h := range append([]string{k.LBHost}, k.Hosts...) {
		fmt.Fprintf(&dr, "\t%s = %s\n", h, k.Realm)
	}
	renewLine := ""
	if opts.RenewLifetime > 0 {
		renewLine = fmt.Sprintf("\trenew_lifetime = %s\n", renew)
	}
	krb5Conf := fmt.Sprintf(`[libdefaults]
	default_realm = %[1]s
	dns_lookup_kdc = false
	dns_lookup_realm = false
	dns_canonicalize_hostname = false
	rdns = false
	udp_preference_limit = 1
	ticket_lifetime = %[2]s
%[3]s	forwardable = false
	default_tkt_enctypes = aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96
	default_tgs_enctypes = aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96
	permitted_enctypes = aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96

[realms]
	%[1]s = {
		kdc = %[4]s
	}

[domain_realm]
%[5]s`, k.Realm, life, renewLine, listen, dr.String())

	for name, content := range map[string]string{
		k.KDCConf:                     kdcConf,
		k.Krb5Conf:                    krb5Conf,
		filepath.Join(d, "kadm5.acl"): "",
	} {
		if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
			return fmt.Errorf("kdctest: %w", err)
		}
	}
	return nil
}

// Env is the environment for MIT tools and libraries using this realm:
// KRB5_CONFIG and KRB5_KDC_PROFILE set, KRB5CCNAME and KRB5_KTNAME removed
// from the process environment.
func (k *KDC) Env() []string {
	var env []string
	for _, e := range os.Environ() {
		switch {
		case strings.HasPrefix(e, "KRB5_CONFIG="), strings.HasPrefix(e, "KRB5_KDC_PROFILE="),
			strings.HasPrefix(e, "KRB5CCNAME="), strings.HasPrefix(e, "KRB5_KTNAME="),
			strings.HasPrefix(e, "KRB5_CLIENT_KTNAME="):
			continue
		}
		env = append(env, e)
	}
	return append(env, "KRB5_CONFIG="+k.Krb5Conf, "KRB5_KDC_PROFILE="+k.KDCConf)
}

func (k *KDC) run(bin string, stdin []byte, args ...string) ([]byte, error) {
	cmd := exec.Command(bin, args...)
	cmd.Dir = k.Dir
	cmd.Env = k.Env()
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	return cmd.CombinedOutput()
}

// kadmin runs one kadmin.local query. The output is returned in the error
// only; queries carrying a password are not echoed.
func (k *KDC) kadmin(q string) error {
	out, err := k.run(k.bins.kadmin, nil, "-r", k.Realm, "-q", q)
	shown := q
	if strings.Contains(q, "-pw ") {
		shown = "addprinc -pw <redacted> ..."
	}
	if err != nil {
		return fmt.Errorf("kdctest: kadmin.local %q: %w\n%s", shown, err, out)
	}
	// kadmin.local exits 0 on many failures; look for its error words.
	if bytes.Contains(out, []byte(" while ")) {
		return fmt.Errorf("kdctest: kadmin.local %q failed:\n%s", shown, out)
	}
	return nil
}

// UserPrincipal is the user's principal name with realm.
func (k *KDC) UserPrincipal() string { return k.User + "@" + k.Realm }

// LBPrincipal is ServiceName/LBHost@Realm.
func (k *KDC) LBPrincipal() string { return k.HostPrincipal(k.LBHost) }

// HostPrincipal is ServiceName/host@Realm.
func (k *KDC) HostPrincipal(host string) string {
	return k.ServiceName + "/" + host + "@" + k.Realm
}

// Keytab is the path of the keytab of coordinator host: it holds
// HostPrincipal(host) and LBPrincipal(), as Impala's guide prescribes for
// coordinators behind a proxy. Only hosts given in Options.Hosts have one.
func (k *KDC) Keytab(host string) string {
	return filepath.Join(k.Dir, "keytab-"+strings.ReplaceAll(host, "/", "_"))
}

// AddPrincipal adds a principal with a random key to the realm (for example a
// service principal that no coordinator's keytab holds). name may omit the
// realm.
func (k *KDC) AddPrincipal(t testing.TB, name string) {
	t.Helper()
	if err := k.kadmin(fmt.Sprintf("addprinc -randkey -maxlife %s %s", seconds(k.TicketLifetime), name)); err != nil {
		t.Fatal(err)
	}
}

// WriteKeytab exports the named principals' current keys (not re-randomized)
// to a new keytab file and returns its path.
func (k *KDC) WriteKeytab(t testing.TB, principals ...string) string {
	t.Helper()
	p := filepath.Join(k.Dir, "extra-"+randomHex(4)+".keytab")
	if err := k.kadmin(fmt.Sprintf("ktadd -k %s -norandkey %s", p, strings.Join(principals, " "))); err != nil {
		t.Fatal(err)
	}
	return p
}

// Kinit obtains the user's TGT with MIT's kinit into the credential cache
// file at path (written as FILE:path). args are extra kinit options, such
// as "-r", "1m" for a renewable TGT.
func (k *KDC) Kinit(t testing.TB, path string, args ...string) {
	t.Helper()
	args = append(append(args, "-c", "FILE:"+path), k.UserPrincipal())
	out, err := k.run(k.bins.kinit, []byte(k.Password+"\n"), args...)
	if err != nil {
		t.Fatalf("kdctest: kinit: %v\n%s", err, out)
	}
}

// Running reports whether krb5kdc is running.
func (k *KDC) Running() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.cmd != nil
}

// Stop stops krb5kdc (for "KDC down" tests). The realm stays; Restart
// brings the KDC back on the same port.
func (k *KDC) Stop(t testing.TB) {
	t.Helper()
	if err := k.stop(); err != nil {
		t.Fatalf("kdctest: stop: %v", err)
	}
}

// Restart starts krb5kdc again on the same address after Stop.
func (k *KDC) Restart(t testing.TB) {
	t.Helper()
	if err := k.start(); err != nil {
		t.Fatal(err)
	}
}

func (k *KDC) start() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cmd != nil {
		return nil
	}
	logFile := filepath.Join(k.Dir, "krb5kdc.out")
	out, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("kdctest: %w", err)
	}
	defer func() { _ = out.Close() }()
	// -n: stay in the foreground so that the process is ours to stop.
	cmd := exec.Command(k.bins.krb5kdc, "-n", "-r", k.Realm, "-P", filepath.Join(k.Dir, "krb5kdc.pid"))
	cmd.Dir = k.Dir
	cmd.Env = k.Env()
	cmd.Stdout = out
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("kdctest: starting krb5kdc: %w", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	// Wait until the TCP listener answers, the process dies, or 15 s pass.
	deadline := time.Now().Add(15 * time.Second)
	wait := 5 * time.Millisecond
	for {
		c, err := net.DialTimeout("tcp", k.Addr, time.Second)
		if err == nil {
			_ = c.Close()
			break
		}
		select {
		case <-done:
			logs, _ := os.ReadFile(logFile)
			kdcLog, _ := os.ReadFile(filepath.Join(k.Dir, "kdc.log"))
			return fmt.Errorf("kdctest: krb5kdc exited at start:\n%s\n%s", logs, kdcLog)
		case <-time.After(wait):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-done
			return fmt.Errorf("kdctest: krb5kdc did not listen on %s within 15s", k.Addr)
		}
		wait = min(wait*2, 200*time.Millisecond)
	}
	k.cmd = cmd
	k.done = done
	return nil
}

func (k *KDC) stop() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cmd == nil {
		return nil
	}
	cmd, done := k.cmd, k.done
	k.cmd, k.done = nil, nil
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
		return nil
	case <-time.After(10 * time.Second):
	}
	_ = cmd.Process.Kill()
	<-done
	return errors.New("krb5kdc ignored SIGTERM for 10s and was killed")
}
