package conn_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/conn"
	"github.com/impalalb/impalalb/internal/impalad"
)

// TestShutdownRefusal: a coordinator shutting down refuses a new session
// and a statement; the error wraps ErrShuttingDown and says nothing ran
// (SafeToRetry), so that a pool can send the statement elsewhere. A
// session of its own (no pool) has nowhere to move: the error comes back.
func TestShutdownRefusal(t *testing.T) {
	co, err := impalad.Start(impalad.Config{HS2HTTPAddr: "127.0.0.1:0"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = co.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	protos := []struct {
		proto conn.Protocol
		addr  string
	}{{conn.HS2, co.HS2Addr()}, {conn.HS2HTTP, co.HS2HTTPAddr()}, {conn.Beeswax, co.BeeswaxAddr()}}
	sessions := make([]*conn.Session, len(protos))
	for i, p := range protos {
		s, err := conn.Dial(ctx, p.addr, conn.Options{Protocol: p.proto})
		require.NoError(t, err)
		defer s.Close()
		sessions[i] = s
	}
	_, err = co.StartShutdown(-1)
	require.NoError(t, err)
	for i, p := range protos {
		s := sessions[i]
		_, err = s.Execute(ctx, "select 1", nil)
		require.ErrorIs(t, err, conn.ErrShuttingDown, p.proto)
		require.True(t, conn.SafeToRetry(err), "refused before it ran: %v", err)
		var ce *conn.Error
		require.ErrorAs(t, err, &ce)
		require.Equal(t, conn.OpExecute, ce.Op)
		require.NoError(t, s.Ping(ctx), "pings still work")
	}
	_, err = conn.Dial(ctx, co.HS2Addr(), conn.Options{})
	require.ErrorIs(t, err, conn.ErrShuttingDown)
	require.True(t, conn.SafeToRetry(err))
	for _, st := range co.Statements() {
		require.NotEqual(t, "select 1", st.Text)
	}
}

// TestResetRestoresState: SET (a value with a quote in it too), SET back
// to the default and USE are tracked with their values; Reset gives the
// session back as it was opened: its options and database.
func TestResetRestoresState(t *testing.T) {
	co, err := impalad.Start(impalad.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = co.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, p := range []struct {
		proto conn.Protocol
		addr  string
	}{{conn.HS2, co.HS2Addr()}, {conn.Beeswax, co.BeeswaxAddr()}} {
		s, err := conn.Dial(ctx, p.addr, conn.Options{Protocol: p.proto, SessionOptions: map[string]string{"MT_DOP": "2", "REQUEST_POOL": "etl"}})
		require.NoError(t, err)
		defer s.Close()
		require.False(t, s.NeedsReset())
		for _, stmt := range []string{"create database if not exists reset_db", "use reset_db", "set mt_dop=4", "set request_pool=''", "set mem_limit='1g'"} {
			op, err := s.Execute(ctx, stmt, nil)
			require.NoError(t, err, stmt)
			require.NoError(t, op.Close(ctx))
		}
		require.True(t, s.NeedsReset())
		require.Equal(t, "4", option(t, s, "MT_DOP"))
		require.Equal(t, "1073741824", option(t, s, "MEM_LIMIT"), "as Impala stores it")
		require.NoError(t, s.Reset(ctx))
		require.False(t, s.NeedsReset())
		require.Equal(t, "2", option(t, s, "MT_DOP"), p.proto)
		require.Equal(t, "etl", option(t, s, "REQUEST_POOL"), p.proto)
		require.Equal(t, "0", option(t, s, "MEM_LIMIT"), "back to the server's default")
		// UNSET ALL drops OpenSession's options too; Reset brings them back.
		op, err := s.Execute(ctx, "unset all", nil)
		require.NoError(t, err)
		require.NoError(t, op.Close(ctx))
		require.True(t, s.NeedsReset())
		require.NotEqual(t, "etl", option(t, s, "REQUEST_POOL"))
		require.NoError(t, s.Reset(ctx))
		require.Equal(t, "etl", option(t, s, "REQUEST_POOL"), p.proto)
		require.Equal(t, "2", option(t, s, "MT_DOP"), p.proto)
		rows := query(t, s, "select current_database()")
		require.Equal(t, "default", rows[0][0], p.proto)
		if p.proto == conn.Beeswax {
			_, err := s.Execute(ctx, "set debug_action='a,b'", nil)
			require.ErrorContains(t, err, "beeswax cannot carry")
		}
	}
}

// option returns a query option's value as SET ALL shows it on s.
func option(t *testing.T, s *conn.Session, name string) string {
	t.Helper()
	for _, r := range query(t, s, "set all") {
		if k, _ := r[0].(string); strings.EqualFold(k, name) {
			v, _ := r[1].(string)
			return v
		}
	}
	t.Fatalf("no option %s", name)
	return ""
}

// countingMover is a Mover that counts and refuses moves.
type countingMover struct{ moves int }

func (m *countingMover) Retiring() bool { return false }
func (m *countingMover) Move(context.Context, error) error {
	m.moves++
	return errors.New("no move in this test")
}

// TestSessionGoneAfterItRan: a session that expires after ExecuteStatement
// accepted a query, before the first fetch that Execute makes: the
// fetch's "Client session expired" comes after the statement ran, so it
// is an error with Sent true and no move is tried, however much it
// reads like a refusal (a move would run the statement twice).
func TestSessionGoneAfterItRan(t *testing.T) {
	co, err := impalad.Start(impalad.Config{DisableBeeswax: true})
	require.NoError(t, err)
	t.Cleanup(func() { _ = co.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := conn.Dial(ctx, co.HS2Addr(), conn.Options{})
	require.NoError(t, err)
	defer s.Close()
	m := &countingMover{}
	s.SetMover(m)
	co.Faults().SetDelay(200 * time.Millisecond) // each call waits before it is served
	done := make(chan error, 1)
	go func() {
		_, err := s.Execute(ctx, "select 1", nil)
		done <- err
	}()
	for len(co.Statements()) == 0 {
		select {
		case <-ctx.Done():
			t.Fatal("the statement never arrived")
		case <-time.After(time.Millisecond):
		}
	}
	co.Faults().ExpireSessions() // before the first fetch is served
	err = <-done
	require.ErrorIs(t, err, conn.ErrSessionGone)
	require.False(t, conn.SafeToRetry(err), "the statement ran: %v", err)
	require.Zero(t, m.moves)
	require.Len(t, co.Statements(), 1)
}

// TestResetQuotesAsImpalaReads: Reset writes a value back as Impala's SET
// reads a string literal, without backslash escapes: a backslash stays as
// it is, a value with a single quote goes in double quotes.
func TestResetQuotesAsImpalaReads(t *testing.T) {
	co := startCoord(t, impalad.Config{})
	ctx := context.Background()
	for _, v := range []string{`x\y`, `it's`, `a\'b`} {
		s := dial(t, co.HS2Addr(), conn.Options{SessionOptions: map[string]string{"DEBUG_ACTION": v}})
		require.Equal(t, v, option(t, s, "DEBUG_ACTION"))
		exec(t, s, "set debug_action=other")
		require.NoError(t, s.Reset(ctx))
		require.Equal(t, v, option(t, s, "DEBUG_ACTION"), "as given at OpenSession")
	}
}
