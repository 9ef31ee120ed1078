package tlsserver_test

import (
	"crypto/tls"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/internal/certtest"
	"github.com/impalalb/impalalb/internal/tlsfiles"
	"github.com/impalalb/impalalb/internal/tlsserver"
)

func TestConfigErrors(t *testing.T) {
	ca, err := certtest.NewCA("CA")
	require.NoError(t, err)
	leaf, err := ca.Server("server.impala.test")
	require.NoError(t, err)
	dir := t.TempDir()
	certFile, keyFile, err := leaf.WriteFiles(dir, "server")
	require.NoError(t, err)
	missing := filepath.Join(dir, "missing.pem")
	for _, tc := range []struct {
		name  string
		cfg   tlsserver.Config
		field string
		msg   string
	}{
		{"no cert", tlsserver.Config{KeyFile: keyFile}, "CertFile", "required"},
		{"no key", tlsserver.Config{CertFile: certFile}, "KeyFile", "required"},
		{"key missing", tlsserver.Config{CertFile: certFile, KeyFile: missing}, "KeyFile", "no such file"},
		{"client CA missing", tlsserver.Config{CertFile: certFile, KeyFile: keyFile, ClientCAFile: missing}, "ClientCAFile", "no such file"},
		{"client CA not PEM", tlsserver.Config{CertFile: certFile, KeyFile: keyFile, ClientCAPEM: []byte("x")}, "ClientCAPEM", "no PEM data"},
		{"verify without CA", tlsserver.Config{CertFile: certFile, KeyFile: keyFile, ClientAuth: tls.RequireAndVerifyClientCert}, "ClientAuth", "needs ClientCAFile"},
		{"old TLS", tlsserver.Config{CertFile: certFile, KeyFile: keyFile, MinVersion: tls.VersionTLS10}, "MinVersion", "not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.cfg.Build()
			var fe *tlsfiles.Error
			require.ErrorAs(t, err, &fe)
			require.Equal(t, tc.field, fe.Field)
			require.Contains(t, err.Error(), tc.msg)
			require.True(t, strings.HasPrefix(err.Error(), "tlsserver: "+tc.field), err.Error())
		})
	}
}
