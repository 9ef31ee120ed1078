package tlsconf

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"

	"github.com/impalalb/impalalb/internal/tlsfiles"
)

// Config describes the client side of TLS to Impala coordinators. The zero
// value is usable: it trusts the system roots, checks each coordinator's
// certificate against the host that was dialed, sends no client certificate
// and accepts TLS 1.2 and later.
type Config struct {
	// CAFile names a PEM file of CA certificates to trust for coordinator
	// certificates (Auto-TLS's cm-auto-global_cacerts.pem, for example). It
	// is read again when it changes on disk. Empty means no file.
	CAFile string
	// CAPEM holds PEM CA certificates to trust, fixed for the Client's life.
	// With CAFile as well, both are trusted. When both are empty the
	// system roots are trusted.
	CAPEM []byte
	// ServerName, when set, is the name every coordinator's certificate is
	// checked against (and sent in SNI) whatever address is dialed: the load
	// balancer's name in the passthrough model, where every coordinator
	// holds the load balancer's certificate (a SAN or wildcard certificate).
	// Empty means the host part of each dialed address. A host name or IP
	// address, without a port.
	ServerName string
	// CertFile and KeyFile name the PEM client certificate (chain) and its
	// unencrypted private key for mutual TLS. Both or neither. They are
	// read again when either changes on disk. Empty means no client
	// certificate is sent.
	CertFile string
	KeyFile  string
	// MinVersion is the lowest TLS version accepted, tls.VersionTLS12 or
	// tls.VersionTLS13. Zero means TLS 1.2.
	MinVersion uint16
	// InsecureSkipVerify turns off every check of the coordinators'
	// certificates: anyone on the path can read and change the traffic.
	// For experiments only; it is logged as a warning. False (verification
	// on) unless set.
	InsecureSkipVerify bool
	// Logger receives reload events (Info), failed reloads and the
	// InsecureSkipVerify warning (Warn). Nil means no logging.
	Logger *slog.Logger
}

// Validate checks the fields without reading any file. Errors are
// *ConfigError naming the field.
func (c Config) Validate() error {
	if (c.CertFile == "") != (c.KeyFile == "") {
		missing, set := "KeyFile", "CertFile"
		if c.CertFile == "" {
			missing, set = set, missing
		}
		return &ConfigError{Field: missing, Err: fmt.Errorf("empty while %s is set; set both for a client certificate, or neither", set)}
	}
	if err := tlsfiles.CheckMinVersion(c.MinVersion); err != nil {
		return configError(err)
	}
	if n := c.ServerName; n != "" {
		if strings.ContainsAny(n, " /\t") || (strings.Contains(n, ":") && net.ParseIP(n) == nil) {
			return &ConfigError{Field: "ServerName", Err: fmt.Errorf("%q is not a host name or IP address (no port or scheme)", n)}
		}
	}
	return nil
}

// Build is NewClient(c).TLSConfig(): a *tls.Config for clients, ready for
// tls.Client or tls.Dialer. Prefer Client.Handshake, which knows the dialed
// address and so can check certificates of coordinators dialed by IP
// address and name that address in its errors.
func (c Config) Build() (*tls.Config, error) {
	cl, err := NewClient(c)
	if err != nil {
		return nil, err
	}
	return cl.TLSConfig(), nil
}

// Client holds the client side of TLS built from a Config: the CA pool and
// client certificate (both reloaded when their files change) and a
// *tls.Config that uses them. It is safe for concurrent use and needs no
// closing: it starts no goroutine.
type Client struct {
	serverName string
	insecure   bool
	minVersion uint16
	roots      func() *x509.CertPool // nil pool: system roots
	caFile     *tlsfiles.Value[*x509.CertPool]
	cert       *tlsfiles.Value[*tls.Certificate] // nil: no client certificate
	trusted    string                            // what is trusted, for errors
	base       *tls.Config
}

// NewClient validates cfg, reads the files it names and returns a Client.
// Errors are *ConfigError naming the field and the file.
func NewClient(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Client{
		serverName: strings.TrimSuffix(cfg.ServerName, "."),
		insecure:   cfg.InsecureSkipVerify,
		minVersion: cfg.MinVersion,
	}
	if c.minVersion == 0 {
		c.minVersion = tls.VersionTLS12
	}

	if err := c.loadRoots(cfg, log); err != nil {
		return nil, err
	}
	if err := c.loadCert(cfg, log); err != nil {
		return nil, err
	}
	if c.insecure {
		log.Warn("tlsconf: InsecureSkipVerify is set: coordinator certificates are not verified and the connection can be intercepted")
	}
	c.base = c.newTLSConfig(c.serverName, "", nil)
	return c, nil
}

// loadRoots sets what c trusts: the certificates of cfg.CAPEM, with those
// of cfg.CAFile (read now and again when it changes), or the system roots
// when neither is given; c.trusted says which, for errors.
func (c *Client) loadRoots(cfg Config, log *slog.Logger) error {
	var static []*x509.Certificate
	var trusted []string
	if len(cfg.CAPEM) > 0 {
		certs, err := tlsfiles.ParseCerts(cfg.CAPEM)
		if err != nil {
			return &ConfigError{Field: "CAPEM", Err: err}
		}
		static = certs
		trusted = append(trusted, fmt.Sprintf("%d certificate(s) of CAPEM", len(certs)))
	}
	switch {
	case cfg.CAFile != "":
		path := cfg.CAFile
		fv, err := tlsfiles.New("tlsconf:", []string{"CAFile"}, []string{path}, func(d [][]byte) (*x509.CertPool, error) {
			return tlsfiles.CAPool(static, "CAFile", path, d[0])
		}, log)
		if err != nil {
			return configError(err)
		}
		c.caFile = fv
		c.roots = fv.Get
		trusted = append(trusted, fmt.Sprintf("CAFile %q", path))
	case static != nil:
		pool, _ := tlsfiles.CAPool(static, "", "", nil)
		c.roots = func() *x509.CertPool { return pool }
	default:
		c.roots = func() *x509.CertPool { return nil }
		trusted = append(trusted, "system roots")
	}
	c.trusted = strings.Join(trusted, " and ")
	return nil
}

// loadCert reads the client certificate of cfg.CertFile and cfg.KeyFile
// (and again when they change), if there is one.
func (c *Client) loadCert(cfg Config, log *slog.Logger) error {
	if cfg.CertFile == "" {
		return nil
	}
	certFile, keyFile := cfg.CertFile, cfg.KeyFile
	fv, err := tlsfiles.New("tlsconf:", []string{"CertFile", "KeyFile"}, []string{certFile, keyFile}, func(d [][]byte) (*tls.Certificate, error) {
		return tlsfiles.KeyPair("CertFile", certFile, d[0], "KeyFile", keyFile, d[1])
	}, log)
	if err != nil {
		return configError(err)
	}
	c.cert = fv
	return nil
}

// TLSConfig returns the Client's shared *tls.Config. Its ServerName is
// Config.ServerName. Certificates are verified by its VerifyConnection
// against the current CA pool (crypto/tls's own verification is turned off
// through its InsecureSkipVerify field for that reason: a copy that drops
// VerifyConnection verifies nothing). Without Config.ServerName it checks
// against the name sent in SNI, so it cannot check a connection made to an
// IP address (ErrNoServerName); Handshake and ConfigFor can. Its errors do
// not name the dialed address, and a server's refusal of the client
// certificate shows as crypto/tls's remote alert rather than a
// ClientCertError. The returned value must not be modified.
func (c *Client) TLSConfig() *tls.Config { return c.base }

// ConfigFor returns a *tls.Config for one connection to addr (host:port):
// it checks the certificate against Config.ServerName or, when that is
// empty, against the host of addr (a name or an IP address), and names addr
// in its errors. For ClientCertError and HandshakeError use Handshake.
func (c *Client) ConfigFor(addr string) *tls.Config {
	return c.newTLSConfig(c.expectedName(addr), addr, nil)
}

func (c *Client) expectedName(addr string) string {
	if c.serverName != "" {
		return c.serverName
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if i := strings.IndexByte(host, '%'); i >= 0 && strings.Contains(host, ":") {
		host = host[:i] // an IPv6 zone is not part of a certificate's IP
	}
	return strings.TrimSuffix(host, ".")
}

// connState records what happened to the client certificate during one
// handshake, for the errors of that connection.
type connState struct {
	requested atomic.Bool                     // the server asked for a client certificate
	sent      atomic.Pointer[tls.Certificate] // the certificate sent, if any
}

// newTLSConfig builds a config that checks certificates against name (empty:
// the SNI of the connection) and names addr in errors. st, when not nil,
// records the client certificate exchange.
func (c *Client) newTLSConfig(name, addr string, st *connState) *tls.Config {
	return &tls.Config{
		ServerName: name,
		MinVersion: c.minVersion,
		// Verification happens in VerifyConnection with the current pool.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			n := name
			if n == "" {
				n = cs.ServerName
			}
			return c.verify(cs, n, addr)
		},
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			if st != nil {
				st.requested.Store(true)
			}
			if c.cert == nil {
				return &tls.Certificate{}, nil
			}
			cert := c.cert.Get()
			if st != nil {
				st.sent.Store(cert)
			}
			return cert, nil
		},
	}
}

// verify checks the server's certificate chain against the current pool and
// name.
func (c *Client) verify(cs tls.ConnectionState, name, addr string) error {
	if c.insecure {
		return nil
	}
	if len(cs.PeerCertificates) == 0 {
		return &VerifyError{Addr: addr, Err: errors.New("the server sent no certificate")}
	}
	if name == "" {
		return ErrNoServerName
	}
	leaf := cs.PeerCertificates[0]
	opts := x509.VerifyOptions{
		Roots:     c.roots(),
		DNSName:   name,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if len(cs.PeerCertificates) > 1 {
		opts.Intermediates = x509.NewCertPool()
		for _, ic := range cs.PeerCertificates[1:] {
			opts.Intermediates.AddCert(ic)
		}
	}
	if _, err := leaf.Verify(opts); err != nil {
		return classifyVerify(err, addr, name, c.serverName != "", leaf, c.trusted)
	}
	return nil
}

// Handshake runs the client side of TLS over raw, a connection to addr
// (host:port), and returns the TLS connection. The certificate is checked as
// ConfigFor(addr) does. On failure raw is closed and the error is a
// *NameMismatchError, *UnknownAuthorityError, *VerifyError, *ClientCertError
// or *HandshakeError, each naming addr.
func (c *Client) Handshake(ctx context.Context, raw net.Conn, addr string) (*Conn, error) {
	st := &connState{}
	tc := tls.Client(raw, c.newTLSConfig(c.expectedName(addr), addr, st))
	if err := tc.HandshakeContext(ctx); err != nil {
		_ = raw.Close()
		return nil, handshakeError(err, addr, st)
	}
	return &Conn{Conn: tc, addr: addr, st: st}, nil
}

// HandshakeConn is Handshake returning a net.Conn (nil on failure, never a
// typed nil), the shape of conn.Options.TLSHandshake:
//
//	opts.TLSHandshake = client.HandshakeConn
func (c *Client) HandshakeConn(ctx context.Context, raw net.Conn, addr string) (net.Conn, error) {
	tc, err := c.Handshake(ctx, raw, addr)
	if err != nil {
		return nil, err
	}
	return tc, nil
}

// DialContext dials addr over network ("tcp", "tcp4", "tcp6") and runs
// Handshake. Dial errors are returned as net.Dial returns them.
func (c *Client) DialContext(ctx context.Context, network, addr string) (*Conn, error) {
	var d net.Dialer
	raw, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return c.Handshake(ctx, raw, addr)
}

// handshakeError passes the typed verification errors through and turns the
// rest into ClientCertError or HandshakeError.
func handshakeError(err error, addr string, st *connState) error {
	var (
		nm *NameMismatchError
		ua *UnknownAuthorityError
		ve *VerifyError
	)
	if errors.As(err, &nm) || errors.As(err, &ua) || errors.As(err, &ve) {
		return err
	}
	if ce := clientCertError(err, addr, st); ce != nil {
		return ce
	}
	return &HandshakeError{Addr: addr, Err: err}
}

// clientCertError returns a *ClientCertError when err is the server's alert
// refusing the client certificate (or its absence) after it asked for one.
func clientCertError(err error, addr string, st *connState) error {
	code, ok := remoteAlert(err)
	if !ok || !isClientCertAlert(code) || !st.requested.Load() {
		return nil
	}
	ce := &ClientCertError{Addr: addr, Err: err}
	if cert := st.sent.Load(); cert != nil && len(cert.Certificate) > 0 {
		ce.Sent = true
		if cert.Leaf != nil {
			ce.Subject = cert.Leaf.Subject.String()
		}
	}
	return ce
}

// Conn is a client TLS connection made by Client.Handshake. Its Read and
// Write return a *ClientCertError when the server refuses the client
// certificate after the handshake (TLS 1.3 servers decide then); every other
// error is returned unchanged, so that io.EOF and timeouts keep their
// meaning.
type Conn struct {
	*tls.Conn
	addr string
	st   *connState
}

// Read implements net.Conn.
func (c *Conn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if err != nil {
		if ce := clientCertError(err, c.addr, c.st); ce != nil {
			err = ce
		}
	}
	return n, err
}

// Write implements net.Conn.
func (c *Conn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if err != nil {
		if ce := clientCertError(err, c.addr, c.st); ce != nil {
			err = ce
		}
	}
	return n, err
}

// Addr returns the address that was dialed.
func (c *Conn) Addr() string { return c.addr }
