package conn_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/conn"
	"github.com/impalalb/impalalb/internal/impalad"
)

// TestWithProgress: a statement that runs for a while reports its exec
// summary through the context's hook while Execute waits, with progress
// that never goes back and stays below 1 until the statement is done.
func TestWithProgress(t *testing.T) {
	co, err := impalad.Start(impalad.Config{HS2HTTPAddr: "127.0.0.1:0"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = co.Close() })
	for _, proto := range []conn.Protocol{conn.HS2, conn.Beeswax, conn.HS2HTTP} {
		t.Run(proto.String(), func(t *testing.T) {
			addr := co.HS2Addr()
			switch proto {
			case conn.Beeswax:
				addr = co.BeeswaxAddr()
			case conn.HS2HTTP:
				addr = co.HS2HTTPAddr()
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			s, err := conn.Dial(ctx, addr, conn.Options{Protocol: proto})
			require.NoError(t, err)
			defer s.Close()

			var mu sync.Mutex
			var seen []float64
			finished := 0
			pctx := conn.WithProgress(ctx, 100*time.Millisecond, func(sum *conn.Summary) {
				mu.Lock()
				defer mu.Unlock()
				// The statement may end between the status poll that saw it
				// running and the summary: then that last report says so.
				require.Zero(t, finished, "a report after one that said FINISHED")
				if sum.State == "FINISHED" {
					finished++
					return
				}
				require.Equal(t, "RUNNING", sum.State)
				seen = append(seen, sum.Progress())
			})
			op, err := s.Execute(pctx, "select sleep(1500)", nil)
			require.NoError(t, err)
			err = op.Close(ctx)
			require.NoError(t, err)

			mu.Lock()
			defer mu.Unlock()
			require.NotEmpty(t, seen, "no progress reported during a 1.5 s statement")
			for i, p := range seen {
				require.GreaterOrEqual(t, p, 0.0)
				require.Less(t, p, 1.0)
				if i > 0 {
					require.GreaterOrEqual(t, p, seen[i-1], "progress went back: %v", seen)
				}
			}

			// Without the hook nothing is fetched: the statement runs as before.
			op, err = s.Execute(ctx, "select 1", nil)
			require.NoError(t, err)
			err = op.Close(ctx)
			require.NoError(t, err)
		})
	}
}
