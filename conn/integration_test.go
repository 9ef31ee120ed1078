package conn_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/conn"
	"github.com/impalalb/impalalb/conn/sasl"
	"github.com/impalalb/impalalb/internal/impalad"
	"github.com/impalalb/impalalb/secret"
)

const (
	testUser     = "alice"
	testPassword = "s3cret-pw"
)

// variant is one way of connecting: protocol and authentication.
type variant struct {
	name  string
	proto conn.Protocol
	plain bool
}

var variants = []variant{
	{"hs2-nosasl", conn.HS2, false},
	{"hs2-plain", conn.HS2, true},
	{"beeswax-nosasl", conn.Beeswax, false},
	{"beeswax-plain", conn.Beeswax, true},
	{"hs2http-none", conn.HS2HTTP, false},
	{"hs2http-basic", conn.HS2HTTP, true},
}

// The HS2-over-HTTP variants.
var httpNone, httpBasic = variants[4], variants[5]

// hs2 reports whether v speaks HiveServer2 (over TCP or HTTP).
func (v variant) hs2() bool { return v.proto != conn.Beeswax }

func startCoord(t testing.TB, cfg impalad.Config) *impalad.Coordinator {
	t.Helper()
	co, err := impalad.Start(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { co.Close() })
	return co
}

// setup starts a coordinator for v and returns it with the address and
// options to dial it.
func setup(t testing.TB, v variant, cfg impalad.Config) (*impalad.Coordinator, string, conn.Options) {
	t.Helper()
	opts := conn.Options{Protocol: v.proto, User: testUser}
	if v.plain {
		cfg.Users = map[string]string{testUser: testPassword}
		opts.Mechanism = sasl.PlainFactory(testUser, testPassword)
	}
	if v.proto == conn.HS2HTTP {
		cfg.HS2HTTPAddr = "127.0.0.1:0"
		if v.plain {
			// LDAP over HTTP: Basic from User and Password.
			opts.Mechanism, opts.Password = nil, secret.New(testPassword)
		}
	}
	co := startCoord(t, cfg)
	addr := co.HS2Addr()
	switch v.proto {
	case conn.Beeswax:
		addr = co.BeeswaxAddr()
	case conn.HS2HTTP:
		addr = co.HS2HTTPAddr()
	}
	return co, addr, opts
}

func dial(t testing.TB, addr string, opts conn.Options) *conn.Session {
	t.Helper()
	s, err := conn.Dial(context.Background(), addr, opts)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// query runs stmt and returns every row as values.
func query(t testing.TB, s *conn.Session, stmt string) [][]any {
	t.Helper()
	ctx := context.Background()
	op, err := s.Execute(ctx, stmt, nil)
	require.NoError(t, err, stmt)
	return readRows(t, op)
}

// readRows reads every row of op as values and closes it.
func readRows(t testing.TB, op *conn.Operation) [][]any {
	t.Helper()
	ctx := context.Background()
	defer op.Close(ctx)
	var rows [][]any
	for {
		b, err := op.Next(ctx)
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		require.Positive(t, b.Len())
		for r := 0; r < b.Len(); r++ {
			row := make([]any, b.NumColumns())
			for c := range row {
				row[c] = b.Value(c, r)
			}
			rows = append(rows, row)
		}
	}
	require.NoError(t, op.Close(ctx))
	return rows
}

func exec(t testing.TB, s *conn.Session, stmt string) *conn.Operation {
	t.Helper()
	ctx := context.Background()
	op, err := s.Execute(ctx, stmt, nil)
	require.NoError(t, err, stmt)
	require.NoError(t, op.Close(ctx))
	return op
}

func TestSelectOne(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			co, addr, opts := setup(t, v, impalad.Config{})
			s := dial(t, addr, opts)
			require.Equal(t, addr, s.Addr())
			require.Equal(t, v.proto, s.Protocol())
			require.NotEmpty(t, s.ServerVersion())
			if v.hs2() {
				require.Equal(t, 6, s.ProtocolVersion())
			} else {
				require.Equal(t, 0, s.ProtocolVersion())
			}
			require.True(t, s.Alive())
			require.False(t, s.Broken())
			require.NoError(t, s.Ping(context.Background()))

			op, err := s.Execute(context.Background(), "select 1", nil)
			require.NoError(t, err)
			require.True(t, op.HasResultSet())
			require.Len(t, op.Columns(), 1)
			require.Equal(t, conn.TypeTinyInt, op.Columns()[0].Type)
			b, err := op.Next(context.Background())
			require.NoError(t, err)
			require.Equal(t, 1, b.Len())
			require.Equal(t, int8(1), b.Value(0, 0))
			require.Equal(t, int64(1), b.Int64(0, 0))
			_, err = op.Next(context.Background())
			require.Equal(t, io.EOF, err)
			require.NoError(t, op.Close(context.Background()))
			require.Equal(t, int64(-1), op.RowsAffected())
			_, err = op.Next(context.Background())
			require.ErrorIs(t, err, conn.ErrOperationClosed)

			st := co.Statements()
			require.Len(t, st, 1)
			require.Equal(t, testUser, st[0].User)
			require.Equal(t, "select 1", st[0].Text)

			require.NoError(t, s.Close())
			require.NoError(t, s.Close(), "Close is idempotent")
			require.False(t, s.Alive())
			_, err = s.Execute(context.Background(), "select 1", nil)
			require.ErrorIs(t, err, conn.ErrSessionClosed)
			require.Eventually(t, func() bool { return co.Stats().SessionsOpen == 0 }, 5*time.Second, time.Millisecond)
		})
	}
}

// TestGenTableAllTypes decodes every scalar type with NULLs and compares
// each cell with what the coordinator generated.
func TestGenTableAllTypes(t *testing.T) {
	const n = 2500 // three fetches of at most 1024 rows
	schema := impalad.GenSchema()
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			_, addr, opts := setup(t, v, impalad.Config{})
			opts.FetchSize = 1000
			s := dial(t, addr, opts)
			ctx := context.Background()
			op, err := s.Execute(ctx, fmt.Sprintf("select * from gen.rows_%d", n), nil)
			require.NoError(t, err)
			defer op.Close(ctx)
			cols := op.Columns()
			require.Len(t, cols, len(schema))
			for i, c := range schema {
				require.Equal(t, c.Name, cols[i].Name)
				if v.proto == conn.Beeswax {
					// Impala's beeswax names types without their
					// parameters, VARCHAR as STRING.
					want := strings.ToUpper(c.Type.Kind.String())
					if c.Type.Kind == impalad.Varchar {
						want = "STRING"
					}
					require.Equal(t, want, cols[i].TypeName)
					// ... so a DECIMAL's precision and scale and a
					// CHAR's length are unknown, not zero.
					switch c.Type.Kind {
					case impalad.Decimal:
						require.Equal(t, conn.UnknownSize, cols[i].Precision)
						require.Equal(t, conn.UnknownSize, cols[i].Scale)
					case impalad.Char:
						require.Equal(t, conn.UnknownSize, cols[i].Length)
					}
					continue
				}
				require.Equal(t, strings.ToUpper(c.Type.Kind.String()), cols[i].TypeName)
				require.Equal(t, c.Type.Precision, cols[i].Precision)
				require.Equal(t, c.Type.Scale, cols[i].Scale)
				require.Equal(t, c.Type.Length, cols[i].Length)
			}
			row := int64(0)
			batches := 0
			for {
				b, err := op.Next(ctx)
				if err == io.EOF {
					break
				}
				require.NoError(t, err)
				batches++
				for r := 0; r < b.Len(); r++ {
					for c := range schema {
						want := impalad.GenValue(c, row)
						got := b.Value(c, r)
						if want == nil {
							require.Nil(t, got, "row %d col %s", row, schema[c].Name)
							require.True(t, b.IsNull(c, r))
							continue
						}
						require.Equal(t, want, got, "row %d col %s", row, schema[c].Name)
					}
					row++
				}
			}
			require.Equal(t, int64(n), row)
			require.GreaterOrEqual(t, batches, 3)
		})
	}
}

// TestEmptyBatchesWithMoreRows: batches that come back empty while rows
// remain are skipped, never taken as the end.
func TestEmptyBatchesWithMoreRows(t *testing.T) {
	for _, v := range variants[:1:1] {
		_ = v
	}
	for _, v := range []variant{variants[0], variants[2], httpNone} {
		t.Run(v.name, func(t *testing.T) {
			co, addr, opts := setup(t, v, impalad.Config{})
			s := dial(t, addr, opts)
			co.Faults().EmptyFetches(5)
			rows := query(t, s, "select * from gen.rows_10")
			require.Len(t, rows, 10)
			require.Equal(t, int64(9), rows[9][0])
		})
	}
}

// TestCancelWhileWaiting: a ctx cancelled while Execute waits — in the
// first fetch of an HS2 query (the call is cut and the session reattached
// on a new connection, with SASL or without), in a beeswax poll — fails
// Execute, not safe to retry, and the statement is cancelled and closed on
// the coordinator.
func TestCancelWhileWaiting(t *testing.T) {
	for _, v := range []variant{variants[0], variants[1], variants[2], httpNone, httpBasic} {
		t.Run(v.name, func(t *testing.T) {
			co, addr, opts := setup(t, v, impalad.Config{})
			s := dial(t, addr, opts)
			accepted, calls := co.Stats().ConnectionsAccepted, co.Stats().RPCs
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				_, err := s.Execute(ctx, "select sleep(600000)", nil)
				done <- err
			}()
			require.Eventually(t, func() bool { return len(co.Statements()) == 1 }, 5*time.Second, time.Millisecond)
			if v.hs2() {
				// Execute, metadata, and the fetch the coordinator holds:
				// the cancel comes while that call is in flight.
				require.Eventually(t, func() bool { return co.Stats().RPCs >= calls+3 }, 5*time.Second, time.Millisecond)
			}
			cancel()
			err := <-done
			require.ErrorIs(t, err, context.Canceled)
			var ce *conn.Error
			require.ErrorAs(t, err, &ce)
			require.True(t, ce.Sent)
			require.False(t, conn.SafeToRetry(err))
			// The statement was cancelled and closed on the coordinator:
			// at once, or, when the cancel cut a beeswax call in the
			// middle, with the connection.
			require.Eventually(t, func() bool { return co.Stats().OperationsOpen == 0 }, 5*time.Second, time.Millisecond)
			if v.proto == conn.Beeswax && s.Broken() {
				return
			}
			require.False(t, s.Broken())
			if v.hs2() {
				require.Greater(t, co.Stats().ConnectionsAccepted, accepted, "reattached on a new connection")
			}
			require.Equal(t, [][]any{{int8(1)}}, query(t, s, "select 1"))
		})
	}
}

func TestDeadlineInterruptsCall(t *testing.T) {
	for _, v := range []variant{variants[0], variants[2], httpNone} {
		t.Run(v.name, func(t *testing.T) {
			co, addr, opts := setup(t, v, impalad.Config{})
			opts.CancelTimeout = 100 * time.Millisecond
			opts.FetchSize = 4
			s := dial(t, addr, opts)
			op, err := s.Execute(context.Background(), "select * from gen.rows_10", nil)
			require.NoError(t, err)
			// The first batch may have come with Execute (HS2 fetches a
			// query's first rows instead of polling): take it, so that the
			// next Next is a call to the coordinator.
			b, err := op.Next(context.Background())
			require.NoError(t, err)
			require.Equal(t, 4, b.Len())
			co.Faults().SetDelay(time.Hour)
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			_, err = op.Next(ctx)
			require.ErrorIs(t, err, context.DeadlineExceeded)
			require.True(t, s.Broken())
			require.False(t, s.Alive())
			_, err = s.Execute(context.Background(), "select 1", nil)
			require.ErrorIs(t, err, conn.ErrBroken)
			co.Faults().SetDelay(0)
			if v.proto == conn.Beeswax {
				require.ErrorIs(t, s.Reattach(context.Background()), conn.ErrReattachUnsupported)
				return
			}
			require.NoError(t, s.Reattach(context.Background()))
			require.False(t, s.Broken())
			require.True(t, s.Alive())
			require.Equal(t, [][]any{{int8(1)}}, query(t, s, "select 1"))
		})
	}
}

func TestReattachAfterConnectionCut(t *testing.T) {
	for _, reset := range []bool{false, true} {
		t.Run(fmt.Sprintf("reset=%v", reset), func(t *testing.T) {
			co, addr, opts := setup(t, variants[1], impalad.Config{})
			s := dial(t, addr, opts)
			before := co.Stats().SessionsOpened
			if reset {
				require.Positive(t, co.Faults().ResetConnections())
			} else {
				require.Positive(t, co.Faults().CloseConnections())
			}
			require.Eventually(t, func() bool { return !s.Alive() }, 5*time.Second, time.Millisecond)
			require.True(t, s.Broken())
			require.NoError(t, s.Reattach(context.Background()))
			require.NoError(t, s.Ping(context.Background()))
			require.Equal(t, [][]any{{int8(1)}}, query(t, s, "select 1"))
			require.Equal(t, before, co.Stats().SessionsOpened, "the same session, not a new one")
		})
	}
}

func TestIdleProxyTimeout(t *testing.T) {
	for _, v := range []variant{variants[0], variants[2]} {
		t.Run(v.name, func(t *testing.T) {
			co, addr, opts := setup(t, v, impalad.Config{})
			s := dial(t, addr, opts)
			co.Faults().SetIdleConnectionTimeout(20 * time.Millisecond)
			require.Eventually(t, func() bool { return !s.Alive() }, 5*time.Second, time.Millisecond)
			err := s.Ping(context.Background())
			require.ErrorIs(t, err, conn.ErrBroken)
		})
	}
}

func TestExpiredSession(t *testing.T) {
	co, addr, opts := setup(t, variants[0], impalad.Config{})
	s := dial(t, addr, opts)
	require.Equal(t, 1, co.Faults().ExpireSessions())
	err := s.Ping(context.Background())
	var ce *conn.Error
	require.ErrorAs(t, err, &ce)
	require.Contains(t, ce.Message, "expired")
	require.True(t, s.Alive(), "the connection itself is fine")
}

func TestSetUseReset(t *testing.T) {
	for _, v := range []variant{variants[0], variants[2], httpBasic} {
		t.Run(v.name, func(t *testing.T) {
			_, addr, opts := setup(t, v, impalad.Config{})
			admin := dial(t, addr, opts)
			exec(t, admin, "create database d1")
			exec(t, admin, "create table d1.t1 (i int)")
			exec(t, admin, "create table default.t0 (i int)")

			opts.SessionOptions = map[string]string{"MEM_LIMIT": "1g"}
			s := dial(t, addr, opts)
			require.False(t, s.NeedsReset())
			exec(t, s, "set mem_limit=2g")
			exec(t, s, "set request_pool=etl")
			require.True(t, s.NeedsReset())
			require.Contains(t, setOptions(t, s), "mem_limit=2147483648") // as Impala keeps 2g
			exec(t, s, "use d1")
			require.Equal(t, [][]any{{"t1"}}, query(t, s, "show tables"))

			require.NoError(t, s.Reset(context.Background()))
			require.False(t, s.NeedsReset())
			require.Equal(t, [][]any{{"t0"}}, query(t, s, "show tables"))
			o := setOptions(t, s)
			require.Contains(t, o, "mem_limit=1073741824")
			require.NotContains(t, o, "request_pool=etl")

			// Options.Database applies at open and is what Reset restores.
			opts.Database = "d1"
			s2 := dial(t, addr, opts)
			require.False(t, s2.NeedsReset())
			require.Equal(t, [][]any{{"t1"}}, query(t, s2, "show tables"))
			exec(t, s2, "use default")
			require.NoError(t, s2.Reset(context.Background()))
			require.Equal(t, [][]any{{"t1"}}, query(t, s2, "show tables"))
		})
	}
}

// setOptions returns the session's options as "k=v" strings, through SET
// (which lists them).
func setOptions(t *testing.T, s *conn.Session) []string {
	var out []string
	for _, r := range query(t, s, "set") {
		out = append(out, strings.ToLower(fmt.Sprintf("%v", r[0]))+"="+fmt.Sprint(r[1]))
	}
	return out
}

func TestDMLRowsAffected(t *testing.T) {
	for _, v := range []variant{variants[0], variants[2], httpNone} {
		t.Run(v.name, func(t *testing.T) {
			_, addr, opts := setup(t, v, impalad.Config{})
			s := dial(t, addr, opts)
			exec(t, s, "create table t (i int, s string)")
			op := exec(t, s, "insert into t values (1, 'a'), (2, NULL), (3, 'c')")
			require.Equal(t, int64(3), op.RowsAffected())
			rows := query(t, s, "select * from t")
			require.Len(t, rows, 3)
			require.Nil(t, rows[1][1])
		})
	}
}

// An Iceberg DELETE reports rows_modified 0 and the rows it deleted in
// rows_deleted: RowsAffected is the rows deleted, as impala-shell's
// "Deleted N row(s)".
func TestDeleteRowsAffected(t *testing.T) {
	for _, v := range []variant{variants[0], variants[2]} {
		t.Run(v.name, func(t *testing.T) {
			_, addr, opts := setup(t, v, impalad.Config{})
			s := dial(t, addr, opts)
			exec(t, s, "create table ice (i int) stored as iceberg tblproperties ('format-version'='2')")
			require.Equal(t, int64(4), exec(t, s, "insert into ice values (1), (2), (3), (4)").RowsAffected())
			require.Equal(t, int64(3), exec(t, s, "delete from ice where i > 1").RowsAffected())
			require.Equal(t, int64(0), exec(t, s, "delete from ice where i > 1").RowsAffected())
			require.Equal(t, [][]any{{int32(1)}}, query(t, s, "select i from ice"))
		})
	}
}

func TestStatementErrors(t *testing.T) {
	for _, v := range []variant{variants[0], variants[2], httpNone} {
		t.Run(v.name, func(t *testing.T) {
			_, addr, opts := setup(t, v, impalad.Config{})
			s := dial(t, addr, opts)
			for stmt, msg := range map[string]string{
				"select fail('boom')":   "boom",
				"selec 1":               "ParseException",
				"select * from nope.no": "AnalysisException",
			} {
				_, err := s.Execute(context.Background(), stmt, nil)
				var ce *conn.Error
				require.ErrorAs(t, err, &ce, stmt)
				require.ErrorIs(t, err, conn.ErrOperationFailed, stmt)
				require.Contains(t, ce.Message, msg, stmt)
				require.True(t, ce.Sent)
				require.Equal(t, s.Addr(), ce.Addr)
				// Impala's SQLSTATEs: HY000 for every HS2 status (binary
				// or over HTTP), 42000 for a statement beeswax's query
				// refuses, none for a run-time failure (beeswax reads it
				// from get_log).
				hs2 := v.proto != conn.Beeswax
				switch {
				case hs2:
					require.Equal(t, "HY000", ce.SQLState, stmt)
				case msg == "boom":
					require.Empty(t, ce.SQLState, stmt)
				default:
					require.Equal(t, "42000", ce.SQLState, stmt)
				}
				if hs2 && msg != "boom" {
					require.Regexp(t, `^Query [0-9a-f]{16}:[0-9a-f]{16} failed:\n`+msg, ce.Message, stmt)
				}
				require.False(t, conn.SafeToRetry(err))
				require.False(t, s.Broken())
			}
			require.Equal(t, [][]any{{int8(1)}}, query(t, s, "select 1"))
		})
	}
}

func TestSummaryProfileLog(t *testing.T) {
	for _, v := range []variant{variants[0], variants[2], httpNone} {
		t.Run(v.name, func(t *testing.T) {
			_, addr, opts := setup(t, v, impalad.Config{})
			s := dial(t, addr, opts)
			ctx := context.Background()
			op, err := s.Execute(ctx, "select * from gen.rows_5", nil)
			require.NoError(t, err)
			sum, err := op.Summary(ctx)
			require.NoError(t, err)
			require.NotEmpty(t, sum.State)
			require.GreaterOrEqual(t, sum.Progress(), 0.0)
			_, err = op.Profile(ctx)
			require.NoError(t, err)
			_, err = op.Log(ctx)
			require.NoError(t, err)
			require.NoError(t, op.Cancel(ctx))
			require.NoError(t, op.Close(ctx))
		})
	}
}

func TestPerStatementOptions(t *testing.T) {
	for _, v := range []variant{variants[0], variants[2], httpNone} {
		t.Run(v.name, func(t *testing.T) {
			_, addr, opts := setup(t, v, impalad.Config{})
			s := dial(t, addr, opts)
			ctx := context.Background()
			// fail() honours nothing; use the option listing to see the overlay.
			op, err := s.Execute(ctx, "set", map[string]string{"request_pool": "adhoc"})
			require.NoError(t, err)
			bs, err := op.Fetch(ctx)
			require.NoError(t, err)
			require.NoError(t, op.Close(ctx))
			found := false
			for _, b := range bs {
				for r := 0; r < b.Len(); r++ {
					if strings.EqualFold(b.String(0, r), "request_pool") && b.String(1, r) == "adhoc" {
						found = true
					}
				}
			}
			require.True(t, found)
			require.False(t, s.NeedsReset(), "a per-statement option does not change the session")
		})
	}
}

func TestDialErrors(t *testing.T) {
	ctx := context.Background()
	quick := conn.Options{ConnectTimeout: 2 * time.Second}

	t.Run("refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := ln.Addr().String()
		ln.Close()
		_, err = conn.Dial(ctx, addr, quick)
		t.Log(err)
		var ce *conn.Error
		require.ErrorAs(t, err, &ce)
		require.Equal(t, conn.OpDial, ce.Op)
		require.True(t, conn.SafeToRetry(err))
	})
	t.Run("bad address", func(t *testing.T) {
		_, err := conn.Dial(ctx, "no-port", quick)
		t.Log(err)
		require.True(t, conn.SafeToRetry(err))
	})
	t.Run("wrong password", func(t *testing.T) {
		co := startCoord(t, impalad.Config{Users: map[string]string{testUser: testPassword}})
		o := quick
		o.User, o.Password = testUser, secret.New("wrong-pw")
		_, err := conn.Dial(ctx, co.HS2Addr(), o)
		t.Log(err)
		require.ErrorIs(t, err, sasl.ErrRejected)
		require.NotContains(t, err.Error(), "wrong-pw")
		require.True(t, conn.SafeToRetry(err))
	})
	t.Run("nosasl client, sasl server", func(t *testing.T) {
		co := startCoord(t, impalad.Config{Users: map[string]string{testUser: testPassword}})
		_, err := conn.Dial(ctx, co.HS2Addr(), quick)
		t.Log(err)
		require.Error(t, err)
		require.True(t, conn.SafeToRetry(err))
	})
	t.Run("sasl client, nosasl server", func(t *testing.T) {
		co := startCoord(t, impalad.Config{})
		o := quick
		o.User, o.Password = testUser, secret.New(testPassword)
		o.ConnectTimeout = 200 * time.Millisecond
		// A NOSASL server waits for the rest of what it takes for a
		// Thrift message: only the deadline ends the handshake.
		_, err := conn.Dial(ctx, co.HS2Addr(), o)
		t.Log(err)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		var ce *conn.Error
		require.ErrorAs(t, err, &ce)
		require.Equal(t, conn.OpSASL, ce.Op)
		require.True(t, conn.SafeToRetry(err))
	})
	t.Run("http server", func(t *testing.T) {
		// Go's HTTP server waits for a request line that never comes.
		hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		t.Cleanup(hs.Close)
		o := quick
		o.ConnectTimeout = 200 * time.Millisecond
		_, err := conn.Dial(ctx, strings.TrimPrefix(hs.URL, "http://"), o)
		t.Log(err)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.True(t, conn.SafeToRetry(err))
	})
	t.Run("http answer", func(t *testing.T) {
		// A peer that answers in HTTP (or any other text protocol).
		addr := fakePeer(t, []byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"))
		for _, p := range []conn.Protocol{conn.HS2, conn.Beeswax} {
			o := quick
			o.Protocol = p
			_, err := conn.Dial(ctx, addr, o)
			t.Log(err)
			require.ErrorIs(t, err, conn.ErrNotImpala, p.String())
			require.True(t, conn.SafeToRetry(err))
		}
	})
	t.Run("truncated reply", func(t *testing.T) {
		// A peer that answers with half a Thrift message and hangs up.
		addr := fakePeer(t, []byte{0x80, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x0b, 'O', 'p', 'e', 'n'})
		_, err := conn.Dial(ctx, addr, quick)
		t.Log(err)
		var ce *conn.Error
		require.ErrorAs(t, err, &ce)
		require.Equal(t, conn.OpOpenSession, ce.Op)
		require.True(t, conn.SafeToRetry(err))
	})
	t.Run("silent peer", func(t *testing.T) {
		co := startCoord(t, impalad.Config{})
		co.Faults().Hang(true)
		o := quick
		o.ConnectTimeout = 100 * time.Millisecond
		_, err := conn.Dial(ctx, co.HS2Addr(), o)
		t.Log(err)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.True(t, conn.SafeToRetry(err))
	})
	t.Run("open session fails", func(t *testing.T) {
		co := startCoord(t, impalad.Config{})
		co.Faults().FailOpenSessions(1)
		_, err := conn.Dial(ctx, co.HS2Addr(), quick)
		t.Log(err)
		var ce *conn.Error
		require.ErrorAs(t, err, &ce)
		require.Equal(t, conn.OpOpenSession, ce.Op)
		require.NotEmpty(t, ce.Message)
		require.True(t, conn.SafeToRetry(err))
		s, err := conn.Dial(ctx, co.HS2Addr(), quick)
		require.NoError(t, err)
		s.Close()
	})
	t.Run("accept and close", func(t *testing.T) {
		co := startCoord(t, impalad.Config{})
		co.Faults().SetAcceptAndClose(true)
		_, err := conn.Dial(ctx, co.HS2Addr(), quick)
		t.Log(err)
		require.Error(t, err)
		require.True(t, conn.SafeToRetry(err))
	})
	t.Run("bad options", func(t *testing.T) {
		_, err := conn.Dial(ctx, "127.0.0.1:1", conn.Options{FetchSize: -1})
		t.Log(err)
		require.ErrorContains(t, err, "FetchSize")
	})
}

// fakePeer accepts connections, reads a little and answers reply, then
// closes.
func fakePeer(t *testing.T, reply []byte) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 4096)
			_, _ = c.Read(buf)
			_, _ = c.Write(reply)
			c.Close()
		}
	}()
	return ln.Addr().String()
}

func TestTLS(t *testing.T) {
	serverCfg, pool := selfSigned(t)
	for _, v := range []variant{variants[1], variants[2]} {
		t.Run(v.name, func(t *testing.T) {
			_, addr, opts := setup(t, v, impalad.Config{TLS: serverCfg})
			opts.TLS = &tls.Config{RootCAs: pool, ServerName: "impala.test"}
			s := dial(t, addr, opts)
			require.Equal(t, [][]any{{int8(1)}}, query(t, s, "select 1"))
			require.True(t, s.Alive())

			// Without TLS the peer does not answer in Thrift.
			opts.TLS = nil
			opts.ConnectTimeout = time.Second
			_, err := conn.Dial(context.Background(), addr, opts)
			require.Error(t, err)
			require.True(t, conn.SafeToRetry(err))

			// A certificate for another name is refused.
			opts.TLS = &tls.Config{RootCAs: pool, ServerName: "other.test"}
			_, err = conn.Dial(context.Background(), addr, opts)
			var ce *conn.Error
			require.ErrorAs(t, err, &ce)
			require.Equal(t, conn.OpTLS, ce.Op)
		})
	}
}

func selfSigned(t *testing.T) (*tls.Config, *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "impala.test"},
		DNSNames:              []string{"impala.test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}}}, pool
}

func TestCloseInterruptsCall(t *testing.T) {
	co, addr, opts := setup(t, variants[0], impalad.Config{})
	s := dial(t, addr, opts)
	done := make(chan error, 1)
	go func() {
		_, err := s.Execute(context.Background(), "select sleep(600000)", nil)
		done <- err
	}()
	require.Eventually(t, func() bool { return len(co.Statements()) == 1 }, 5*time.Second, time.Millisecond)
	require.NoError(t, s.Close())
	err := <-done
	require.Error(t, err)
	require.True(t, errors.Is(err, conn.ErrSessionClosed) || errors.Is(err, conn.ErrBroken), err.Error())
}

func TestLoggerNeverSeesSecrets(t *testing.T) {
	var buf strings.Builder
	var mu sync.Mutex
	h := slog.NewTextHandler(lockedWriter{&mu, &buf}, &slog.HandlerOptions{Level: slog.LevelDebug})
	_, addr, opts := setup(t, variants[1], impalad.Config{})
	opts.Logger = slog.New(h)
	s := dial(t, addr, opts)
	query(t, s, "select 'top secret statement text'")
	require.NoError(t, s.Close())
	_, err := conn.Dial(context.Background(), addr, conn.Options{User: testUser, Password: secret.New("wrong-" + testPassword), Logger: opts.Logger})
	require.Error(t, err)
	mu.Lock()
	defer mu.Unlock()
	out := buf.String()
	require.Contains(t, out, "session open")
	require.Contains(t, out, "dial failed")
	require.NotContains(t, out, testPassword)
	require.NotContains(t, out, "top secret")
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// A BeeswaxException that get_state raises (it declares none) arrives as a
// TApplicationException with the exception's text: it is read into the
// same *Error a declared one gives (message, SQLSTATE, cause), and the
// connection, whose stream is in step, is not broken.
func TestBeeswaxUndeclaredException(t *testing.T) {
	co, addr, opts := setup(t, variants[2], impalad.Config{})
	s := dial(t, addr, opts)
	ctx := conn.WithStatementStarted(context.Background(), func(conn.StatementStarted) {
		// The session expires while the statement runs: the next
		// get_state fails with "Client session expired ...".
		co.Faults().ExpireSessions()
	})
	_, err := s.Execute(ctx, "select sleep(5000)", nil)
	require.Error(t, err)
	var e *conn.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, conn.OpPoll, e.Op)
	require.Contains(t, e.Message, "Client session expired")
	require.Equal(t, "HY000", e.SQLState)
	require.ErrorIs(t, err, conn.ErrSessionGone)
	require.NotContains(t, err.Error(), "TException", "the message, not the processor's text")
	require.False(t, s.Broken())
}
