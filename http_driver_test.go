package impalalb_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb"
	"github.com/impalalb/impalalb/balancer"
	"github.com/impalalb/impalalb/internal/impalad"
	"github.com/impalalb/impalalb/internal/jwttest"
	"github.com/impalalb/impalalb/secret"
)

// TestHTTPJWTBalanced: database/sql over hs2-http with JWTs from a
// function, balanced over three coordinators: each session asks for a
// token once (the coordinator's cookie does the rest), and a token the
// coordinators refuse fails the connect at once, with no coordinator
// marked down.
func TestHTTPJWTBalanced(t *testing.T) {
	is, err := jwttest.New("k1")
	require.NoError(t, err)
	jwks, err := is.WriteJWKS(t.TempDir())
	require.NoError(t, err)
	cos, err := impalad.NewCluster(0).StartN(3, impalad.Config{
		DisableBeeswax: true, HS2HTTPAddr: "127.0.0.1:0", JWKSFile: jwks, JWTAllowWithoutTLS: true,
	})
	require.NoError(t, err)
	for _, co := range cos {
		t.Cleanup(func() { co.Close() })
	}
	cfg := testConfig(impalalb.ProtocolHS2HTTP, cos...)
	cfg.User = ""
	cfg.Auth = impalalb.AuthJWT
	var calls atomic.Int64
	good := atomic.Bool{}
	good.Store(true)
	cfg.JWTFunc = func(context.Context) (secret.Value, error) {
		calls.Add(1)
		if good.Load() {
			return secret.New(is.Token("erin", time.Hour, nil)), nil
		}
		return secret.New(is.Token("erin", -time.Hour, nil)), nil
	}
	db, _ := openDB(t, cfg)
	ctx := context.Background()
	conns := make([]interface{ Close() error }, 0, 6)
	for range 6 {
		cn, err := db.Conn(ctx)
		require.NoError(t, err)
		var one int
		require.NoError(t, cn.QueryRowContext(ctx, "select 1").Scan(&one))
		conns = append(conns, cn)
	}
	for _, co := range cos {
		require.Equal(t, 2, co.Stats().SessionsOpen, "leastconn spreads the sessions")
		for _, st := range co.Statements() {
			require.Equal(t, "erin", st.User)
		}
	}
	require.EqualValues(t, 6, calls.Load(), "one token per session")
	for _, cn := range conns {
		require.NoError(t, cn.Close())
	}

	good.Store(false)
	db2, c2 := openDB(t, cfg)
	var one int
	err = db2.QueryRowContext(ctx, "select 1").Scan(&one)
	require.ErrorContains(t, err, "credentials refused (sent Bearer)")
	require.EqualValues(t, 7, calls.Load(), "one attempt, no other coordinator tried")
	for _, cs := range c2.Stats().Coordinators {
		require.Equal(t, balancer.StateUp, cs.State, "refused credentials mark no coordinator down")
	}
}
