package haproxytest_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/conn"
	"github.com/impalalb/impalalb/internal/haproxytest"
	"github.com/impalalb/impalalb/internal/impalad"
)

// TestHS2HTTPThroughHAProxy runs HiveServer2-over-HTTP sessions through
// HAProxy in mode http over three test coordinators. An HS2 session lives
// on one coordinator, so its requests must all reach it: balanced per
// request (leastconn alone), the session's second call already finds
// "Invalid session id"; with prefer-last-server the requests of one client
// connection stay together, until the client reconnects; with a sticky
// cookie, which the session keeps, they stay together across reconnects.
func TestHS2HTTPThroughHAProxy(t *testing.T) {
	cos, err := impalad.NewCluster(0).StartN(3, impalad.Config{DisableBeeswax: true, HS2HTTPAddr: "127.0.0.1:0"})
	require.NoError(t, err)
	var servers []haproxytest.Server
	for i, co := range cos {
		t.Cleanup(func() { co.Close() })
		servers = append(servers, haproxytest.Server{Name: fmt.Sprintf("coord%d", i+1), Addr: co.HS2HTTPAddr(), Check: true})
	}
	p := haproxytest.StartT(t, haproxytest.Options{
		Frontends: []haproxytest.Frontend{
			{Name: "perrequest", HTTP: true, Servers: servers},
			{Name: "prefer", HTTP: true, PreferLastServer: true, Servers: servers},
			{Name: "cookie", HTTP: true, StickyCookie: "SERVERID", Servers: servers},
		}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	opts := conn.Options{Protocol: conn.HS2HTTP}
	open := func() []int64 {
		out := make([]int64, len(cos))
		for i, co := range cos {
			out[i] = int64(co.Stats().SessionsOpen)
		}
		return out
	}
	_, err = conn.Dial(ctx, p.Addr("perrequest"), opts)
	require.ErrorIs(t, err, conn.ErrSessionGone, "per-request balancing splits the session")

	for _, fe := range []string{"prefer", "cookie"} {
		t.Run(fe, func(t *testing.T) {
			before := open()
			var ss []*conn.Session
			for range 6 {
				s, err := conn.Dial(ctx, p.Addr(fe), opts)
				require.NoError(t, err)
				t.Cleanup(func() { s.Close() })
				ss = append(ss, s)
			}
			for _, s := range ss {
				require.NoError(t, run(ctx, s))
			}
			after := open()
			for i := range cos {
				require.Equal(t, int64(2), after[i]-before[i], "leastconn spreads the sessions")
			}
			// Every session reconnects (a reattach: a new connection
			// and a ping), in the reverse order, so that leastconn places
			// the connections anew.
			lost := 0
			for _, s := range slices.Backward(ss) {
				if err := s.Reattach(ctx); err != nil {
					require.ErrorIs(t, err, conn.ErrSessionGone)
					lost++
				}
			}
			if fe == "cookie" {
				require.Zero(t, lost, "the sticky cookie brings every session back to its coordinator")
			} else {
				require.Positive(t, lost, "prefer-last-server: a new connection may reach another coordinator")
				t.Logf("prefer-last-server: %d of 6 sessions reconnected to another coordinator", lost)
			}
		})
	}
}

func run(ctx context.Context, s *conn.Session) error {
	op, err := s.Execute(ctx, "select 1", nil)
	if err != nil {
		return err
	}
	return op.Close(ctx)
}
