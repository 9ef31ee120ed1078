package tlsserver

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/impalalb/impalalb/internal/tlsfiles"
)

// Config describes the server side of TLS, for the test coordinator and the
// local demo: a certificate and key reloaded when they change on disk, and
// optionally client certificates checked against a CA (mutual TLS).
type Config struct {
	// CertFile and KeyFile name the PEM certificate (chain) and its
	// unencrypted private key. Required. Read again when either changes.
	CertFile string
	KeyFile  string
	// ClientCAFile names a PEM file of CAs that client certificates must
	// chain to; it is read again when it changes. ClientCAPEM holds more
	// such CAs, fixed. Both empty means client certificates are not asked
	// for, unless ClientAuth says otherwise.
	ClientCAFile string
	ClientCAPEM  []byte
	// ClientAuth is the client certificate policy. Zero
	// (tls.NoClientCert) means tls.RequireAndVerifyClientCert when a client
	// CA is set and tls.NoClientCert otherwise. A policy that verifies
	// certificates needs a client CA.
	ClientAuth tls.ClientAuthType
	// MinVersion is the lowest TLS version accepted, tls.VersionTLS12 or
	// tls.VersionTLS13. Zero means TLS 1.2.
	MinVersion uint16
	// Logger receives reload events and failed reloads. Nil means no
	// logging.
	Logger *slog.Logger
}

// Validate checks the fields without reading any file. Errors wrap a
// *tlsfiles.Error naming the field.
func (c Config) Validate() error {
	if err := c.validate(); err != nil {
		return fmt.Errorf("tlsserver: %w", err)
	}
	return nil
}

func (c Config) validate() error {
	if c.CertFile == "" {
		return &tlsfiles.Error{Field: "CertFile", Err: fmt.Errorf("required")}
	}
	if c.KeyFile == "" {
		return &tlsfiles.Error{Field: "KeyFile", Err: fmt.Errorf("required")}
	}
	if err := tlsfiles.CheckMinVersion(c.MinVersion); err != nil {
		return err
	}
	hasCA := c.ClientCAFile != "" || len(c.ClientCAPEM) > 0
	if (c.ClientAuth == tls.VerifyClientCertIfGiven || c.ClientAuth == tls.RequireAndVerifyClientCert) && !hasCA {
		return &tlsfiles.Error{Field: "ClientAuth", Err: fmt.Errorf("%v needs ClientCAFile or ClientCAPEM", c.ClientAuth)}
	}
	return nil
}

// serverState is one generation of the server's material and the
// *tls.Config built from it.
type serverState struct {
	cert *tls.Certificate
	pool *x509.CertPool
	cfg  *tls.Config
}

// Build validates c, reads its files and returns a *tls.Config for a
// listener. Each handshake gets the certificate and client CAs current at
// that moment (through GetConfigForClient); connections already open keep
// theirs. Errors wrap a *tlsfiles.Error naming the field and the file.
func (c Config) Build() (*tls.Config, error) {
	cfg, err := c.build()
	if err != nil {
		return nil, fmt.Errorf("tlsserver: %w", err)
	}
	return cfg, nil
}

func (c Config) build() (*tls.Config, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	log := c.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	minVersion := c.MinVersion
	if minVersion == 0 {
		minVersion = tls.VersionTLS12
	}
	certFile, keyFile := c.CertFile, c.KeyFile
	cert, err := tlsfiles.New("tlsserver:", []string{"CertFile", "KeyFile"}, []string{certFile, keyFile}, func(d [][]byte) (*tls.Certificate, error) {
		return tlsfiles.KeyPair("CertFile", certFile, d[0], "KeyFile", keyFile, d[1])
	}, log)
	if err != nil {
		return nil, err
	}

	var static []*x509.Certificate
	if len(c.ClientCAPEM) > 0 {
		if static, err = tlsfiles.ParseCerts(c.ClientCAPEM); err != nil {
			return nil, &tlsfiles.Error{Field: "ClientCAPEM", Err: err}
		}
	}
	roots := func() *x509.CertPool { return nil }
	switch {
	case c.ClientCAFile != "":
		path := c.ClientCAFile
		fv, err := tlsfiles.New("tlsserver:", []string{"ClientCAFile"}, []string{path}, func(d [][]byte) (*x509.CertPool, error) {
			return tlsfiles.CAPool(static, "ClientCAFile", path, d[0])
		}, log)
		if err != nil {
			return nil, err
		}
		roots = fv.Get
	case static != nil:
		pool, _ := tlsfiles.CAPool(static, "", "", nil)
		roots = func() *x509.CertPool { return pool }
	}
	clientAuth := c.ClientAuth
	if clientAuth == tls.NoClientCert && (c.ClientCAFile != "" || static != nil) {
		clientAuth = tls.RequireAndVerifyClientCert
	}

	var cur atomic.Pointer[serverState]
	current := func() *tls.Config {
		crt, pool := cert.Get(), roots()
		if s := cur.Load(); s != nil && s.cert == crt && s.pool == pool {
			return s.cfg
		}
		s := &serverState{cert: crt, pool: pool, cfg: &tls.Config{
			Certificates: []tls.Certificate{*crt},
			ClientCAs:    pool,
			ClientAuth:   clientAuth,
			MinVersion:   minVersion,
		}}
		cur.Store(s)
		return s.cfg
	}
	current()
	return &tls.Config{
		MinVersion: minVersion,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return current(), nil
		},
	}, nil
}
