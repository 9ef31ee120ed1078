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

	protocol conn.Protocol

	delimited       bool   // -B
	outputDelimiter string // --output_delimiter
	printHeader     bool
	outputFile      string // -o

	queryOptions queryOptions // --query_option, repeatable

	balance     balancer.Policy
	affinityKey string

	ignoreFailures bool // -c
	quiet          bool
	verbose        bool
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

func (q *queryOptions) unset(k string) bool {
	if _, ok := q.vals[k]; !ok {
		return false
	}
	delete(q.vals, k)
	for i, kk := range q.keys {
		if kk == k {
			q.keys = append(q.keys[:i], q.keys[i+1:]...)
			break
		}
	}
	return true
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

// parseFlags reads impala-shell's flags. flag.ErrHelp is returned for -h.
func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("impala-shell", flag.ContinueOnError)
	fs.SetOutput(stderr)
	shortOf := map[string]string{} // long name → short name
	str := func(p *string, short, long, def, usage string) {
		if short != "" {
			fs.StringVar(p, short, def, usage)
			shortOf[long] = short
		}
		fs.StringVar(p, long, def, usage)
	}
	boolean := func(p *bool, short, long string, usage string) {
		if short != "" {
			fs.BoolVar(p, short, false, usage)
			shortOf[long] = short
		}
		fs.BoolVar(p, long, false, usage)
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
			if arg != "" {
				name += " " + arg
			}
			if f.DefValue != "" && f.DefValue != "false" {
				usage += fmt.Sprintf(" (default %q)", f.DefValue)
			}
			fmt.Fprintf(stderr, "  %-34s %s\n", name, usage)
		})
	}
	var impalad, protocol, balance string
	localSet := false
	str(&impalad, "i", "impalad", "", "coordinators to balance over, host[:port] comma-separated; none starts local in-process coordinators")
	fs.Func("local", "start `N` in-process test coordinators on loopback and connect to them (default 3 when -i is absent)", func(s string) error {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 64 {
			return errors.New("want a number from 1 to 64")
		}
		o.local, localSet = n, true
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
	fs.StringVar(&o.ldapPasswordCmd, "ldap_password_cmd", "", "shell command whose output is the LDAP password")
	fs.BoolVar(&o.credsOKInClear, "auth_creds_ok_in_clear", false, "allow LDAP passwords over connections without TLS")
	fs.BoolVar(&o.ssl, "ssl", false, "connect with TLS")
	fs.StringVar(&o.caCert, "ca_cert", "", "PEM file of the CAs to trust with --ssl (default: the system's)")
	fs.StringVar(&protocol, "protocol", "hs2", "client protocol: hs2 or beeswax")
	boolean(&o.delimited, "B", "delimited", "print rows delimited, without table borders")
	fs.StringVar(&o.outputDelimiter, "output_delimiter", "\t", "field delimiter with -B")
	fs.BoolVar(&o.printHeader, "print_header", false, "print column names with -B")
	str(&o.outputFile, "o", "output_file", "", "write results to this file")
	fs.Var(&o.queryOptions, "query_option", "query option `KEY=VALUE` for the session (repeatable)")
	fs.StringVar(&balance, "balance", "leastconn", "balancing policy: leastconn or affinity")
	fs.StringVar(&o.affinityKey, "affinity_key", "", "key of --balance affinity (default: this host's name)")
	boolean(&o.ignoreFailures, "c", "ignore_query_failure", "continue after a failed statement")
	fs.BoolVar(&o.quiet, "quiet", false, "print no informational messages")
	boolean(&o.verbose, "V", "verbose", "print more informational messages")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, &usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	switch strings.ToLower(protocol) {
	case "hs2":
		o.protocol = conn.HS2
	case "beeswax":
		o.protocol = conn.Beeswax
	default:
		return nil, &usageError{fmt.Sprintf("--protocol: want hs2 or beeswax, got %q", protocol)}
	}
	switch strings.ToLower(balance) {
	case "leastconn":
		o.balance = balancer.LeastConn
	case "affinity", "source":
		o.balance = balancer.Affinity
	default:
		return nil, &usageError{fmt.Sprintf("--balance: want leastconn or affinity, got %q", balance)}
	}
	if o.affinityKey != "" && o.balance != balancer.Affinity {
		return nil, &usageError{"--affinity_key needs --balance affinity"}
	}
	if impalad != "" {
		if localSet {
			return nil, &usageError{"-i and --local exclude each other"}
		}
		port := "21050"
		if o.protocol == conn.Beeswax {
			port = "21000"
		}
		addrs, err := parseImpalads(impalad, port)
		if err != nil {
			return nil, &usageError{"-i: " + err.Error()}
		}
		o.impalads = addrs
	} else {
		if o.kerberos || o.ldap || o.ssl {
			return nil, &usageError{"-k, -l and --ssl need -i: the local in-process coordinators speak neither Kerberos, LDAP nor TLS"}
		}
		if !localSet {
			o.local = defaultLocal
		}
	}
	if o.query != "" && o.queryFile != "" {
		return nil, &usageError{"-q and -f exclude each other"}
	}
	if o.kerberos && o.ldap {
		return nil, &usageError{"-k and -l exclude each other"}
	}
	if o.kerberosHostFQDN != "" && !o.kerberos {
		return nil, &usageError{"-b/--kerberos_host_fqdn needs -k"}
	}
	if o.ldapPasswordCmd != "" && !o.ldap {
		return nil, &usageError{"--ldap_password_cmd needs -l"}
	}
	if o.ldap && !o.ssl && !o.credsOKInClear {
		return nil, &usageError{"LDAP credentials may not be sent over insecure connections: use --ssl, or --auth_creds_ok_in_clear"}
	}
	if o.caCert != "" && !o.ssl {
		return nil, &usageError{"--ca_cert needs --ssl"}
	}
	if o.outputDelimiter == `\t` {
		o.outputDelimiter = "\t"
	}
	if o.delimited && o.outputDelimiter == "" {
		return nil, &usageError{"--output_delimiter must not be empty"}
	}
	if o.user == "" {
		o.user = loginUser()
	}
	return o, nil
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
