package reliability

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/balancer"
	"github.com/impalalb/impalalb/conn"
	"github.com/impalalb/impalalb/internal/impalad"
	"github.com/impalalb/impalalb/internal/thrift/gen/tcli"
)

// hungServer is a raw-TCP coordinator (binary HS2, or HS2 over HTTP) that
// opens sessions, answers pings and closes sessions, so that health checks
// find it healthy, but never answers a statement: it records the
// statement and leaves the call hanging until the client gives up and
// cuts the connection.
type hungServer struct {
	http bool
	mu   sync.Mutex
	got  map[string]int // statements received, by text
}

func startHung(t *testing.T, overHTTP bool) (*hungServer, string) {
	h := &hungServer{http: overHTTP, got: map[string]int{}}
	return h, serveLoopback(t, h.serve)
}

func (h *hungServer) serve(nc net.Conn) {
	r := bufio.NewReader(nc)
	ctx := context.Background()
	for {
		// One call: binary, straight from the connection; over HTTP, the
		// body of a request.
		var in io.Reader = r
		if h.http {
			req, err := http.ReadRequest(r)
			if err != nil {
				return
			}
			body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
			if req.Body.Close() != nil || err != nil {
				return
			}
			in = bytes.NewReader(body)
		}
		prot := thrift.NewTBinaryProtocolConf(thrift.NewStreamTransportR(in), nil)
		name, _, seq, err := prot.ReadMessageBegin(ctx)
		if err != nil {
			return
		}
		if name == "ExecuteStatement" {
			var args tcli.TCLIServiceExecuteStatementArgs
			if args.Read(ctx, prot) != nil || args.Req == nil {
				return
			}
			h.mu.Lock()
			h.got[args.Req.Statement]++
			h.mu.Unlock()
			// Hang: read (and drop) whatever comes until the client cuts.
			_, _ = io.Copy(io.Discard, r)
			return
		}
		if prot.Skip(ctx, thrift.STRUCT) != nil || prot.ReadMessageEnd(ctx) != nil {
			return
		}
		reply := validReply(name, seq)
		if h.http {
			reply = append(fmt.Appendf(nil, "HTTP/1.1 200 OK\r\nContent-Type: application/x-thrift\r\nContent-Length: %d\r\n\r\n", len(reply)), reply...)
		}
		if _, err := nc.Write(reply); err != nil {
			return
		}
	}
}

// signalHandler is a slog.Handler that closes ch at the first record with
// message msg.
type signalHandler struct {
	msg  string
	ch   chan struct{}
	once sync.Once
}

func (h *signalHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *signalHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *signalHandler) WithGroup(string) slog.Handler            { return h }
func (h *signalHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.once.Do(func() { close(h.ch) })
	}
	return nil
}

func (h *hungServer) received(stmt string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.got[stmt]
}

// stmtRun is one statement of the load: when it started and ended, the
// coordinator of its lease when acquired and after the statement (a
// session moves off a coordinator taken out), and how it ended.
type stmtRun struct {
	stmt          string
	start, end    time.Time
	acquired, ran string
	err           error
}

// hungLoad runs statements from workers goroutines over the pool, each
// with its own timeout, until stop is closed, and returns them.
func hungLoad(t *testing.T, p *balancer.Pool[*conn.Session], workers int, stop <-chan struct{}, timeout time.Duration) []stmtRun {
	t.Helper()
	var (
		mu   sync.Mutex
		runs []stmtRun
		wg   sync.WaitGroup
	)
	stopped := func() bool {
		select {
		case <-stop:
			return true
		default:
			return false
		}
	}
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stopped() {
				actx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				l, err := p.Acquire(actx, "")
				cancel()
				if err != nil {
					t.Errorf("acquire: %v", err)
					return
				}
				r := stmtRun{stmt: tagged("outlier"), start: time.Now(), acquired: l.Coordinator()}
				ctx, cancel := context.WithTimeout(context.Background(), timeout)
				r.err = runStmt(ctx, l.Session(), r.stmt)
				cancel()
				r.end, r.ran = time.Now(), l.Coordinator()
				if r.err != nil || l.Session().Broken() {
					l.Discard()
				} else {
					l.Release()
				}
				mu.Lock()
				runs = append(runs, r)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return runs
}

// TestOutlierEjectsHungCoordinator: beside a healthy coordinator, one that
// accepts sessions and answers pings (health checks pass) but never
// answers a statement. Without ejection its statements keep failing and it
// stays up; with it (the defaults), it is out after OutlierFailures
// timeouts, within seconds, no statement fails after that, and none ran
// twice. The same over HiveServer2 on HTTP, whose sessions tell the pool
// how their statements end as the binary ones do.
func TestOutlierEjectsHungCoordinator(t *testing.T) {
	cos, binAddrs := startCluster(t, 1, impalad.Config{HS2HTTPAddr: "127.0.0.1:0"})
	const (
		workers = 6
		timeout = stmtTimeout
	)
	for _, tc := range []struct {
		name            string
		eject, overHTTP bool
	}{{"ejection off", false, false}, {"ejection on", true, false}, {"ejection on, hs2-http", true, true}} {
		name, eject := tc.name, tc.eject
		t.Run(name, func(t *testing.T) {
			hung, hungAddr := startHung(t, tc.overHTTP)
			addrs, opts := binAddrs, fastOpts()
			if tc.overHTTP {
				addrs, opts.Protocol = []string{cos[0].HS2HTTPAddr()}, conn.HS2HTTP
			}
			// The load runs 7 s without ejection; with it, until 3 s after
			// the pool logs the ejection (20 s at most).
			ejected := make(chan struct{})
			stop := make(chan struct{})
			p := newPool(t, []string{hungAddr, addrs[0]}, opts, func(c *balancer.Config) {
				c.OutlierEjectTime = time.Minute // out for the rest of the test
				c.Fall = 3                       // a slow check on a loaded machine is no failure
				c.Logger = slog.New(&signalHandler{msg: "balancer: coordinator ejected", ch: ejected})
				if !eject {
					c.OutlierFailures = -1
				}
			})
			start := time.Now()
			go func() {
				limit := time.NewTimer(20 * time.Second)
				defer limit.Stop()
				if !eject {
					limit.Reset(7 * time.Second)
				}
				select {
				case <-ejected:
					after := time.NewTimer(3 * time.Second)
					defer after.Stop()
					select {
					case <-after.C:
					case <-limit.C:
					}
				case <-limit.C:
				}
				close(stop)
			}()
			runs := hungLoad(t, p, workers, stop, timeout)

			st, _ := p.Stats().Coordinator(hungAddr)
			failed, ok := 0, 0
			var lastFailStart time.Time
			for _, r := range runs {
				if r.err == nil {
					ok++
					continue
				}
				failed++
				requireTyped(t, r.err, hungAddr)
				if r.start.After(lastFailStart) {
					lastFailStart = r.start
				}
			}
			// Nothing ran twice: each statement was received once at most,
			// by one coordinator.
			ran := map[string]int{}
			for _, s := range cos[0].Statements() {
				ran[s.Text]++
			}
			for _, r := range runs {
				n := ran[r.stmt] + hung.received(r.stmt)
				require.LessOrEqual(t, n, 1, "%s ran %d times", r.stmt, n)
				if r.err == nil {
					require.Equal(t, 1, ran[r.stmt], "%s succeeded but did not run on the healthy coordinator", r.stmt)
				}
			}
			if !eject {
				require.Equal(t, balancer.StateUp, st.State, "health checks alone never take it down")
				require.Zero(t, st.Ejections)
				require.GreaterOrEqual(t, failed, balancer.DefaultOutlierFailures, "statements kept failing")
				t.Logf("%s: %d statements, %d failed, the last failure started %v into the run; %s still %s",
					name, len(runs), failed, lastFailStart.Sub(start).Round(time.Millisecond), hungAddr, st.State)
				return
			}
			require.True(t, st.Ejected, "not ejected: %+v", st)
			require.Equal(t, balancer.StateDown, st.State)
			require.EqualValues(t, 1, st.Ejections)
			var ej *balancer.EjectedError
			require.ErrorAs(t, st.LastError, &ej)
			ejectedAt := st.LastErrorAt
			// Every failure started before the ejection: none after.
			require.False(t, lastFailStart.After(ejectedAt), "a statement started %v after the ejection failed", lastFailStart.Sub(ejectedAt))
			after, moved := 0, 0
			for _, r := range runs {
				if r.start.After(ejectedAt) {
					after++
					require.Equal(t, addrs[0], r.ran)
					if r.acquired == hungAddr {
						moved++ // leased before the ejection: moved at its statement
					}
				}
			}
			require.Positive(t, after, "statements ran after the ejection")
			within(t, ejectedAt.Sub(start), timeout*time.Duration(balancer.DefaultOutlierFailures), "time to eject")
			t.Logf("%s: %d statements, %d failed (all started before the ejection); ejected %v into the run after %d timeouts in a row, for %v; %d statements after it, all on %s (%d of them moved there from a lease on the ejected one), none failed",
				name, len(runs), failed, ejectedAt.Sub(start).Round(time.Millisecond), ej.Failures, ej.For, after, addrs[0], moved)
		})
	}
}
