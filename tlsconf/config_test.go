package tlsconf_test

import (
	"crypto/tls"
	"encoding/pem"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/internal/tlsserver"
	"github.com/impalalb/impalalb/tlsconf"
)

func TestConfigErrorsNameFieldAndFile(t *testing.T) {
	p := newPKI(t, "CA")
	certFile, keyFile, _ := p.client(t, "client", "alice")
	otherCert, otherKey, _ := p.client(t, "other", "bob")
	dir := p.dir
	missing := filepath.Join(dir, "missing.pem")
	garbage := filepath.Join(dir, "garbage.pem")
	require.NoError(t, os.WriteFile(garbage, []byte("not pem at all\n"), 0o644))
	encKey := filepath.Join(dir, "enc-key.pem")
	require.NoError(t, os.WriteFile(encKey, pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1, 2, 3}}), 0o600))
	badCert := filepath.Join(dir, "bad-cert.pem")
	require.NoError(t, os.WriteFile(badCert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1, 2, 3}}), 0o644))

	for _, tc := range []struct {
		name  string
		cfg   tlsconf.Config
		field string
		file  string
		msg   string
	}{
		{"CA file missing", tlsconf.Config{CAFile: missing}, "CAFile", missing, "no such file"},
		{"CA file not PEM", tlsconf.Config{CAFile: garbage}, "CAFile", garbage, "no PEM data found"},
		{"CA file holds a key", tlsconf.Config{CAFile: keyFile}, "CAFile", keyFile, "no CERTIFICATE block (found PRIVATE KEY)"},
		{"CA file broken certificate", tlsconf.Config{CAFile: badCert}, "CAFile", badCert, "PEM block 1"},
		{"CAPEM not PEM", tlsconf.Config{CAPEM: []byte("nope")}, "CAPEM", "", "no PEM data found"},
		{"cert without key", tlsconf.Config{CertFile: certFile}, "KeyFile", "", "empty while CertFile is set"},
		{"key without cert", tlsconf.Config{KeyFile: keyFile}, "CertFile", "", "empty while KeyFile is set"},
		{"cert file missing", tlsconf.Config{CertFile: missing, KeyFile: keyFile}, "CertFile", missing, "no such file"},
		{"key file missing", tlsconf.Config{CertFile: certFile, KeyFile: missing}, "KeyFile", missing, "no such file"},
		{"cert file is a key", tlsconf.Config{CertFile: keyFile, KeyFile: keyFile}, "CertFile", keyFile, "no CERTIFICATE block"},
		{"key file is a cert", tlsconf.Config{CertFile: certFile, KeyFile: certFile}, "KeyFile", certFile, "no PRIVATE KEY block (found CERTIFICATE)"},
		{"key of another cert", tlsconf.Config{CertFile: certFile, KeyFile: otherKey}, "KeyFile", otherKey, "does not go with CertFile"},
		{"encrypted key", tlsconf.Config{CertFile: otherCert, KeyFile: encKey}, "KeyFile", encKey, "encrypted"},
		{"old TLS", tlsconf.Config{MinVersion: tls.VersionTLS11}, "MinVersion", "", "not supported"},
		{"server name with port", tlsconf.Config{ServerName: "lb.impala.test:21050"}, "ServerName", "", "no port"},
		{"server name URL", tlsconf.Config{ServerName: "https://lb"}, "ServerName", "", "not a host name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tlsconf.NewClient(tc.cfg)
			var ce *tlsconf.ConfigError
			require.ErrorAs(t, err, &ce)
			require.Equal(t, tc.field, ce.Field)
			require.Equal(t, tc.file, ce.File)
			require.Contains(t, err.Error(), tc.msg)
			require.Contains(t, err.Error(), "tlsconf: "+tc.field)
			if tc.file != "" {
				require.Contains(t, err.Error(), tc.file)
			}
			_, err = tc.cfg.Build()
			require.ErrorAs(t, err, &ce)
		})
	}

	_, err := tlsconf.NewClient(tlsconf.Config{CAFile: missing})
	require.ErrorIs(t, err, fs.ErrNotExist)

	// Valid configurations.
	require.NoError(t, tlsconf.Config{}.Validate())
	require.NoError(t, tlsconf.Config{ServerName: "::1", MinVersion: tls.VersionTLS13}.Validate())
	cfg, err := tlsconf.Config{CAFile: p.caFile, CertFile: certFile, KeyFile: keyFile}.Build()
	require.NoError(t, err)
	require.Equal(t, uint16(tls.VersionTLS12), cfg.MinVersion)
}

func TestServerConfigClientCAPEM(t *testing.T) {
	// A fixed client CA works like a file one, and requires certificates.
	p := newPKI(t, "CA")
	certFile, keyFile, _ := p.server(t, "server", lbName)
	s := startEcho(t, serverTLS(t, tlsserver.Config{CertFile: certFile, KeyFile: keyFile, ClientCAPEM: p.ca.CertPEM()}))
	cliCert, cliKey, _ := p.client(t, "client", "alice")

	for _, withCert := range []bool{true, false} {
		cfg := tlsconf.Config{CAPEM: p.ca.CertPEM(), ServerName: lbName}
		if withCert {
			cfg.CertFile, cfg.KeyFile = cliCert, cliKey
		}
		cl, err := tlsconf.NewClient(cfg)
		require.NoError(t, err)
		c, err := cl.DialContext(t.Context(), "tcp", s.addr)
		if err == nil {
			err = roundTrip(c, "x")
			c.Close()
		}
		if withCert {
			require.NoError(t, err)
		} else {
			require.ErrorIs(t, err, tlsconf.ErrClientCertRequired)
		}
	}
}
