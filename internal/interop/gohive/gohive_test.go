package gohive

import (
	"context"
	"crypto/tls"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/beltran/gohive"
	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/internal/certtest"
	"github.com/impalalb/impalalb/internal/impalad"
)

const (
	user     = "alice"
	password = "gohive-pw"
)

func start(t *testing.T, cfg impalad.Config) *impalad.Coordinator {
	t.Helper()
	co, err := impalad.Start(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { co.Close() })
	return co
}

func hostPort(t *testing.T, addr string) (string, int) {
	t.Helper()
	h, p, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	n, err := strconv.Atoi(p)
	require.NoError(t, err)
	return h, n
}

// gohiveValue is the value gohive's RowMap gives for a gen.rows_N value:
// typed integers and booleans, float64 for FLOAT and DOUBLE (HS2 double
// columns), []byte for BINARY, and the server's text for the types HS2
// carries as strings (DECIMAL, TIMESTAMP, DATE, CHAR, VARCHAR, STRING).
func gohiveValue(c impalad.Column, v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case bool, int8, int16, int32, int64, float64, []byte:
		return x
	case float32:
		return float64(x)
	}
	return impalad.FormatValue(c.Type, v)
}

// checkGen runs "select * from gen.rows_n" through gohive and compares
// every value.
func checkGen(t *testing.T, c *gohive.Connection, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cur := c.Cursor()
	defer cur.Close()
	cur.Exec(ctx, "select * from gen.rows_"+strconv.Itoa(n))
	require.NoError(t, cur.Err)
	schema := impalad.GenSchema()
	row := 0
	for cur.HasMore(ctx) {
		require.NoError(t, cur.Err)
		m := cur.RowMap(ctx)
		require.NoError(t, cur.Err)
		require.Len(t, m, len(schema))
		for i, col := range schema {
			require.Equal(t, gohiveValue(col, impalad.GenValue(i, int64(row))), m[col.Name], "row %d column %s", row, col.Name)
		}
		row++
	}
	require.NoError(t, cur.Err)
	require.Equal(t, n, row)
}

func TestNoSASL(t *testing.T) {
	co := start(t, impalad.Config{})
	h, p := hostPort(t, co.HS2Addr())
	cfg := gohive.NewConnectConfiguration()
	cfg.Username = user
	cfg.FetchSize = 1000
	c, err := gohive.Connect(h, p, "NOSASL", cfg)
	require.NoError(t, err)
	defer c.Close()
	checkGen(t, c, 2500)

	// A statement error comes back as an error, and the session goes on.
	ctx := context.Background()
	cur := c.Cursor()
	cur.Exec(ctx, "select nosuchcolumn from gen.rows_1")
	var he gohive.HiveError
	require.ErrorAs(t, cur.Err, &he)
	require.Contains(t, he.Message, "AnalysisException")
	cur.Close()
	checkGen(t, c, 3)
}

func TestLDAP(t *testing.T) {
	dir := t.TempDir()
	ca, err := certtest.NewCA("gohive CA")
	require.NoError(t, err)
	srv, err := ca.Server("localhost", "127.0.0.1")
	require.NoError(t, err)
	_, err = ca.WriteCertFile(dir, "ca.pem")
	require.NoError(t, err)
	users := map[string]string{user: password}
	for _, withTLS := range []bool{false, true} {
		name := "plain"
		cfg := impalad.Config{Users: users}
		if withTLS {
			name = "tls"
			cfg.TLS = &tls.Config{Certificates: []tls.Certificate{srv.TLSCertificate()}, MinVersion: tls.VersionTLS12}
		}
		t.Run(name, func(t *testing.T) {
			co := start(t, cfg)
			h, p := hostPort(t, co.HS2Addr())
			gc := gohive.NewConnectConfiguration()
			gc.Username, gc.Password = user, password
			if withTLS {
				gc.TLSConfig = &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost", MinVersion: tls.VersionTLS12}
			}
			c, err := gohive.Connect(h, p, "LDAP", gc)
			require.NoError(t, err)
			defer c.Close()
			checkGen(t, c, 1100)

			gc.Password = "wrong"
			bad, err := gohive.Connect(h, p, "LDAP", gc)
			if err == nil {
				bad.Close()
			}
			require.Error(t, err)
		})
	}
}
