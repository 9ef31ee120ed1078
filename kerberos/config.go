package kerberos

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/impalalb/impalalb/internal/gss"
	"github.com/impalalb/impalalb/secret"
)

// QOP is a SASL GSSAPI security layer (RFC 4752 section 3.3), as the bit
// the server offers and the client chooses.
type QOP byte

// The three security layers.
const (
	// QOPAuth is authentication only: data frames are not wrapped.
	QOPAuth QOP = 1
	// QOPAuthInt wraps every frame with an integrity checksum.
	QOPAuthInt QOP = 2
	// QOPAuthConf wraps every frame encrypted and checksummed.
	QOPAuthConf QOP = 4
)

// String is the SASL name of the layer ("auth", "auth-int",
// "auth-conf"). A set of layers, as a server offers them, gives their names
// joined by commas ("auth,auth-conf"); zero gives "none".
func (q QOP) String() string {
	var names []string
	for _, l := range []QOP{QOPAuth, QOPAuthInt, QOPAuthConf} {
		if q&l != 0 {
			names = append(names, qopNames[l])
		}
	}
	if rest := q &^ (QOPAuth | QOPAuthInt | QOPAuthConf); rest != 0 {
		names = append(names, fmt.Sprintf("qop(%#x)", byte(rest)))
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ",")
}

var qopNames = map[QOP]string{QOPAuth: "auth", QOPAuthInt: "auth-int", QOPAuthConf: "auth-conf"}

// DefaultServiceName is the service part of Impala's principals.
const DefaultServiceName = "impala"

// defaultMaxReceive is the largest wrapped message we accept: the largest
// the security-layer message of RFC 4752 can say.
const defaultMaxReceive = gss.MaxLayerSize

// Config configures a [Client]. Exactly one login method applies: Keytab
// (with Principal), else Password (with Principal), else a credential cache
// (CCache, else $KRB5CCNAME, else the MIT default FILE:/tmp/krb5cc_<uid>).
type Config struct {
	// Krb5Conf is the path of krb5.conf. Empty means the first existing
	// file of $KRB5_CONFIG (a colon-separated list), else /etc/krb5.conf.
	Krb5Conf string
	// Principal is the client principal, "name@REALM" or "name" (default
	// realm of krb5.conf). Required with Keytab or Password; with a
	// credential cache, empty means the cache's principal and a non-empty
	// value must match it.
	Principal string
	// Keytab is the path of a keytab holding Principal's keys. Empty means
	// no keytab login.
	Keytab string
	// Password is Principal's password: secret.New(pw). The zero Value
	// means no password login. It never appears in errors or logs and
	// prints redacted under every verb.
	Password secret.Value
	// CCache is the path of a credential cache file as kinit leaves it
	// ("FILE:" prefix allowed). Empty means $KRB5CCNAME, else
	// /tmp/krb5cc_<uid>. Only FILE caches are supported.
	CCache string
	// ServiceName is the service part of the service principal. Empty means
	// "impala".
	ServiceName string
	// HostFQDN is Impala's kerberos_host_fqdn: when set, the service
	// principal is ServiceName/HostFQDN@REALM whatever host is dialed (the
	// load balancer's principal, which every coordinator's keytab holds).
	// Empty means the dialed host.
	HostFQDN string
	// Realm is the service principal's realm. Empty means krb5.conf's
	// domain_realm mapping of the host, else its default realm.
	Realm string
	// QOP lists the security layers the client accepts, in order of
	// preference; the first one the server offers is chosen. Nil means
	// auth, then auth-int, then auth-conf (so a layer is used only when the
	// server requires one).
	QOP []QOP
	// MaxReceiveSize is the largest wrapped message the client accepts,
	// sent to the server in the security-layer exchange. Zero means 2^24-1.
	MaxReceiveSize int
	// RenewBefore is how long before a ticket's end the client renews it
	// (TGT) or fetches a new one (service tickets). Zero means a fifth of
	// the ticket's lifetime.
	RenewBefore time.Duration
	// NoBackgroundRenewal turns off the one goroutine per Client that
	// renews the TGT before it expires; tickets are then renewed only
	// lazily, when a handshake needs one.
	NoBackgroundRenewal bool
	// Logger receives debug and error events. Nil means no logging.
	Logger *slog.Logger
}

// String describes the configuration without the password.
func (c Config) String() string {
	return fmt.Sprintf("kerberos.Config{Krb5Conf:%q Principal:%q Keytab:%q Password:%q CCache:%q ServiceName:%q HostFQDN:%q Realm:%q QOP:%v}",
		c.Krb5Conf, c.Principal, c.Keytab, c.Password, c.CCache, c.ServiceName, c.HostFQDN, c.Realm, c.QOP)
}

// GoString is String, so that %#v redacts the password too.
func (c Config) GoString() string { return c.String() }

// LogValue implements slog.LogValuer with the redacted String.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// loginMethod is the way a Client obtains its TGT.
type loginMethod int

const (
	loginKeytab loginMethod = iota
	loginPassword
	loginCCache
)

// validate checks the fields and fills the defaults in c (a copy).
func (c *Config) validate() (loginMethod, error) {
	if c.ServiceName == "" {
		c.ServiceName = DefaultServiceName
	}
	if strings.ContainsAny(c.ServiceName, "/@") {
		return 0, fmt.Errorf("kerberos: Config.ServiceName %q must not contain '/' or '@'", c.ServiceName)
	}
	if strings.ContainsAny(c.HostFQDN, "/@") {
		return 0, fmt.Errorf("kerberos: Config.HostFQDN %q must not contain '/' or '@'", c.HostFQDN)
	}
	if c.MaxReceiveSize < 0 || c.MaxReceiveSize > defaultMaxReceive {
		return 0, fmt.Errorf("kerberos: Config.MaxReceiveSize %d out of range [0, %d]", c.MaxReceiveSize, defaultMaxReceive)
	}
	if c.MaxReceiveSize == 0 {
		c.MaxReceiveSize = defaultMaxReceive
	}
	if c.RenewBefore < 0 {
		return 0, errors.New("kerberos: Config.RenewBefore must not be negative")
	}
	if c.QOP == nil {
		c.QOP = []QOP{QOPAuth, QOPAuthInt, QOPAuthConf}
	}
	for _, q := range c.QOP {
		if q != QOPAuth && q != QOPAuthInt && q != QOPAuthConf {
			return 0, fmt.Errorf("kerberos: Config.QOP holds unknown layer %v", q)
		}
	}
	if c.Krb5Conf == "" {
		c.Krb5Conf = defaultKrb5Conf()
	}
	switch {
	case c.Keytab != "" && !c.Password.IsZero():
		return 0, errors.New("kerberos: Config.Keytab and Config.Password are both set; choose one login method")
	case c.Keytab != "":
		if c.Principal == "" {
			return 0, errors.New("kerberos: Config.Principal is required with Config.Keytab")
		}
		return loginKeytab, nil
	case !c.Password.IsZero():
		if c.Principal == "" {
			return 0, errors.New("kerberos: Config.Principal is required with Config.Password")
		}
		return loginPassword, nil
	}
	if c.CCache == "" {
		c.CCache = os.Getenv("KRB5CCNAME")
	}
	if c.CCache == "" {
		c.CCache = fmt.Sprintf("/tmp/krb5cc_%d", os.Getuid())
	}
	if i := strings.Index(c.CCache, ":"); i > 0 {
		typ := strings.ToUpper(c.CCache[:i])
		if typ != "FILE" {
			return 0, fmt.Errorf("kerberos: credential cache type %s is not supported (only FILE); run kinit -c FILE:<path>", typ)
		}
		c.CCache = c.CCache[i+1:]
	}
	return loginCCache, nil
}

// defaultKrb5Conf returns the first existing file of $KRB5_CONFIG, else
// /etc/krb5.conf.
func defaultKrb5Conf() string {
	for _, p := range strings.Split(os.Getenv("KRB5_CONFIG"), ":") {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil { //nolint:gosec // G703: the path is the user's own $KRB5_CONFIG
			return p
		}
	}
	return "/etc/krb5.conf"
}

// splitPrincipal splits "a/b@REALM" into its name and realm.
func splitPrincipal(p string) (name, realm string) {
	if i := strings.LastIndex(p, "@"); i >= 0 {
		return p[:i], p[i+1:]
	}
	return p, ""
}
