package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/user"
	"strconv"
	"strings"
	"time"

	"github.com/impalalb/impalalb/balancer"
	"github.com/impalalb/impalalb/conn"
)

// defaultLocal is the number of in-process coordinators started without -i.
const defaultLocal = 3

// options are the parsed command line.
type options struct {
	impalads  []string // host:port, empty in local mode
	local     int      // in-process coordinators to start when impalads is empty
	query     string   // -q
	queryFile string   // -f ("-" is stdin)
	database  string   // -d

	kerberos            bool   // -k
	kerberosHostFQDN    string // -b
	kerberosServiceName string // -s
	ldap                bool   // -l
	user                string // -u
	ldapPasswordCmd     string
	credsOKInClear      bool
	ssl                 bool
	caCert              string
	verifyCert          bool
	jwt                 bool   // -j
	jwtCmd              string // --jwt_cmd

	protocol    conn.Protocol
	httpPath    string // --http_path (hs2-http)
	hs2XForward string // --hs2_x_forward (hs2-http): X-Forwarded-For

	delimited       bool   // -B
	outputDelimiter string // --output_delimiter, as given
	printHeader     bool
	vertical        bool   // -E
	outputFile      string // -o
	showProfiles    bool   // -p
	profileOutput   string // --profile_output
	profileFormat   string // --profile_format

	queryOptions queryOptions // -Q/--query_option, repeatable
	vars         varFlag      // --var, repeatable

	balance        balancer.Policy
	affinityKey    string
	haproxyConfig  string       // --haproxy_config
	haproxyBackend string       // --haproxy_backend
	syncDDL        conn.SyncDDL // --sync_ddl (never by default: one session runs the script)

	// Discovery and cluster-wide least connections (discovery.go).
	discovery           string        // --discovery: "", dns or impala
	discoveryInterval   time.Duration // --discovery_interval
	dnsServer           string        // --dns_server (discovery dns)
	clusterLoad         bool          // --cluster_load
	clusterLoadInterval time.Duration // --cluster_load_interval
	webPort             int           // --web_port
	webTLS              bool          // --web_tls
	webAuth             string        // --web_auth: "", none, basic or spnego

	ignoreFailures       bool // -c
	verbose              bool // -V / --quiet (verbose is the default)
	version              bool // -v
	liveProgress         bool // --live_progress / --disable_live_progress
	liveSummary          bool
	historyFile          string
	historyMax           int
	beeswaxCompatNumRows bool
	fetchSize            int
	connectTimeoutMs     int // -t

	configFile string // --config_file

	// Raw values checked once every source has been read.
	impalad  string
	localSet bool
	// set are the flags given on the command line (for the checks of
	// flags that exclude each other).
	set map[string]bool
}

// queryOptions is the repeatable --query_option k=v flag, in the order given.
type queryOptions struct {
	keys []string
	vals map[string]string
}

func (q *queryOptions) String() string {
	parts := make([]string, 0, len(q.keys))
	for _, k := range q.keys {
		parts = append(parts, k+"="+q.vals[k])
	}
	return strings.Join(parts, ",")
}

func (q *queryOptions) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	k = strings.ToUpper(strings.TrimSpace(k))
	if !ok || k == "" {
		return fmt.Errorf("want KEY=VALUE, got %q", s)
	}
	q.set(k, strings.TrimSpace(v))
	return nil
}

func (q *queryOptions) set(k, v string) {
	if q.vals == nil {
		q.vals = make(map[string]string)
	}
	if _, ok := q.vals[k]; !ok {
		q.keys = append(q.keys, k)
	}
	q.vals[k] = v
}

func (q *queryOptions) unset(k string) {
	if _, ok := q.vals[k]; !ok {
		return
	}
	delete(q.vals, k)
	for i, kk := range q.keys {
		if kk == k {
			q.keys = append(q.keys[:i], q.keys[i+1:]...)
			break
		}
	}
}

// clone returns an independent copy (nil map when empty).
func (q *queryOptions) clone() map[string]string {
	if len(q.vals) == 0 {
		return nil
	}
	m := make(map[string]string, len(q.vals))
	for k, v := range q.vals {
		m[k] = v
	}
	return m
}

// usageError is a bad command line: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// fatalError is a check impala-shell makes after reading its flags, which
// it reports with its message and exit status 1.
type fatalError struct{ msg string }

func (e *fatalError) Error() string { return e.msg }

// parseFlags reads impala-shell's flags: first the global config file and
// the user's (--config_file, default ~/.impalarc; see config.go), then the
// command line, which overrides them. flag.ErrHelp is returned for -h.
func parseFlags(args []string, stderr io.Writer) (*options, error) {
	// A first pass learns --config_file; its errors show in the second.
	probe := &options{}
	pfs := newFlagSet(probe, io.Discard)
	pfs.Usage = func() {}
	_ = pfs.Parse(args)
	explicit := false
	pfs.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "config_file" })

	o := &options{}
	fs := newFlagSet(o, stderr)
	verbose := true // impala-shell's verbose of the command line alone
	pfs.Visit(func(f *flag.Flag) {
		if f.Name == "quiet" {
			verbose = false
		}
	})
	entries, err := loadConfigFiles(probe.configFile, explicit, func(global bool, path string) {
		if !verbose {
			return
		}
		if global {
			fmt.Fprintf(stderr, "Loading in options from global config file: %s \n\n", path)
		} else {
			fmt.Fprintf(stderr, "Loading in options from config file: %s \n\n", path)
		}
	})
	if err != nil {
		return nil, &fatalError{err.Error()}
	}
	if err := applyConfig(fs, o, entries, stderr); err != nil {
		return nil, &fatalError{err.Error()}
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	o.set = map[string]bool{} // the flags of the command line
	pfs.Visit(func(f *flag.Flag) { o.set[f.Name] = true })
	if fs.NArg() > 0 {
		return nil, &usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	if err := o.check(); err != nil {
		return nil, err
	}
	return o, nil
}

// newFlagSet defines impala-shell's flags on o, with their defaults.
func newFlagSet(o *options, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("impala-shell", flag.ContinueOnError)
	fs.SetOutput(stderr)
	shortOf := map[string]string{} // long name → short name
	value := func(v flag.Value, short, long, usage string) {
		if short != "" {
			fs.Var(v, short, usage)
			shortOf[long] = short
		}
		fs.Var(v, long, usage)
	}
	str := func(p *string, short, long, def, usage string) {
		*p = def
		value((*stringValue)(p), short, long, usage)
	}
	boolean := func(p *bool, short, long string, usage string) {
		value((*boolValue)(p), short, long, usage)
	}
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: impala-shell [flags]   (an impala-shell that balances over the coordinators of -i)")
		isShort := map[string]bool{}
		for _, sh := range shortOf {
			isShort[sh] = true
		}
		fs.VisitAll(func(f *flag.Flag) {
			if isShort[f.Name] {
				return
			}
			name := "--" + f.Name
			if sh, ok := shortOf[f.Name]; ok {
				name = "-" + sh + ", " + name
			}
			arg, usage := flag.UnquoteUsage(f)
			if arg == "value" { // this file's own string and choice flags
				arg = "string"
			}
			if arg != "" {
				name += " " + arg
			}
			if f.DefValue != "" && f.DefValue != "false" {
				usage += fmt.Sprintf(" (default %q)", f.DefValue)
			}
			fmt.Fprintf(stderr, "  %-34s %s\n", name, usage)
		})
	}
	integer := func(p *int, short, long string, def int, usage string) {
		*p = def
		value((*intValue)(p), short, long, usage)
	}
	duration := func(p *time.Duration, long, usage string) {
		value((*durationValue)(p), "", long, usage)
	}
	str(&o.impalad, "i", "impalad", "", "coordinators to balance over, host[:port] comma-separated; none starts local in-process coordinators")
	fs.Func("local", "start `N` in-process test coordinators on loopback and connect to them (default 3 when -i is absent)", func(s string) error {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 64 {
			return errors.New("want a number from 1 to 64")
		}
		o.local, o.localSet = n, true
		return nil
	})
	str(&o.query, "q", "query", "", "run these statements and exit")
	str(&o.queryFile, "f", "query_file", "", "run the statements of this file (\"-\" for stdin) through one session and exit")
	str(&o.database, "d", "database", "", "database to use")
	boolean(&o.kerberos, "k", "kerberos", "authenticate with Kerberos (the credential cache of kinit)")
	str(&o.kerberosHostFQDN, "b", "kerberos_host_fqdn", "", "host of the Kerberos service principal, e.g. the load balancer's name")
	str(&o.kerberosServiceName, "s", "kerberos_service_name", "impala", "Kerberos service name")
	boolean(&o.ldap, "l", "ldap", "authenticate with LDAP (SASL PLAIN)")
	str(&o.user, "u", "user", "", "user name (default: the login user)")
	str(&o.ldapPasswordCmd, "", "ldap_password_cmd", "", "shell command whose output is the LDAP password")
	boolean(&o.credsOKInClear, "", "auth_creds_ok_in_clear", "allow LDAP passwords over connections without TLS")
	boolean(&o.ssl, "", "ssl", "connect with TLS")
	str(&o.caCert, "", "ca_cert", "", "PEM file of the CAs to trust with --ssl (default: the system's)")
	boolean(&o.verifyCert, "", "verify_cert", "verify the coordinators' certificates (always done: against --ca_cert, else the system's CAs)")
	o.protocol = conn.HS2
	value(&choiceValue[conn.Protocol]{p: &o.protocol, choices: []choice[conn.Protocol]{{"hs2", conn.HS2, false}, {"beeswax", conn.Beeswax, false}, {"hs2-http", conn.HS2HTTP, false}}},
		"", "protocol", "client protocol: hs2, beeswax or hs2-http (HiveServer2 over HTTP)")
	str(&o.httpPath, "", "http_path", conn.DefaultHTTPPath, "path of hs2-http requests on the coordinators (or the proxy in front)")
	str(&o.hs2XForward, "", "hs2_x_forward", "", "hs2-http: value of the X-Forwarded-For header")
	boolean(&o.jwt, "j", "jwt", "authenticate with a JWT (hs2-http)")
	str(&o.jwtCmd, "", "jwt_cmd", "", "shell command whose output is the JWT (with -j)")
	boolean(&o.delimited, "B", "delimited", "print rows delimited, without table borders")
	str(&o.outputDelimiter, "", "output_delimiter", `\t`, "field delimiter with -B")
	boolean(&o.printHeader, "", "print_header", "print column names with -B")
	boolean(&o.vertical, "E", "vertical", "print each row vertically, a field a line")
	str(&o.outputFile, "o", "output_file", "", "write results to this file")
	boolean(&o.showProfiles, "p", "show_profiles", "print the query profile after each statement")
	str(&o.profileOutput, "", "profile_output", "", "append profiles to this file instead of printing them")
	str(&o.profileFormat, "", "profile_format", "string", "profile format: string")
	value(&o.queryOptions, "Q", "query_option", "query option `KEY=VALUE` for the session (repeatable)")
	value(&o.vars, "", "var", "define variable `NAME=VALUE` for ${var:NAME} in statements (repeatable)")
	o.balance = balancer.LeastConn
	value(&choiceValue[balancer.Policy]{p: &o.balance, choices: []choice[balancer.Policy]{
		{"leastconn", balancer.LeastConn, false}, {"affinity", balancer.Affinity, false}, {"source", balancer.Affinity, true}}},
		"", "balance", "balancing policy: leastconn or affinity")
	str(&o.affinityKey, "", "affinity_key", "", "key of --balance affinity (default: this host's name)")
	o.syncDDL = conn.SyncDDLNever
	value(&choiceValue[conn.SyncDDL]{p: &o.syncDDL, choices: []choice[conn.SyncDDL]{
		{"never", conn.SyncDDLNever, false}, {"auto", conn.SyncDDLAuto, false}, {"always", conn.SyncDDLAlways, false}}},
		"", "sync_ddl", "add SYNC_DDL=1 to statements that change the catalog: never (the default: the script runs on one session, as impala-shell's), auto (when the session was not placed by an affinity key: after a move the next statements may run on a coordinator that has not seen the DDL yet) or always")
	str(&o.haproxyConfig, "", "haproxy_config", "", "take the coordinators, balancing, health checks and TLS from this haproxy.cfg")
	str(&o.haproxyBackend, "", "haproxy_backend", "", "the backend (or listen, or frontend) section of --haproxy_config to use (default: the only one with servers)")
	value(&choiceValue[string]{p: &o.discovery, choices: []choice[string]{{"dns", "dns", false}, {"impala", "impala", false}}},
		"", "discovery", "find the coordinators at run time, -i being the seeds: dns (each -i host's records) or impala (the coordinators' web servers' /backends)")
	duration(&o.discoveryInterval, "discovery_interval", "period of --discovery's polls (default 10s)")
	str(&o.dnsServer, "", "dns_server", "", "with --discovery dns: ask this DNS server (host:port) instead of the system's resolver")
	boolean(&o.clusterLoad, "", "cluster_load", "least connections over the whole cluster's load, read from the coordinators' web servers (/jsonmetrics)")
	duration(&o.clusterLoadInterval, "cluster_load_interval", "period of --cluster_load's reads (default 1s)")
	integer(&o.webPort, "", "web_port", balancer.DefaultWebPort, "the coordinators' web server port (--discovery impala, --cluster_load)")
	boolean(&o.webTLS, "", "web_tls", "HTTPS to the web servers, trusting --ca_cert")
	value(&choiceValue[string]{p: &o.webAuth, choices: []choice[string]{{"none", "none", false}, {"basic", "basic", false}, {"spnego", "spnego", false}}},
		"", "web_auth", "authentication to the web servers: none, basic (-l's user and password, --web_tls only) or spnego (-k) (default: basic with -l, spnego with -k)")
	boolean(&o.ignoreFailures, "c", "ignore_query_failure", "continue after a failed statement")
	o.verbose = true
	boolean(&o.verbose, "V", "verbose", "print messages (the default)")
	value((*notValue)(&o.verbose), "", "quiet", "print no messages")
	boolean(&o.version, "v", "version", "print the version and exit")
	o.liveProgress = true
	boolean(&o.liveProgress, "", "live_progress", "show a progress bar while a statement runs (interactive; the default)")
	value((*notValue)(&o.liveProgress), "", "disable_live_progress", "show no progress bar")
	boolean(&o.liveSummary, "", "live_summary", "show the execution summary while a statement runs (interactive only)")
	histDefault := "~/.impalahistory"
	if h := os.Getenv("IMPALA_HISTFILE"); h != "" {
		histDefault = h
	}
	str(&o.historyFile, "", "history_file", histDefault, "file of the interactive history")
	integer(&o.historyMax, "", "history_max", 1000, "statements kept in the history")
	boolean(&o.beeswaxCompatNumRows, "", "beeswax_compat_num_rows", "print \"Fetched 0 row(s)\" after statements without rows too")
	integer(&o.fetchSize, "", "fetch_size", 8192, "rows asked for by each fetch")
	integer(&o.connectTimeoutMs, "t", "client_connect_timeout_ms", 60000, "connect timeout in milliseconds (0: none)")
	str(&o.configFile, "", "config_file", "~/.impalarc", "read default flags from this file (sections [impala] and [impala.query_options])")
	return fs
}

// check validates the options once every source has been read: first
// what the flag parser of impala-shell rejects (exit status 2), then this
// shell's own flags, then, as *fatalError (exit status 1), the checks
// impala-shell makes after parsing, with its messages.
func (o *options) check() error {
	if (o.set["verbose"] || o.set["V"]) && o.set["quiet"] {
		return &usageError{"options --verbose and --quiet are mutually exclusive"}
	}
	if o.set["live_progress"] && o.set["disable_live_progress"] {
		return &usageError{"options --live_progress and --disable_live_progress are mutually exclusive"}
	}
	if o.affinityKey != "" && o.balance != balancer.Affinity {
		return &usageError{"--affinity_key needs --balance affinity"}
	}
	if o.haproxyBackend != "" && o.haproxyConfig == "" {
		return &usageError{"--haproxy_backend needs --haproxy_config"}
	}
	if o.haproxyConfig != "" && (o.impalad != "" || o.localSet) {
		return &usageError{"--haproxy_config names the coordinators: it excludes -i and --local"}
	}
	if err := o.checkDiscovery(); err != nil {
		return err
	}
	if o.fetchSize < 1 {
		return &usageError{"--fetch_size must be at least 1"}
	}
	if o.connectTimeoutMs < 0 {
		return &usageError{"-t/--client_connect_timeout_ms must not be negative"}
	}
	if !strings.EqualFold(o.profileFormat, "string") {
		return &usageError{"--profile_format: only string is supported by this shell"}
	}
	if err := o.checkCoordinators(); err != nil {
		return err
	}
	if o.query != "" && o.queryFile != "" {
		return &usageError{"-q and -f exclude each other"}
	}
	if o.hs2XForward != "" && o.protocol != conn.HS2HTTP {
		return &usageError{"--hs2_x_forward needs --protocol hs2-http"}
	}
	if o.kerberosHostFQDN != "" && !o.kerberos {
		return &usageError{"-b/--kerberos_host_fqdn needs -k"}
	}
	if o.caCert != "" && !o.ssl && !o.webTLS {
		return &usageError{"--ca_cert needs --ssl (or --web_tls)"}
	}
	if o.user == "" {
		o.user = loginUser()
	}
	return o.checkAsImpalaShell()
}

// checkCoordinators reads -i, or chooses the local coordinators when
// neither -i nor --haproxy_config names any.
func (o *options) checkCoordinators() error {
	port := "21050"
	switch o.protocol {
	case conn.Beeswax:
		port = "21000"
	case conn.HS2HTTP:
		port = "28000"
	}
	switch {
	case o.impalad != "":
		if o.localSet {
			return &usageError{"-i and --local exclude each other"}
		}
		addrs, err := parseImpalads(o.impalad, port)
		if err != nil {
			return &usageError{"-i: " + err.Error()}
		}
		o.impalads = addrs
	case o.haproxyConfig != "":
	default:
		if o.kerberos || o.ldap || o.ssl || o.jwt {
			return &usageError{"-k, -l, -j and --ssl need -i: the local in-process coordinators speak neither Kerberos, LDAP, JWT nor TLS"}
		}
		if !o.localSet {
			o.local = defaultLocal
		}
	}
	return nil
}

// checkAsImpalaShell makes impala-shell's own checks after parsing, in
// its order, with its messages.
func (o *options) checkAsImpalaShell() error {
	if o.version {
		return nil
	}
	if o.delimited {
		if d, ok := unescapeDelimiter(o.outputDelimiter); !ok {
			return &fatalError{"Illegal delimiter " + d + ", the delimiter must be a 1-character string."}
		}
	}
	if o.kerberos && o.ldap || o.jwt && (o.kerberos || o.ldap) {
		return &fatalError{"Please specify at most one authentication mechanism (-k, -l, -j, or -a)"}
	}
	if o.ldap && !o.ssl && !o.credsOKInClear {
		return &fatalError{"LDAP credentials may not be sent over insecure connections. Enable SSL or set --auth_creds_ok_in_clear"}
	}
	if o.ldapPasswordCmd != "" && !o.ldap {
		return &fatalError{"Option --ldap_password_cmd requires using LDAP authentication mechanism (-l)"}
	}
	if o.jwt && o.protocol != conn.HS2HTTP {
		return &fatalError{"Invalid protocol '" + o.protocol.String() + "'. JWT authentication requires using the 'hs2-http' protocol"}
	}
	if o.jwt && !o.ssl && !o.credsOKInClear {
		return &fatalError{"JWTs may not be sent over insecure connections. Enable SSL or set --auth_creds_ok_in_clear"}
	}
	if o.jwtCmd != "" && !o.jwt {
		return &fatalError{"Option --jwt_cmd requires using JWT authentication mechanism (-j)"}
	}
	return nil
}

// stringValue is a string flag.
type stringValue string

func (s *stringValue) String() string     { return string(*s) }
func (s *stringValue) Set(v string) error { *s = stringValue(v); return nil }
func (s *stringValue) Get() any           { return string(*s) }

// intValue is an int flag.
type intValue int

func (i *intValue) String() string { return strconv.Itoa(int(*i)) }
func (i *intValue) Set(v string) error {
	n, err := strconv.Atoi(v)
	if err != nil {
		return errors.New("want a whole number")
	}
	*i = intValue(n)
	return nil
}
func (i *intValue) Get() any { return int(*i) }

// durationValue is a Go duration flag (10s, 500ms); zero means the
// library's default.
type durationValue time.Duration

func (d *durationValue) String() string {
	if *d == 0 {
		return ""
	}
	return time.Duration(*d).String()
}
func (d *durationValue) Set(v string) error {
	x, err := time.ParseDuration(v)
	if err != nil || x <= 0 {
		return errors.New("want a positive Go duration such as 10s or 500ms")
	}
	*d = durationValue(x)
	return nil
}
func (d *durationValue) Get() any { return time.Duration(*d) }

// notValue is a switch that clears a bool (--quiet, --disable_live_progress).
type notValue bool

func (b *notValue) String() string { return strconv.FormatBool(!bool(*b)) }
func (b *notValue) Set(v string) error {
	x, err := strconv.ParseBool(v)
	if err != nil {
		return errors.New("want true or false")
	}
	*b = notValue(!x)
	return nil
}
func (b *notValue) Get() any         { return !bool(*b) }
func (b *notValue) IsBoolFlag() bool { return true }

// boolValue is a bool flag (-x alone sets it).
type boolValue bool

func (b *boolValue) String() string { return strconv.FormatBool(bool(*b)) }
func (b *boolValue) Set(v string) error {
	x, err := strconv.ParseBool(v)
	if err != nil {
		return errors.New("want true or false")
	}
	*b = boolValue(x)
	return nil
}
func (b *boolValue) Get() any         { return bool(*b) }
func (b *boolValue) IsBoolFlag() bool { return true }

// choiceValue is a flag taking one of a few names, case-insensitive. The
// first name of a value is the one shown; the others are aliases.
type choiceValue[T comparable] struct {
	p       *T
	choices []choice[T]
}

type choice[T comparable] struct {
	name  string
	value T
	alias bool // accepted, not listed
}

func (c *choiceValue[T]) String() string {
	if c.p == nil {
		return ""
	}
	for _, ch := range c.choices {
		if ch.value == *c.p {
			return ch.name
		}
	}
	return ""
}

func (c *choiceValue[T]) Set(s string) error {
	var shown []string
	for _, ch := range c.choices {
		if strings.EqualFold(strings.TrimSpace(s), ch.name) {
			*c.p = ch.value
			return nil
		}
		if !ch.alias {
			shown = append(shown, ch.name)
		}
	}
	want := strings.Join(shown[:len(shown)-1], ", ") + " or " + shown[len(shown)-1]
	return fmt.Errorf("want %s, got %q", want, s)
}

// parseImpalads splits a comma-separated list of host[:port], adding port
// where missing. Bare IPv6 addresses are accepted with or without brackets.
func parseImpalads(s, port string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		var host, p string
		switch {
		case strings.HasPrefix(part, "["):
			h, pp, err := net.SplitHostPort(part)
			if err != nil {
				if !strings.HasSuffix(part, "]") {
					return nil, fmt.Errorf("bad address %q", part)
				}
				h, pp = strings.Trim(part, "[]"), port
			}
			host, p = h, pp
		case strings.Count(part, ":") > 1: // bare IPv6
			host, p = part, port
		case strings.Contains(part, ":"):
			h, pp, err := net.SplitHostPort(part)
			if err != nil {
				return nil, fmt.Errorf("bad address %q", part)
			}
			host, p = h, pp
		default:
			host, p = part, port
		}
		n, err := strconv.Atoi(p)
		if host == "" || strings.ContainsAny(host, " \t\r\n/") || err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("bad address %q", part)
		}
		a := net.JoinHostPort(host, p)
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no coordinator given")
	}
	return out, nil
}

// loginUser is impala-shell's default user: the login name.
func loginUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return os.Getenv("USER")
}
