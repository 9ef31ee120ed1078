package reliability

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb"
	"github.com/impalalb/impalalb/balancer"
	"github.com/impalalb/impalalb/conn"
	"github.com/impalalb/impalalb/conn/sasl"
	"github.com/impalalb/impalalb/internal/impalad"
	"github.com/impalalb/impalalb/kerberos"
	"github.com/impalalb/impalalb/secret"
)

// Every exported type that holds a password, a ticket or a token prints
// it redacted whatever the fmt verb, through slog's text and JSON
// handlers, encoding/json, and in a panic.

// verbs are the fmt verbs (with flags) every value is printed with: those
// that fit it and those that do not (a verb that does not fit a pointer
// makes fmt print what it points to).
var verbs = []string{
	"%v", "%+v", "%#v", "%s", "%q", "%d", "%t", "%x", "%X", "%o", "%b",
	"%e", "%f", "%g", "%c", "%U", "%p", "%10s", "%-20q", "%+q", "%#x", "% x",
}

// sweep prints v every way a user might and returns the texts, labelled.
// Live leaves out v in an unexported field of another struct: fmt calls
// none of v's methods there, and a verb that does not fit a pointer makes
// it print v's fields, which v's own goroutines may be changing (a data
// race in the caller's print; the sweep runs that placement once those
// goroutines have ended).
func sweep(name string, v any, live bool) []labeled {
	var out []labeled
	for _, verb := range verbs {
		out = append(out, labeled{name + " " + verb, fmt.Sprintf(verb, v)})
		// The value inside containers: a slice, a map, a struct field.
		out = append(out, labeled{name + " in a slice " + verb, fmt.Sprintf(verb, []any{v})})
		out = append(out, labeled{name + " in a map " + verb, fmt.Sprintf(verb, map[string]any{"k": v})})
		out = append(out, labeled{name + " in a struct " + verb, fmt.Sprintf(verb, struct{ Exported any }{v})})
		if !live {
			out = append(out, labeled{name + " in an unexported field " + verb, fmt.Sprintf(verb, struct{ unexported any }{v})})
		}
	}
	out = append(out, labeled{name + " Sprint", fmt.Sprint(v)}, labeled{name + " Sprintln", fmt.Sprintln(v, v)})
	if s, ok := v.(fmt.Stringer); ok {
		out = append(out, labeled{name + " String()", s.String()})
	}
	if e, ok := v.(error); ok {
		out = append(out, labeled{name + " Error()", e.Error()})
	}
	for _, h := range []struct {
		name string
		mk   func(*bytes.Buffer) slog.Handler
	}{
		{"slog text", func(b *bytes.Buffer) slog.Handler {
			return slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})
		}},
		{"slog JSON", func(b *bytes.Buffer) slog.Handler {
			return slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})
		}},
	} {
		var b bytes.Buffer
		l := slog.New(h.mk(&b))
		l.Debug("value", "v", v)
		l.Info("value", slog.Any("v", v), slog.Group("g", slog.Any("v", v)))
		l.With("v", v).Warn("value")
		out = append(out, labeled{name + " " + h.name, b.String()})
	}
	if j, err := json.Marshal(v); err == nil {
		out = append(out, labeled{name + " encoding/json", string(j)})
	}
	out = append(out, labeled{name + " recovered panic", recovered(v)})
	return out
}

// recovered panics with v and prints what recover gives, as a handler
// that logs panics does.
func recovered(v any) (s string) {
	defer func() {
		r := recover()
		s = fmt.Sprintf("%v %+v %s", r, r, r)
	}()
	panic(v)
}

// leaksIn returns, for each text that holds a form of a secret, its label
// and a sample.
func leaksIn(texts []labeled, secrets []sought) map[string]string {
	leaks := map[string]string{}
	for _, s := range secrets {
		for _, f := range s.forms {
			if len(f) < 6 {
				continue
			}
			for _, t := range texts {
				if i := strings.Index(t.text, f); i >= 0 {
					lo, hi := max(0, i-60), min(len(t.text), i+len(f)+10)
					leaks[t.label] = fmt.Sprintf("%s in …%s…", s.what, t.text[lo:hi])
				}
			}
		}
	}
	return leaks
}

// sweptPassword is the password of the sweep: letters and digits only, so
// that %q and %x show it plainly if they show it at all. Every other
// secret of the sweep (the JWT, the value of an HTTP header) holds it, so
// that grepping for it finds them too.
const sweptPassword = "SweptPassw0rdQ7"

// sweptSecrets are the forms of the sweep's secrets that must never
// print: the password, and the Basic credentials made of it.
var sweptSecrets = []sought{
	secretOf("password", []byte(sweptPassword)),
	secretOf("Basic credentials", []byte("rel:"+sweptPassword)),
}

// offlineValues returns a value of each type that holds the password
// without a coordinator: configurations (binary and hs2-http: LDAP as
// Basic, a JWT, a header), the connectors and their pools, the dialers,
// the PLAIN mechanism, the Authorization value of HTTP Basic, the web
// client of discovery and cluster load, the secret itself. addr is a
// coordinator address that nothing needs to answer. The returned func
// releases them.
func offlineValues(addr string) (map[string]any, func(), error) {
	pw := secret.New(sweptPassword)
	jwt := secret.New("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZWwifQ." + sweptPassword)
	hdr := map[string]secret.Value{"X-Api-Key": secret.New("key-" + sweptPassword)}
	cfg := impalalb.Config{Addrs: []string{addr}, User: "rel", Password: pw, Auth: impalalb.AuthPlain}
	httpCfg := impalalb.Config{Addrs: []string{addr}, Protocol: impalalb.ProtocolHS2HTTP, Auth: impalalb.AuthJWT, JWT: jwt, HTTPHeaders: hdr}
	opts := conn.Options{User: "rel", Password: pw}
	basicOpts := conn.Options{Protocol: conn.HS2HTTP, User: "rel", Password: pw, HTTPHeaders: hdr}
	bearerOpts := conn.Options{Protocol: conn.HS2HTTP, User: "rel", HTTPAuth: conn.BearerAuth(conn.StaticToken(jwt)), HTTPHeaders: hdr}
	basic, err := conn.BasicAuth("rel", pw)(context.Background(), addr)
	if err != nil {
		return nil, nil, err
	}
	bearer, err := bearerOpts.HTTPAuth(context.Background(), addr)
	if err != nil {
		return nil, nil, err
	}
	web := &balancer.ImpalaWeb{User: "rel", Password: pw}
	dir, err := osTempDir()
	if err != nil {
		return nil, nil, err
	}
	krb5 := filepath.Join(dir, "sweep-krb5.conf")
	if err := os.WriteFile(krb5, []byte("[libdefaults]\n default_realm = EXAMPLE.COM\n[realms]\n EXAMPLE.COM = {\n  kdc = 127.0.0.1:1\n }\n"), 0o600); err != nil {
		return nil, nil, err
	}
	kc := kerberos.Config{Krb5Conf: krb5, Principal: "rel@EXAMPLE.COM", Password: pw, NoBackgroundRenewal: true}
	kcl, err := kerberos.NewClient(kc)
	if err != nil {
		return nil, nil, err
	}
	cn, err := impalalb.NewConnector(&cfg)
	if err != nil {
		return nil, nil, err
	}
	httpCn, err := impalalb.NewConnector(&httpCfg)
	if err != nil {
		cn.Close()
		return nil, nil, err
	}
	d := balancer.NewConnDialer(opts)
	p, err := balancer.New(balancer.Config{Coordinators: []string{addr}, Interval: -1}, d)
	if err != nil {
		cn.Close()
		httpCn.Close()
		return nil, nil, err
	}
	mech, err := sasl.PlainFactory("rel", sweptPassword)()
	if err != nil {
		return nil, nil, err
	}
	vals := map[string]any{
		"impalalb.Config":        cfg,
		"*impalalb.Config":       &cfg,
		"*impalalb.Connector":    cn,
		"conn.Options":           opts,
		"*conn.Options":          &opts,
		"*balancer.ConnDialer":   d,
		"*balancer.Pool":         p,
		"kerberos.Config":        kc,
		"*kerberos.Config":       &kc,
		"sasl.Mechanism (PLAIN)": mech,
		"secret.Value":           pw,
		"*secret.Value":          &pw,
		"*kerberos.Client":       kcl,
		"*kerberos.Mechanism":    kcl.Mechanism(),

		"impalalb.Config (hs2-http, jwt)":     httpCfg,
		"*impalalb.Config (hs2-http, jwt)":    &httpCfg,
		"*impalalb.Connector (hs2-http, jwt)": httpCn,
		"conn.Options (hs2-http, basic)":      basicOpts,
		"*conn.Options (hs2-http, bearer)":    &bearerOpts,
		"*balancer.ConnDialer (hs2-http)":     balancer.NewConnDialer(basicOpts),
		"secret.Value (Basic header)":         basic,
		"secret.Value (Bearer header)":        bearer,
		"*balancer.ImpalaWeb":                 web,
		"*balancer.ImpalaMembership":          &balancer.ImpalaMembership{Web: web, Port: 21050},
		"*balancer.ImpalaLoad":                &balancer.ImpalaLoad{Web: web},
		"*kerberos.SPNEGOClient":              kcl.SPNEGO(nil),
	}
	return vals, func() { _ = p.Close(); _ = cn.Close(); _ = httpCn.Close(); _ = kcl.Close() }, nil
}

// TestSecretsEveryVerb: the sweep over every type that holds the password
// (and one that holds a Kerberos ticket: TestSecretsKerberos), offline and
// with sessions open, binary and hs2-http (whose session holds the
// coordinator's auth cookie); and the table covers every exported type of
// the module that holds a secret.
func TestSecretsEveryVerb(t *testing.T) {
	cos, addrs := startCluster(t, 1, impalad.Config{Users: map[string]string{"rel": sweptPassword}, HS2HTTPAddr: "127.0.0.1:0"})
	vals, release, err := offlineValues("127.0.0.1:1")
	require.NoError(t, err)

	// With a session open: the session, a statement, a lease, the pool
	// that made it.
	opts := fastOpts()
	opts.Password = secret.New(sweptPassword)
	s, err := conn.Dial(context.Background(), addrs[0], opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	p := newPool(t, addrs, opts, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := p.Acquire(ctx, "")
	require.NoError(t, err)
	op, err := s.Execute(ctx, "select 1", nil)
	require.NoError(t, err)
	vals["*conn.Session"] = s
	vals["*conn.Operation"] = op
	vals["*balancer.Lease"] = l
	vals["*balancer.Pool (in use)"] = p

	// Over hs2-http: Basic with the password, an API key header, and the
	// auth cookie the coordinator issues, which the session keeps.
	var tap cookieTap
	hopts := fastOpts()
	hopts.Protocol = conn.HS2HTTP
	hopts.Password = secret.New(sweptPassword)
	hopts.HTTPHeaders = map[string]secret.Value{"X-Api-Key": secret.New("key-" + sweptPassword)}
	hopts.DialContext = tap.dial
	hs, err := conn.Dial(ctx, cos[0].HS2HTTPAddr(), hopts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = hs.Close() })
	hop, err := hs.Execute(ctx, "select 1", nil)
	require.NoError(t, err)
	vals["*conn.Session (hs2-http)"] = hs
	vals["*conn.Operation (hs2-http)"] = hop
	secrets := append([]sought(nil), sweptSecrets...)
	for _, c := range tap.values() {
		sig, _, _ := strings.Cut(c, "&")
		secrets = append(secrets, sought{what: "auth cookie", forms: []string{c, sig}})
	}
	require.Greater(t, len(secrets), len(sweptSecrets), "the coordinator issued no cookie: the grep would prove nothing")

	var texts []labeled
	for name, v := range vals {
		texts = append(texts, sweep(name, v, true)...)
	}
	// Everything closed, its goroutines ended: every placement.
	require.NoError(t, op.Close(ctx))
	require.NoError(t, hop.Close(ctx))
	require.NoError(t, hs.Close())
	l.Release()
	require.NoError(t, p.Close())
	release()
	for name, v := range vals {
		texts = append(texts, sweep(name+" (closed)", v, false)...)
	}
	// The sweep must see the secrets where they are meant to be:
	// FormatDSN, the Basic value revealed. Otherwise the grep would prove
	// nothing.
	cfg := vals["impalalb.Config"].(impalalb.Config)
	httpCfg := vals["impalalb.Config (hs2-http, jwt)"].(impalalb.Config)
	basic := vals["secret.Value (Basic header)"].(secret.Value)
	require.Empty(t, leaksIn(texts, []sought{secretOf("x", []byte("no-such-text"))}))
	for _, where := range []labeled{{"FormatDSN", cfg.FormatDSN()}, {"FormatDSN (jwt, header)", httpCfg.FormatDSN()}, {"Basic", basic.Reveal()}} {
		require.NotEmpty(t, leaksIn([]labeled{where}, sweptSecrets), where.label)
	}
	require.Len(t, leaksIn([]labeled{{"jwt", httpCfg.JWT.Reveal()}, {"header", httpCfg.HTTPHeaders["X-Api-Key"].Reveal()}}, sweptSecrets), 2)
	for label, sample := range leaksIn(texts, secrets) {
		t.Errorf("secret leak in %s: %s", label, sample)
	}
	t.Logf("%d texts, %d values, %d verbs: clean", len(texts), len(vals), len(verbs))

	requireSweepCoversModule(t, vals)
}

// TestSecretsInPanics: a value that holds the password, panicked with and
// not recovered, crashes the process; what the Go runtime prints then
// (the panic value, its Error or String, the goroutine stacks) holds no
// form of the password. Each value in a child process of its own.
func TestSecretsInPanics(t *testing.T) {
	if name := os.Getenv("IMPALALB_PANIC_WITH"); name != "" {
		vals, _, err := offlineValues("127.0.0.1:1")
		if err != nil {
			fmt.Fprintln(os.Stderr, "setup:", err)
			os.Exit(3)
		}
		v, ok := vals[name]
		if !ok {
			fmt.Fprintln(os.Stderr, "no such value:", name)
			os.Exit(3)
		}
		panic(v)
	}
	vals, release, err := offlineValues("127.0.0.1:1")
	require.NoError(t, err)
	release()
	names := make([]string, 0, len(vals))
	for name := range vals {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSecretsInPanics$", "-test.count=1")
		cmd.Env = append(os.Environ(), "IMPALALB_PANIC_WITH="+name, "GOTRACEBACK=all")
		out, err := cmd.CombinedOutput()
		require.Error(t, err, "%s: the child did not crash", name)
		text := string(out)
		require.Contains(t, text, "panic: ", "%s: no panic printed:\n%s", name, text)
		require.NotContains(t, text, "setup:", name)
		for label, sample := range leaksIn([]labeled{{name + " panic", text}}, []sought{secretOf("password", []byte(sweptPassword))}) {
			t.Errorf("secret leak in %s: %s", label, sample)
		}
		first, _, _ := strings.Cut(text[strings.Index(text, "panic: "):], "\n")
		t.Logf("%s: %s", name, first)
	}
}

// requireSweepCoversModule finds, in the module's public packages, every
// exported type whose fields hold a secret (a secret.Value, a sealed
// value, or a type that holds one, by name, through any depth) and
// requires the sweep to have a value of it.
func requireSweepCoversModule(t *testing.T, vals map[string]any) {
	t.Helper()
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	pkgs := map[string]string{ // package name: directory
		"impalalb": root, "conn": filepath.Join(root, "conn"), "sasl": filepath.Join(root, "conn", "sasl"),
		"balancer": filepath.Join(root, "balancer"), "kerberos": filepath.Join(root, "kerberos"),
		"tlsconf": filepath.Join(root, "tlsconf"), "secret": filepath.Join(root, "secret"),
	}
	// fields: "pkg.Type" -> the qualified names its field types mention.
	fields := map[string][]string{}
	fset := token.NewFileSet()
	for pkg, dir := range pkgs {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		require.NoError(t, err)
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			af, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
			require.NoError(t, err)
			ast.Inspect(af, func(n ast.Node) bool {
				ts, ok := n.(*ast.TypeSpec)
				if !ok {
					return true
				}
				st, ok := ts.Type.(*ast.StructType)
				if !ok {
					return false
				}
				name := pkg + "." + ts.Name.Name
				for _, fl := range st.Fields.List {
					ast.Inspect(fl.Type, func(n ast.Node) bool {
						switch x := n.(type) {
						case *ast.SelectorExpr:
							if id, ok := x.X.(*ast.Ident); ok {
								fields[name] = append(fields[name], id.Name+"."+x.Sel.Name)
							}
							return false
						case *ast.Ident:
							fields[name] = append(fields[name], pkg+"."+x.Name)
						}
						return true
					})
				}
				return false
			})
		}
	}
	holds := map[string]bool{"secret.Value": true, "kerberos.sealed": true}
	for changed := true; changed; {
		changed = false
		for typ, refs := range fields {
			if holds[typ] {
				continue
			}
			for _, r := range refs {
				if holds[r] {
					holds[typ], changed = true, true
					break
				}
			}
		}
	}
	have := map[string]bool{}
	for _, v := range vals {
		rt := reflect.TypeOf(v)
		for rt.Kind() == reflect.Pointer {
			rt = rt.Elem()
		}
		name := rt.String()
		if i := strings.IndexByte(name, '['); i >= 0 {
			name = name[:i] // a generic type's instance
		}
		have[name] = true
	}
	var found []string
	for typ := range holds {
		_, name, _ := strings.Cut(typ, ".")
		if !ast.IsExported(name) {
			continue
		}
		found = append(found, typ)
		require.True(t, have[typ], "exported type %s holds a secret but the sweep has no value of it", typ)
	}
	slices.Sort(found)
	t.Logf("exported types holding a secret, all swept: %v", found)
	require.Contains(t, found, "impalalb.Config", "the walk found nothing: it would prove nothing")
}
