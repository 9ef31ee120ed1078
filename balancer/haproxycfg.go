package balancer

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// This file reads the configuration of the HAProxy that Impala's
// load-balancer guide puts in front of the coordinators, so that a service
// can drop the proxy and keep its settings: the servers of one backend (or
// listen) section become the pool's coordinators, "balance" its policy,
// "check" with inter/rise/fall/slowstart its health checks, "ssl ca-file"
// the TLS of its sessions. The keywords and their defaults are those of
// HAProxy's configuration manual (doc/configuration.txt of HAProxy 2.x);
// HAProxy 1.x's address on the "listen" line, as the guide writes it, is
// accepted too.

// HAProxyBackend is what an HAProxy configuration says about one backend
// (a "backend" or "listen" section, with the "defaults" section it
// inherits), in the terms of a client-side pool. Fields the file leaves
// unset hold HAProxy's own defaults. [HAProxyBackend.Apply] puts the pool's
// part onto a [Config]; TLS, CAFile, ServerName and ClientCertFile are for
// the dialer of the sessions (conn.Options in impalalb).
type HAProxyBackend struct {
	// File is the configuration file read ("" when read from a string).
	File string
	// Name is the backend or listen section read.
	Name string

	// Coordinators are the addresses of the section's servers, host:port,
	// in file order, without the disabled and the backup ones (see Ignored).
	Coordinators []string
	// Policy is "balance": leastconn gives LeastConn, source Affinity (keyed
	// on this host, as HAProxy hashes the client's address), roundrobin and
	// static-rr RoundRobin. HAProxy's default, without "balance", is
	// roundrobin. Other algorithms are reported in Ignored and give
	// LeastConn.
	Policy Policy

	// Check reports whether the servers have "check": HAProxy checks them
	// actively. Without it HAProxy sends to a server until a connection to
	// it fails; Apply then turns the pool's active checks off.
	Check bool
	// Interval is "inter", the period of the checks: 2 s by default.
	Interval time.Duration
	// CheckTimeout bounds one check: HAProxy connects for at most the
	// smaller of "inter" and "timeout connect" and, with "timeout check",
	// waits that much more for the answer.
	CheckTimeout time.Duration
	// Rise and Fall are "rise" (2 by default) and "fall" (3).
	Rise, Fall int
	// DownInterval is "downinter", the check period of a server that is
	// down; zero when unset (HAProxy then uses inter).
	DownInterval time.Duration
	// SlowStart is "slowstart"; zero (HAProxy's default) means none.
	SlowStart time.Duration
	// MaxConn is the servers' "maxconn"; zero means no limit.
	MaxConn int

	// ConnectTimeout is "timeout connect"; zero when unset.
	ConnectTimeout time.Duration
	// Retries is "retries": connection attempts after a failed one (3 by
	// default). With "option redispatch" HAProxy moves the last one to
	// another server, as the pool always does.
	Retries int
	// Redispatch is "option redispatch".
	Redispatch bool

	// TLS is the servers' "ssl": connect to them over TLS.
	TLS bool
	// CAFile is "ca-file": the CAs that sign the servers' certificates.
	// Empty means the system's.
	CAFile string
	// ServerName is the name the servers' certificates must hold:
	// "verifyhost", else the name of "sni str(...)". Empty means each
	// server's host name.
	ServerName string
	// ClientCertFile is "crt": a PEM file holding the client certificate
	// and its key, for coordinators that ask for one.
	ClientCertFile string

	// Ignored lists every directive of the backend, of its defaults and of
	// its servers that has no client-side meaning or no equivalent in the
	// pool, with the reason.
	Ignored []IgnoredDirective
}

// IgnoredDirective is a directive of an HAProxy configuration that
// [LoadHAProxyConfig] did not carry over, and why.
type IgnoredDirective struct {
	// Line is the line of the file, from 1.
	Line int
	// Section is the section it is in, e.g. "defaults" or "listen impala".
	Section string
	// Directive is the keyword (and, for a server option, the server), as
	// written.
	Directive string
	// Reason says why it has no effect.
	Reason string
}

// String returns "line N (section): directive: reason".
func (d IgnoredDirective) String() string {
	return fmt.Sprintf("line %d (%s): %s: %s", d.Line, d.Section, d.Directive, d.Reason)
}

// HAProxyConfigError is an HAProxy configuration that cannot be read or
// cannot be carried over: a bad value, a backend that does not exist, or
// settings a client-side pool cannot honour (servers that differ in TLS).
type HAProxyConfigError struct {
	// File is the configuration file ("" when read from a string).
	File string
	// Line is the line the error is on, from 1; 0 when it concerns the
	// whole file.
	Line int
	// Msg says what is wrong.
	Msg string
	// Err is the underlying error (reading the file), if any.
	Err error
}

// Error implements error.
func (e *HAProxyConfigError) Error() string {
	where := e.File
	if where == "" {
		where = "haproxy config"
	}
	if e.Line > 0 {
		where += ":" + strconv.Itoa(e.Line)
	}
	return "balancer: " + where + ": " + e.Msg
}

// Unwrap returns the underlying error.
func (e *HAProxyConfigError) Unwrap() error { return e.Err }

// LoadHAProxyConfig reads the HAProxy configuration file at path and
// returns the backend (or listen) section named backend, or the frontend
// of that name's default_backend. An empty backend selects the only
// backend or listen section that has servers.
func LoadHAProxyConfig(path, backend string) (HAProxyBackend, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return HAProxyBackend{}, &HAProxyConfigError{File: path, Msg: "cannot read the file", Err: err}
	}
	return ParseHAProxyConfig(path, string(b), backend)
}

// ParseHAProxyConfig is [LoadHAProxyConfig] on the text of a file; file
// names it in errors and may be empty.
func ParseHAProxyConfig(file, text, backend string) (HAProxyBackend, error) {
	p := &hapParser{file: file}
	if err := p.parse(text); err != nil {
		return HAProxyBackend{}, err
	}
	sec, err := p.pick(backend)
	if err != nil {
		return HAProxyBackend{}, err
	}
	return p.backend(sec)
}

// Apply sets the fields of cfg that the backend determines: Coordinators,
// Policy, the health checks (Interval, negative without "check";
// CheckTimeout, Rise, Fall; BackoffMin and BackoffMax from "downinter";
// SlowStart, negative without "slowstart"), DialTimeout from "timeout
// connect" when set, Retries (negative for "retries 0") and
// MaxPerCoordinator from the servers' "maxconn" when set. The other fields
// of cfg are left as they are.
func (b HAProxyBackend) Apply(cfg *Config) {
	cfg.Coordinators = append([]string(nil), b.Coordinators...)
	cfg.Policy = b.Policy
	if cfg.Policy == PolicyUnset {
		cfg.Policy = LeastConn
	}
	if b.Check {
		cfg.Interval = b.Interval
	} else {
		cfg.Interval = -1
	}
	cfg.CheckTimeout = b.CheckTimeout
	cfg.Rise, cfg.Fall = b.Rise, b.Fall
	if b.DownInterval > 0 {
		cfg.BackoffMin, cfg.BackoffMax = b.DownInterval, b.DownInterval
	}
	cfg.SlowStart = positiveOrOff(b.SlowStart)
	cfg.Retries = positiveOrOff(b.Retries)
	if b.ConnectTimeout > 0 {
		cfg.DialTimeout = b.ConnectTimeout
	}
	if b.MaxConn > 0 {
		cfg.MaxPerCoordinator = b.MaxConn
	}
}

// positiveOrOff is v, or -1 (Config's "off") for zero.
func positiveOrOff[T int | time.Duration](v T) T {
	if v > 0 {
		return v
	}
	return -1
}

// HAProxy's defaults (doc/configuration.txt: "inter", "rise", "fall",
// "retries").
const (
	hapDefaultInter   = 2 * time.Second
	hapDefaultRise    = 2
	hapDefaultFall    = 3
	hapDefaultRetries = 3
)

// hapLine is one directive: its words, unquoted, and where it is.
type hapLine struct {
	n     int
	words []string
}

// hapSection is a section of the file.
type hapSection struct {
	kind, name string // "defaults", "backend", "listen", "frontend", "global", ...
	from       string // "from <defaults>" of HAProxy 2.5+
	line       int
	lines      []hapLine
	defaults   *hapSection // the defaults section this proxy inherits
}

func (s *hapSection) label() string {
	if s.name == "" {
		return s.kind
	}
	return s.kind + " " + s.name
}

type hapParser struct {
	file     string
	sections []*hapSection
}

// hapSectionKinds are the keywords that start a section.
var hapSectionKinds = map[string]bool{
	"global": true, "defaults": true, "frontend": true, "backend": true, "listen": true,
	"userlist": true, "peers": true, "resolvers": true, "mailers": true, "program": true,
	"http-errors": true, "ring": true, "cache": true, "log-forward": true, "crt-store": true,
	"traces": true,
}

func (p *hapParser) errf(line int, format string, args ...any) error {
	return &HAProxyConfigError{File: p.file, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// parse splits the text into sections of directives.
func (p *hapParser) parse(text string) error {
	var cur *hapSection
	var lastDefaults *hapSection
	named := map[string]*hapSection{}
	for i, raw := range strings.Split(text, "\n") {
		n := i + 1
		words, err := hapWords(strings.TrimSuffix(raw, "\r"))
		if err != nil {
			return p.errf(n, "%v", err)
		}
		if len(words) == 0 {
			continue
		}
		if !hapSectionKinds[words[0]] {
			if cur == nil {
				return p.errf(n, "%q is outside any section", words[0])
			}
			cur.lines = append(cur.lines, hapLine{n: n, words: words})
			continue
		}
		if cur, err = p.section(n, words); err != nil {
			return err
		}
		base := lastDefaults
		if cur.from != "" {
			base = named[cur.from]
			if base == nil {
				return p.errf(n, "no defaults section named %q before this line", cur.from)
			}
		}
		if cur.kind == "defaults" {
			cur.defaults = base
			if cur.from == "" {
				cur.defaults = nil // a defaults section starts afresh
			}
			lastDefaults = cur
			if cur.name != "" {
				named[cur.name] = cur
			}
		} else {
			cur.defaults = base
		}
		p.sections = append(p.sections, cur)
	}
	return nil
}

// section reads the line n that opens a section: its kind, name and
// "from" defaults.
func (p *hapParser) section(n int, words []string) (*hapSection, error) {
	sec := &hapSection{kind: words[0], line: n}
	rest := words[1:]
	if len(rest) > 0 && rest[0] != "from" {
		sec.name, rest = rest[0], rest[1:]
	}
	switch sec.kind {
	case "defaults", "frontend", "backend", "listen":
		if len(rest) >= 2 && rest[0] == "from" {
			sec.from, rest = rest[1], rest[2:]
		}
		if sec.kind == "listen" && len(rest) > 0 {
			// HAProxy 1.x: "listen name address", the guide's form.
			sec.lines = append(sec.lines, hapLine{n: n, words: append([]string{"bind"}, rest...)})
			rest = nil
		}
		if len(rest) > 0 {
			return nil, p.errf(n, "unexpected %q after %s %s", rest[0], sec.kind, sec.name)
		}
		if sec.kind != "defaults" && sec.name == "" {
			return nil, p.errf(n, "%s without a name", sec.kind)
		}
	}
	return sec, nil
}

// hapWords splits a line as HAProxy does: words separated by blanks,
// '#' starting a comment, double and single quotes, and backslash escapes.
func hapWords(line string) ([]string, error) {
	var words []string
	var w strings.Builder
	inWord := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		case c == '#':
			if inWord {
				words = append(words, w.String())
			}
			return words, nil
		case c == '\\':
			if i+1 >= len(line) {
				return nil, errors.New("a backslash ends the line")
			}
			i++
			w.WriteByte(line[i])
			inWord = true
		case c == '"' || c == '\'':
			j := strings.IndexByte(line[i+1:], c)
			if j < 0 {
				return nil, fmt.Errorf("unterminated %c quote", c)
			}
			q := line[i+1 : i+1+j]
			if c == '"' && strings.Contains(q, "$") {
				return nil, errors.New("environment variables (\"$NAME\") are not expanded here: write the value")
			}
			w.WriteString(q)
			i += j + 1
			inWord = true
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words, nil
}

// pick returns the section to read for the name asked for.
func (p *hapParser) pick(name string) (*hapSection, error) {
	var candidates []string
	var only *hapSection
	for _, s := range p.sections {
		if s.kind != "backend" && s.kind != "listen" {
			continue
		}
		if hasServers(s) {
			candidates = append(candidates, s.name)
			only = s
		}
	}
	if name == "" {
		switch len(candidates) {
		case 0:
			return nil, p.errf(0, "no backend or listen section with servers")
		case 1:
			return only, nil
		}
		return nil, p.errf(0, "%d backends have servers (%s): name the one to use", len(candidates), strings.Join(candidates, ", "))
	}
	for _, s := range p.sections {
		if s.name != name {
			continue
		}
		switch s.kind {
		case "backend", "listen":
			return s, nil
		case "frontend":
			def := ""
			for _, l := range s.lines {
				if l.words[0] == "default_backend" && len(l.words) > 1 {
					def = l.words[1]
				}
			}
			if def == "" {
				return nil, p.errf(s.line, "frontend %s has no default_backend", name)
			}
			for _, b := range p.sections {
				if b.name == def && (b.kind == "backend" || b.kind == "listen") {
					return b, nil
				}
			}
			return nil, p.errf(s.line, "frontend %s: its default_backend %s is not defined", name, def)
		}
	}
	return nil, p.errf(0, "no backend, listen or frontend section named %q (backends with servers: %s)", name, strings.Join(candidates, ", "))
}

func hasServers(s *hapSection) bool {
	for _, l := range s.lines {
		if l.words[0] == "server" {
			return true
		}
	}
	return false
}

// hapServer is one "server" (or "default-server") line's settings.
type hapServer struct {
	line                    int
	name, addr              string
	check, backup, disabled bool
	inter, downinter, slow  time.Duration
	rise, fall, maxconn     int
	ssl                     bool
	caFile, sni, verifyhost string
	crt                     string
	verifyNone              bool
}

// hapServerArgs is how many arguments each server keyword HAProxy 2.x
// documents takes ("5.2. Server and default-server options").
var hapServerArgs = map[string]int{
	"addr": 1, "agent-addr": 1, "agent-check": 0, "agent-inter": 1, "agent-port": 1, "agent-send": 1,
	"allow-0rtt": 0, "alpn": 1, "backup": 0, "ca-file": 1, "check": 0, "check-alpn": 1, "check-proto": 1,
	"check-send-proxy": 0, "check-sni": 1, "check-ssl": 0, "check-via-socks4": 0, "ciphers": 1,
	"ciphersuites": 1, "client-sigalgs": 1, "cookie": 1, "crl-file": 1, "crt": 1, "curves": 1, "disabled": 0,
	"downinter": 1, "enabled": 0, "error-limit": 1, "fall": 1, "fastinter": 1, "force-sslv3": 0,
	"force-tlsv10": 0, "force-tlsv11": 0, "force-tlsv12": 0, "force-tlsv13": 0, "id": 1, "init-addr": 1,
	"inter": 1, "log-proto": 1, "maxconn": 1, "maxqueue": 1, "max-reuse": 1, "minconn": 1, "namespace": 1,
	"no-agent-check": 0, "no-backup": 0, "no-check": 0, "no-check-ssl": 0, "no-send-proxy": 0,
	"no-send-proxy-v2": 0, "no-send-proxy-v2-ssl": 0, "no-send-proxy-v2-ssl-cn": 0, "no-ssl": 0,
	"no-ssl-reuse": 0, "no-sslv3": 0, "no-tls-tickets": 0, "no-tlsv10": 0, "no-tlsv11": 0, "no-tlsv12": 0,
	"no-tlsv13": 0, "no-verifyhost": 0, "no-tfo": 0, "npn": 1, "observe": 1, "on-error": 1,
	"on-marked-down": 1, "on-marked-up": 1, "pool-low-conn": 1, "pool-max-conn": 1, "pool-purge-delay": 1,
	"port": 1, "proto": 1, "redir": 1, "rise": 1, "resolve-opts": 1, "resolve-prefer": 1, "resolve-net": 1,
	"resolvers": 1, "send-proxy": 0, "send-proxy-v2": 0, "send-proxy-v2-ssl": 0, "send-proxy-v2-ssl-cn": 0,
	"set-proxy-v2-tlv-fmt": 1, "shard": 1, "sigalgs": 1, "slowstart": 1, "sni": 1, "socks4": 1, "source": 1,
	"ssl": 0, "ssl-max-ver": 1, "ssl-min-ver": 1, "ssl-reuse": 0, "stick": 0, "strict-maxconn": 0,
	"tcp-ut": 1, "tfo": 0, "track": 1, "tls-tickets": 0, "verify": 1, "verifyhost": 1, "weight": 1, "ws": 1,
}

// serverWhy is the reason given for a server option that has no
// equivalent in the pool.
var serverWhy = map[string]string{
	"weight":         "impalalb weighs every coordinator alike",
	"fastinter":      "impalalb checks at one interval (inter) while a coordinator is up",
	"port":           "impalalb checks a coordinator on its session port, with a protocol-level ping",
	"addr":           "impalalb checks a coordinator on its session port, with a protocol-level ping",
	"agent-check":    "impalalb has no agent checks",
	"observe":        "impalalb marks a coordinator down on the first failed connection, not on observed errors",
	"on-error":       "impalalb marks a coordinator down on the first failed connection, not on observed errors",
	"error-limit":    "impalalb marks a coordinator down on the first failed connection, not on observed errors",
	"maxqueue":       "acquires beyond the cap wait in arrival order, bounded by their context",
	"cookie":         "cookie persistence is HTTP's; use an affinity key",
	"send-proxy":     "there is no proxy to announce the client",
	"send-proxy-v2":  "there is no proxy to announce the client",
	"init-addr":      "impalalb resolves a coordinator's name when it connects",
	"resolvers":      "impalalb resolves a coordinator's name when it connects, with the system resolver",
	"resolve-prefer": "impalalb resolves a coordinator's name when it connects, with the system resolver",
	"check-ssl":      "checks run on the sessions' own connections, with the sessions' TLS",
	"check-sni":      "checks run on the sessions' own connections, with the sessions' TLS",
	"id":             "not used client-side",
	"track":          "each coordinator is checked on its own",
}

// parseServer reads a server or default-server line onto s (which holds
// the default-server settings so far).
func (p *hapParser) parseServer(sec *hapSection, l hapLine, s *hapServer, ign *[]IgnoredDirective) error {
	words := l.words
	s.line = l.n
	args := words[1:]
	if words[0] == "server" {
		if len(args) < 2 {
			return p.errf(l.n, "server needs a name and an address")
		}
		s.name, s.addr = args[0], args[1]
		args = args[2:]
	}
	label := words[0]
	if s.name != "" {
		label = "server " + s.name
	}
	for i := 0; i < len(args); i++ {
		kw := args[i]
		n, known := hapServerArgs[kw]
		if !known {
			// An unknown keyword: take the next word as its argument when it is
			// not a keyword itself.
			n = 0
			if i+1 < len(args) {
				if _, isKW := hapServerArgs[args[i+1]]; !isKW {
					n = 1
				}
			}
		}
		if n > 0 && i+1 >= len(args) {
			return p.errf(l.n, "%s: %s needs a value", label, kw)
		}
		val := ""
		if n > 0 {
			val = args[i+1]
			i++
		}
		a := serverArg{sec: sec, line: l.n, label: label, kw: kw, val: val, known: known}
		if err := p.serverOption(a, s, ign); err != nil {
			return err
		}
	}
	return nil
}

// serverArg is one keyword of a server line with its value ("" when it
// takes none), and where it stands, for errors and ignored directives.
type serverArg struct {
	sec   *hapSection
	line  int
	label string // "server <name>", or the line's first word
	kw    string
	val   string
	known bool // kw is one of hapServerArgs
}

// serverOption applies one keyword of a server line to s, or appends to
// ign why it has no effect.
func (p *hapParser) serverOption(a serverArg, s *hapServer, ign *[]IgnoredDirective) error {
	var err error
	switch a.kw {
	case "check":
		s.check = true
	case "no-check":
		s.check = false
	case "backup":
		s.backup = true
	case "no-backup":
		s.backup = false
	case "disabled":
		s.disabled = true
	case "enabled":
		s.disabled = false
	case "inter":
		s.inter, err = p.argTime(a)
	case "downinter":
		s.downinter, err = p.argTime(a)
	case "slowstart":
		s.slow, err = p.argTime(a)
	case "rise":
		s.rise, err = p.argCount(a)
		if err == nil && s.rise == 0 {
			err = p.errf(a.line, "%s: rise must be at least 1", a.label)
		}
	case "fall":
		s.fall, err = p.argCount(a)
		if err == nil && s.fall == 0 {
			err = p.errf(a.line, "%s: fall must be at least 1", a.label)
		}
	case "maxconn":
		s.maxconn, err = p.argCount(a)
	case "ssl":
		s.ssl = true
	case "no-ssl":
		s.ssl = false
	case "ca-file":
		s.caFile = a.val
	case "crt":
		s.crt = a.val
	case "verifyhost":
		s.verifyhost = a.val
	case "no-verifyhost":
		s.verifyhost = ""
	case "sni":
		// Only a constant name has a client-side meaning.
		if v, ok := strings.CutPrefix(a.val, "str("); ok && strings.HasSuffix(v, ")") {
			s.sni = strings.TrimSuffix(v, ")")
		} else {
			*ign = append(*ign, a.ignored("only sni str(<name>) names a fixed server name"))
		}
	case "verify":
		switch a.val {
		case "required":
			s.verifyNone = false
		case "none":
			s.verifyNone = true
		default:
			return p.errf(a.line, "%s: verify %q: want none or required", a.label, a.val)
		}
	default:
		*ign = append(*ign, a.ignored(serverIgnoreReason(a.kw, a.known)))
	}
	return err
}

// argTime reads a's value as an HAProxy time.
func (p *hapParser) argTime(a serverArg) (time.Duration, error) {
	d, err := hapTime(a.val)
	if err != nil {
		return 0, p.errf(a.line, "%s: %s %q: %v", a.label, a.kw, a.val, err)
	}
	return d, nil
}

// argCount reads a's value as a non-negative number.
func (p *hapParser) argCount(a serverArg) (int, error) {
	v, err := strconv.Atoi(a.val)
	if err != nil || v < 0 {
		return 0, p.errf(a.line, "%s: %s %q: want a non-negative number", a.label, a.kw, a.val)
	}
	return v, nil
}

// ignored is a as a directive ignored for the reason why.
func (a serverArg) ignored(why string) IgnoredDirective {
	d := a.kw
	if a.val != "" {
		d += " " + a.val
	}
	return IgnoredDirective{Line: a.line, Section: a.sec.label(), Directive: a.label + ": " + d, Reason: why}
}

// serverIgnoreReason is why the server keyword kw (known: one HAProxy
// documents) has no effect on the pool.
func serverIgnoreReason(kw string, known bool) string {
	if why, ok := serverWhy[kw]; ok {
		return why
	}
	switch {
	case !known:
		return "not an HAProxy server option impalalb knows"
	case strings.Contains(kw, "ssl") || strings.Contains(kw, "tls") || strings.Contains(kw, "cipher") ||
		kw == "alpn" || kw == "npn" || kw == "curves" || kw == "sigalgs" || kw == "client-sigalgs" || kw == "crl-file":
		return "impalalb uses Go's TLS defaults (TLS 1.2 or later, Go's cipher suites)"
	default:
		return "no client-side equivalent"
	}
}

// hapTime reads an HAProxy time: a number with an optional unit (us, ms, s,
// m, h, d), milliseconds by default.
func hapTime(s string) (time.Duration, error) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, errors.New("want a number with an optional unit (us, ms, s, m, h, d)")
	}
	v, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil {
		return 0, errors.New("number too large")
	}
	unit := map[string]time.Duration{"": time.Millisecond, "us": time.Microsecond, "ms": time.Millisecond,
		"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour}[s[i:]]
	if unit == 0 {
		return 0, fmt.Errorf("unknown unit %q (want us, ms, s, m, h or d)", s[i:])
	}
	if v > int64(365*24*time.Hour/unit) {
		return 0, errors.New("longer than a year")
	}
	return time.Duration(v) * unit, nil
}

// hapProxyWhy is the reason given for a proxy directive that has no
// equivalent in the pool.
var hapProxyWhy = map[string]string{
	"log":                 "impalalb logs through the Logger of the pool's Config",
	"stats":               "the pool's figures are in Pool.Stats and balancer.WritePrometheus",
	"bind":                "there is no proxy to listen: the client connects to the coordinators",
	"maxconn":             "a proxy-wide connection limit; the pool has MaxSessions and MaxPerCoordinator (from the servers' maxconn)",
	"fullconn":            "dynamic maxconn has no equivalent",
	"hash-type":           "affinity hashes keys by rendezvous hashing",
	"hash-balance-factor": "affinity bounds a coordinator's load with Config.LoadFactor",
	"cookie":              "cookie persistence is HTTP's; use an affinity key",
	"stick-table":         "affinity hashes keys; no table is kept",
	"stick":               "affinity hashes keys; no table is kept",
	"persist":             "affinity hashes keys; no table is kept",
	"description":         "not used client-side",
	"id":                  "not used client-side",
	"default_backend":     "the frontend's backend is the one read",
	"use_backend":         "a frontend's routing rules are the proxy's",
}

// backend reads a backend or listen section with its defaults.
func (p *hapParser) backend(sec *hapSection) (HAProxyBackend, error) {
	b := HAProxyBackend{File: p.file, Name: sec.name, Retries: hapDefaultRetries}
	x := hapProxy{p: p, b: &b, policy: RoundRobin, mode: "tcp"}
	for _, d := range hapDirectives(sec) {
		if err := x.directive(d); err != nil {
			return b, err
		}
	}
	if x.mode != "tcp" {
		return b, p.errf(x.modeLine, "%s: mode %s: impalalb speaks Impala's binary protocols (HiveServer2 and beeswax over TCP), as \"mode tcp\" carries them", sec.label(), x.mode)
	}
	b.Policy = x.policy
	b.Redispatch = x.redispatch
	b.ConnectTimeout = x.timeoutConnect
	first, err := x.coordinators(sec)
	if err != nil {
		return b, err
	}
	if first == nil {
		return b, p.errf(sec.line, "%s has no server to balance over", sec.label())
	}
	x.serverSettings(sec, first)
	sort.SliceStable(x.ign, func(i, j int) bool { return x.ign[i].Line < x.ign[j].Line })
	b.Ignored = x.ign
	return b, nil
}

// hapDirective is a directive line and the section it is written in.
type hapDirective struct {
	sec *hapSection
	l   hapLine
}

// hapDirectives returns the directives that apply to a proxy section,
// defaults first: a proxy's own override.
func hapDirectives(sec *hapSection) []hapDirective {
	var chain []*hapSection
	for d := sec.defaults; d != nil; d = d.defaults {
		chain = append([]*hapSection{d}, chain...)
	}
	chain = append(chain, sec)
	var lines []hapDirective
	for _, s := range chain {
		for _, l := range s.lines {
			lines = append(lines, hapDirective{s, l})
		}
	}
	return lines
}

// hapProxy is what backend gathers from a proxy section's directives.
type hapProxy struct {
	p              *hapParser
	b              *HAProxyBackend
	policy         Policy
	mode           string
	modeLine       int
	timeoutConnect time.Duration
	timeoutCheck   time.Duration
	defServer      hapServer
	servers        []hapServer
	ign            []IgnoredDirective
	redispatch     bool
}

func (x *hapProxy) ignore(d hapDirective, why string) {
	x.ign = append(x.ign, IgnoredDirective{Line: d.l.n, Section: d.sec.label(), Directive: hapShown(d.l.words), Reason: why})
}

// directive takes one directive of the section.
func (x *hapProxy) directive(d hapDirective) error {
	w := d.l.words
	switch w[0] {
	case "mode":
		x.mode, x.modeLine = hapArg(w, 1), d.l.n
	case "balance":
		x.balance(d)
	case "timeout", "contimeout", "srvtimeout", "clitimeout":
		return x.timeout(d)
	case "retries":
		v, err := strconv.Atoi(hapArg(w, 1))
		if err != nil || v < 0 {
			return x.p.errf(d.l.n, "retries %q: want a non-negative number", hapArg(w, 1))
		}
		x.b.Retries = v
	case "option", "no":
		x.option(d)
	case "default-server":
		return x.p.parseServer(d.sec, d.l, &x.defServer, &x.ign)
	case "server":
		s := x.defServer
		s.name = ""
		if err := x.p.parseServer(d.sec, d.l, &s, &x.ign); err != nil {
			return err
		}
		x.servers = append(x.servers, s)
	default:
		why, ok := hapProxyWhy[w[0]]
		if !ok || why == "" {
			why = "no client-side equivalent"
		}
		if strings.HasPrefix(w[0], "http-") || strings.HasPrefix(w[0], "tcp-") {
			why = "the proxy's request rules have no client-side equivalent"
		}
		x.ignore(d, why)
	}
	return nil
}

// hapArg returns the i-th word of a directive, or "".
func hapArg(w []string, i int) string {
	if i < len(w) {
		return w[i]
	}
	return ""
}

// balance reads a "balance" directive.
func (x *hapProxy) balance(d hapDirective) {
	w := d.l.words
	alg := hapArg(w, 1)
	switch alg {
	case "leastconn":
		x.policy = LeastConn
	case "source":
		x.policy = Affinity
	case "roundrobin", "static-rr":
		x.policy = RoundRobin
	case "":
		// HAProxy 1.x accepted a bare "balance" (the guide's stats
		// section): roundrobin.
		x.policy = RoundRobin
	default:
		x.policy = LeastConn
		x.ignore(d, "impalalb balances by leastconn, source (affinity) or roundrobin: leastconn is used")
	}
	if len(w) > 2 && (alg == "leastconn" || alg == "source" || alg == "roundrobin" || alg == "static-rr") {
		x.ignore(d, "arguments of the algorithm have no client-side meaning")
	}
}

// timeout reads a "timeout" directive or one of HAProxy 1.x's
// contimeout, srvtimeout and clitimeout.
func (x *hapProxy) timeout(d hapDirective) error {
	w := d.l.words
	kind, val, want := hapArg(w, 1), hapArg(w, 2), 3
	switch w[0] {
	case "contimeout":
		kind, val, want = "connect", hapArg(w, 1), 2
	case "srvtimeout":
		kind, val, want = "server", hapArg(w, 1), 2
	case "clitimeout":
		kind, val, want = "client", hapArg(w, 1), 2
	}
	if len(w) != want {
		return x.p.errf(d.l.n, "%s: want one time value, got %q", strings.Join(w[:want-1], " "), strings.Join(w[want-1:], " "))
	}
	t, err := hapTime(val)
	if err != nil {
		return x.p.errf(d.l.n, "timeout %s %q: %v", kind, val, err)
	}
	switch kind {
	case "connect":
		x.timeoutConnect = t
	case "check":
		x.timeoutCheck = t
	case "client", "server", "tunnel", "client-fin", "server-fin":
		x.ignore(d, "without a proxy in between nothing cuts an idle connection; the pool closes idle sessions after Config.MaxIdleTime and a statement is bounded by its context")
	case "queue":
		x.ignore(d, "an acquire waits for a session as long as its context allows")
	default:
		x.ignore(d, "an HTTP timeout of the proxy")
	}
	return nil
}

// option reads an "option" directive or its negation ("no option").
func (x *hapProxy) option(d hapDirective) {
	w := d.l.words
	neg := w[0] == "no"
	opt := hapArg(w, 1)
	if neg {
		opt = hapArg(w, 2)
	}
	switch opt {
	case "redispatch":
		x.redispatch = !neg
	case "tcplog", "httplog", "dontlognull", "logasap", "log-health-checks", "dontlog-normal", "log-separate-errors":
		x.ignore(d, "impalalb logs through the Logger of the pool's Config")
	case "tcp-check", "httpchk", "mysql-check", "pgsql-check", "redis-check", "smtpchk", "ssl-hello-chk", "ldap-check", "spop-check":
		x.ignore(d, "impalalb checks a coordinator with a protocol-level ping of an Impala session, not a TCP or HTTP probe")
	case "tcpka", "clitcpka", "srvtcpka":
		x.ignore(d, "sessions use TCP keep-alive by default (conn.Options.KeepAlive)")
	default:
		x.ignore(d, "no client-side equivalent")
	}
}

// coordinators takes the addresses of the section's servers into the
// backend, leaving out disabled, backup and repeated ones, and returns
// the first server kept, whose settings apply to all (nil when none is).
func (x *hapProxy) coordinators(sec *hapSection) (*hapServer, error) {
	var first *hapServer
	seen := map[string]bool{}
	for i := range x.servers {
		s := &x.servers[i]
		addr, err := hapAddr(s.addr)
		if err != nil {
			return nil, x.p.errf(s.line, "server %s: %v", s.name, err)
		}
		switch {
		case s.disabled:
			x.ign = append(x.ign, IgnoredDirective{Line: s.line, Section: sec.label(), Directive: "server " + s.name + ": disabled", Reason: "a disabled server is not a coordinator of the pool"})
			continue
		case s.backup:
			x.ign = append(x.ign, IgnoredDirective{Line: s.line, Section: sec.label(), Directive: "server " + s.name + ": backup", Reason: "impalalb has no backup servers: this one is left out (list it as a coordinator to balance over it)"})
			continue
		case seen[addr]:
			x.ign = append(x.ign, IgnoredDirective{Line: s.line, Section: sec.label(), Directive: "server " + s.name + " " + s.addr, Reason: "the address is listed already: a coordinator is listed once"})
			continue
		}
		seen[addr] = true
		x.b.Coordinators = append(x.b.Coordinators, addr)
		if first == nil {
			first = s
			continue
		}
		if s.ssl != first.ssl || s.caFile != first.caFile || s.crt != first.crt ||
			s.verifyhost != first.verifyhost || s.sni != first.sni || s.verifyNone != first.verifyNone {
			return nil, x.p.errf(s.line, "server %s: its TLS settings (ssl, ca-file, crt, sni, verify, verifyhost) differ from server %s's (line %d): impalalb connects to every coordinator of a pool alike", s.name, first.name, first.line)
		}
		var differs []string
		if s.check != first.check {
			differs = append(differs, "check")
		}
		if s.inter != first.inter || s.downinter != first.downinter || s.rise != first.rise || s.fall != first.fall {
			differs = append(differs, "inter/downinter/rise/fall")
		}
		if s.slow != first.slow {
			differs = append(differs, "slowstart")
		}
		if s.maxconn != first.maxconn {
			differs = append(differs, "maxconn")
		}
		if len(differs) > 0 {
			x.ign = append(x.ign, IgnoredDirective{Line: s.line, Section: sec.label(), Directive: "server " + s.name + ": " + strings.Join(differs, ", "),
				Reason: fmt.Sprintf("impalalb has one setting for all coordinators: server %s's (line %d) is used", first.name, first.line)})
		}
	}
	return first, nil
}

// serverSettings sets the backend's checks, limits and TLS from the
// first server's settings.
func (x *hapProxy) serverSettings(sec *hapSection, first *hapServer) {
	x.b.Check = first.check
	x.b.Interval = first.inter
	if x.b.Interval == 0 {
		x.b.Interval = hapDefaultInter
	}
	x.b.Rise, x.b.Fall = first.rise, first.fall
	if x.b.Rise == 0 {
		x.b.Rise = hapDefaultRise
	}
	if x.b.Fall == 0 {
		x.b.Fall = hapDefaultFall
	}
	x.b.DownInterval = first.downinter
	x.b.SlowStart = first.slow
	x.b.MaxConn = first.maxconn
	// As HAProxy: a check connects within min(inter, timeout connect) and,
	// with "timeout check", waits that much more for its answer.
	x.b.CheckTimeout = x.b.Interval
	if x.timeoutConnect > 0 && x.timeoutConnect < x.b.CheckTimeout {
		x.b.CheckTimeout = x.timeoutConnect
	}
	x.b.CheckTimeout += x.timeoutCheck
	x.b.TLS = first.ssl
	if first.ssl {
		x.b.CAFile = first.caFile
		x.b.ClientCertFile = first.crt
		x.b.ServerName = first.verifyhost
		if x.b.ServerName == "" {
			x.b.ServerName = first.sni
		}
		if first.verifyNone {
			x.ign = append(x.ign, IgnoredDirective{Line: first.line, Section: sec.label(), Directive: "server " + first.name + ": verify none",
				Reason: "impalalb always verifies the coordinators' certificates (against ca-file, else the system's CAs)"})
		}
	} else if first.caFile != "" || first.crt != "" || first.verifyhost != "" || first.sni != "" {
		x.ign = append(x.ign, IgnoredDirective{Line: first.line, Section: sec.label(), Directive: "server " + first.name + ": TLS options without ssl",
			Reason: "the servers are reached without TLS, as HAProxy does without \"ssl\""})
	}
}

// hapShown is a directive as Ignored shows it (and so logs): its words,
// but not the credentials of "stats auth user:password" nor the value
// after an Authorization header's name (http-request set-header, http-check
// send hdr, ...).
func hapShown(words []string) string {
	for i := range words {
		secret := i >= 1 && words[i-1] == "auth" && words[0] == "stats" ||
			i >= 1 && strings.EqualFold(strings.Trim(words[i-1], ":"), "authorization")
		if secret {
			return strings.Join(append(words[:i:i], "(not shown)"), " ")
		}
	}
	return strings.Join(words, " ")
}

// hapAddr reads a server address: host:port, [v6]:port, or an IPv6
// address whose last colon starts the port (HAProxy's form).
func hapAddr(a string) (string, error) {
	if strings.Contains(a, "@") {
		return "", fmt.Errorf("address %q: only host:port addresses are coordinators (no unix@, ipv4@, abns@, ...)", a)
	}
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		i := strings.LastIndexByte(a, ':')
		if i < 0 {
			return "", fmt.Errorf("address %q has no port: a coordinator needs one", a)
		}
		host, port = strings.Trim(a[:i], "[]"), a[i+1:]
	}
	if host == "" || strings.ContainsAny(host, " /") {
		return "", fmt.Errorf("address %q: bad host", a)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 || port[0] < '0' || port[0] > '9' {
		return "", fmt.Errorf("address %q: the port must be a number from 1 to 65535 (no ranges or offsets)", a)
	}
	return net.JoinHostPort(host, port), nil
}
