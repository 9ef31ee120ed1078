package conn_test

import (
	"context"
	"io"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/conn"
	"github.com/impalalb/impalalb/internal/impalad"
)

// stmtTracer records statement traces; the end's context must be the one
// the start returned.
type stmtTracer struct {
	mu     sync.Mutex
	starts []conn.TraceStatementStartData
	ends   []conn.TraceStatementEndData
}

type spanKey struct{}

func (r *stmtTracer) TraceStatementStart(ctx context.Context, d conn.TraceStatementStartData) context.Context {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.starts = append(r.starts, d)
	return context.WithValue(ctx, spanKey{}, d.Statement)
}

func (r *stmtTracer) TraceStatementEnd(ctx context.Context, d conn.TraceStatementEndData) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ctx.Value(spanKey{}) != r.starts[len(r.starts)-1].Statement {
		panic("the end's context is not the one its start returned")
	}
	r.ends = append(r.ends, d)
}

// TestTracer: each statement is traced once, from Execute to the
// Operation's Close (or Execute's error), with its coordinator, query id,
// the rows handed out, the DML count and the error; over both protocols.
func TestTracer(t *testing.T) {
	co, err := impalad.Start(impalad.Config{HS2HTTPAddr: "127.0.0.1:0"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = co.Close() })
	for _, p := range []struct {
		proto conn.Protocol
		addr  string
	}{{conn.HS2, co.HS2Addr()}, {conn.Beeswax, co.BeeswaxAddr()}, {conn.HS2HTTP, co.HS2HTTPAddr()}} {
		t.Run(p.proto.String(), func(t *testing.T) {
			tr := &stmtTracer{}
			ctx := context.Background()
			s, err := conn.Dial(ctx, p.addr, conn.Options{Protocol: p.proto, Tracer: tr, FetchSize: 100})
			require.NoError(t, err)
			defer s.Close()

			op, err := s.Execute(ctx, "select * from gen.rows_250", map[string]string{"MEM_LIMIT": "1g"})
			require.NoError(t, err)
			require.Empty(t, tr.ends, "not ended before Close")
			for {
				_, err := op.Next(ctx)
				if err == io.EOF {
					break
				}
				require.NoError(t, err)
			}
			require.NoError(t, op.Close(ctx))
			require.NoError(t, op.Close(ctx))
			require.Len(t, tr.ends, 1, "ended once")
			end := tr.ends[0]
			require.Equal(t, "select * from gen.rows_250", tr.starts[0].Statement)
			require.Equal(t, "1g", tr.starts[0].Options["MEM_LIMIT"])
			require.Equal(t, p.addr, tr.starts[0].Addr)
			require.Equal(t, p.addr, end.Addr)
			require.Equal(t, op.QueryID(), end.QueryID)
			require.NotEmpty(t, end.QueryID)
			require.EqualValues(t, 250, end.Rows)
			require.EqualValues(t, -1, end.RowsAffected)
			require.NoError(t, end.Err)
			require.Positive(t, end.Duration)

			// A statement that fails in Execute ends there, with its error.
			_, err = s.Execute(ctx, "select nosuchcolumn from gen.rows_1", nil)
			require.Error(t, err)
			require.Len(t, tr.ends, 2)
			require.ErrorIs(t, tr.ends[1].Err, conn.ErrOperationFailed)
			require.Equal(t, err, tr.ends[1].Err)

			// DML: the row count.
			for _, stmt := range []string{"create table if not exists traced (i int)", "insert into traced values (1), (2)"} {
				op, err = s.Execute(ctx, stmt, nil)
				require.NoError(t, err)
				require.NoError(t, op.Close(ctx))
			}
			require.EqualValues(t, 2, tr.ends[len(tr.ends)-1].RowsAffected)
			require.Len(t, tr.ends, len(tr.starts))
		})
	}
}
