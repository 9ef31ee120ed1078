// Command service is a small HTTP service over database/sql and impalalb's
// driver: one Impala query per request, with session affinity keyed by the
// requesting user, as Hue needs.
//
//	go run ./examples/service                                 # local in-process coordinators
//	go run ./examples/service -dsn 'impala://c1:21050,c2:21050,c3:21050/default'
//	curl -H 'X-Impala-User: alice' 'http://127.0.0.1:8080/query?sql=select+1'
//
// # Affinity per user
//
// Impala's load-balancer guide asks for source persistence for Hue: a user's
// queries must reach the coordinator that ran the user's DDL (catalog updates
// reach the other coordinators only later) and that holds the user's query
// history. The driver chooses the affinity key per connector (DSN parameter
// affinity_key), not per query, so the service keeps one *sql.DB per user,
// each over its own connector with balance=affinity and affinity_key set to the
// user name. Rendezvous hashing of the key over the coordinator list depends
// on nothing else, so every replica of the service, and every restart, sends a
// user to the same coordinator while it is up; when it is down, only its users
// move. The per-user databases are created on first use, keep at most two idle
// sessions, do passive health checks only (a failed dial ejects a coordinator)
// and are closed, least recently used first, beyond -max-users. Requests
// without a user go through one shared *sql.DB balanced by least connections.
//
// The user comes from the X-Impala-User header or the user query parameter.
// This example trusts it: put the service behind your authentication.
//
// # Endpoints
//
//	GET|POST /query?sql=...   one statement (POST: the body is the statement);
//	                          answers JSON {user, coordinator, columns, rows, elapsed_ms}
//	                          or {error, coordinator} with status 502 (Impala
//	                          refused or failed it) or 400 (no statement).
//	GET /healthz              "ok"
//	GET /metrics              every pool's per-coordinator figures, and the
//	                          statement and acquire latency histograms per
//	                          coordinator, in Prometheus's text format
//
// # Tracing
//
// Every connector shares one tracer (tracing.go), set as Config.Tracer: it
// implements conn.Tracer and balancer.Tracer, logs each statement with its
// coordinator and Impala query id, and records per-coordinator latency
// histograms for /metrics. It is the shape of an OpenTelemetry adapter; the
// library itself depends on no tracing package.
//
// SIGINT or SIGTERM shuts down gracefully: no new requests, the ones in flight
// finish (up to -shutdown-timeout), then the sessions and pools close.
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/impalalb/impalalb"
	"github.com/impalalb/impalalb/balancer"
	"github.com/impalalb/impalalb/internal/impalad"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], nil, os.Stderr))
}

// settings are the flags.
type settings struct {
	addr            string
	dsn             string
	local           int
	maxUsers        int
	queryTimeout    time.Duration
	shutdownTimeout time.Duration
}

func parseFlags(args []string, stderr io.Writer) (*settings, error) {
	s := &settings{}
	fs := flag.NewFlagSet("service", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&s.addr, "addr", "127.0.0.1:8080", "HTTP listen address")
	fs.StringVar(&s.dsn, "dsn", "", "impalalb DSN, impala://host1:21050,host2:21050/db?...; empty starts -local in-process coordinators")
	fs.IntVar(&s.local, "local", 3, "in-process test coordinators to start when -dsn is empty")
	fs.IntVar(&s.maxUsers, "max-users", 1000, "per-user databases kept open")
	fs.DurationVar(&s.queryTimeout, "query-timeout", time.Minute, "bound of one request's statement")
	fs.DurationVar(&s.shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long requests in flight may finish at shutdown")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	switch {
	case fs.NArg() > 0:
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case s.local < 1 || s.local > 16:
		return nil, errors.New("-local must be from 1 to 16")
	case s.maxUsers < 1:
		return nil, errors.New("-max-users must be positive")
	}
	return s, nil
}

// run serves until ctx ends, then shuts down gracefully. ready, when not nil,
// gets the listen address once the service accepts requests.
func run(ctx context.Context, args []string, ready func(addr string), stderr io.Writer) int {
	log := slog.New(slog.NewTextHandler(stderr, nil))
	st, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "service: %v\n", err)
		return 2
	}
	dsn := st.dsn
	if dsn == "" {
		cos, err := impalad.NewCluster(time.Second).StartN(st.local, impalad.Config{})
		if err != nil {
			log.Error("starting local coordinators", "err", err)
			return 1
		}
		defer func() {
			for _, co := range cos {
				_ = co.Close()
			}
		}()
		addrs := make([]string, len(cos))
		for i, co := range cos {
			addrs[i] = co.HS2Addr()
		}
		dsn = "impala://" + strings.Join(addrs, ",") + "/default"
		log.Info("started local in-process coordinators", "coordinators", strings.Join(addrs, ","))
	}
	srv, err := newServer(dsn, st, newTracer(log))
	if err != nil {
		log.Error("bad -dsn", "err", err)
		return 2
	}
	defer srv.close()

	ln, err := net.Listen("tcp", st.addr)
	if err != nil {
		log.Error("listen", "err", err)
		return 1
	}
	hs := &http.Server{Handler: srv.routes(), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	log.Info("serving", "addr", ln.Addr().String(), "dsn", srv.base.String())
	if ready != nil {
		ready(ln.Addr().String())
	}

	select {
	case err := <-served:
		log.Error("serve", "err", err)
		return 1
	case <-ctx.Done():
	}
	log.Info("shutting down: waiting for requests in flight")
	sctx, cancel := context.WithTimeout(context.Background(), st.shutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		log.Error("shutdown", "err", err)
		return 1
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		log.Error("serve", "err", err)
	}
	log.Info("stopped")
	return 0
}

// server holds the databases: one shared (leastconn) and one per user
// (affinity keyed by the user).
type server struct {
	base         *impalalb.Config
	tracer       *tracer
	shared       *sql.DB
	sharedConn   *impalalb.Connector
	maxUsers     int
	queryTimeout time.Duration

	mu    sync.Mutex // guards users
	users map[string]*userDB
	wg    sync.WaitGroup // closes of evicted databases
}

type userDB struct {
	db       *sql.DB
	conn     *impalalb.Connector
	lastUsed time.Time
}

func newServer(dsn string, st *settings, tr *tracer) (*server, error) {
	base, err := impalalb.ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	base.Tracer = tr // every connector's statements and acquires
	sc, err := impalalb.NewConnector(base.Clone())
	if err != nil {
		return nil, err
	}
	return &server{base: base, tracer: tr, shared: sql.OpenDB(sc), sharedConn: sc, maxUsers: st.maxUsers, queryTimeout: st.queryTimeout, users: map[string]*userDB{}}, nil
}

// db returns the database of user: its own connector with affinity keyed by
// the user name, created on first use.
func (s *server) db(user string) (*sql.DB, error) {
	if user == "" {
		return s.shared, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if u, ok := s.users[user]; ok {
		u.lastUsed = time.Now()
		return u.db, nil
	}
	cfg := s.base.Clone()
	cfg.Balance = impalalb.BalanceAffinity
	cfg.AffinityKey = user
	cfg.HealthInterval = -1 // passive checks only: many small pools
	c, err := impalalb.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(c)
	db.SetMaxIdleConns(2)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if len(s.users) >= s.maxUsers {
		s.evictLocked()
	}
	s.users[user] = &userDB{db: db, conn: c, lastUsed: time.Now()}
	return db, nil
}

// evictLocked closes the least recently used user's database, in the
// background: Close waits for its queries in flight.
func (s *server) evictLocked() {
	var oldest string
	var t time.Time
	for name, u := range s.users {
		if oldest == "" || u.lastUsed.Before(t) {
			oldest, t = name, u.lastUsed
		}
	}
	db := s.users[oldest].db
	delete(s.users, oldest)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_ = db.Close()
	}()
}

func (s *server) close() {
	s.mu.Lock()
	for name, u := range s.users {
		_ = u.db.Close()
		delete(s.users, name)
	}
	s.mu.Unlock()
	s.wg.Wait()
	_ = s.shared.Close()
}

func (s *server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/query", s.handleQuery)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	mux.HandleFunc("/metrics", s.handleMetrics)
	return mux
}

// handleMetrics serves every pool's per-coordinator figures in Prometheus's
// text format, the shared pool as pool="shared", each user's as
// pool="user:NAME"; then the tracer's latency histograms.
func (s *server) handleMetrics(w http.ResponseWriter, _ *http.Request) {
	pools := map[string]balancer.Stats{"shared": s.sharedConn.Stats()}
	s.mu.Lock()
	for name, u := range s.users {
		pools["user:"+name] = u.conn.Stats()
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_ = balancer.WritePrometheus(w, pools)
	s.tracer.writeMetrics(w)
}

// queryResponse is the JSON answer of /query.
type queryResponse struct {
	User        string   `json:"user,omitempty"`
	Coordinator string   `json:"coordinator,omitempty"`
	Columns     []string `json:"columns,omitempty"`
	Rows        [][]any  `json:"rows,omitempty"`
	ElapsedMS   int64    `json:"elapsed_ms"`
	Error       string   `json:"error,omitempty"`
}

// maxUserLen bounds the user name taken from a request.
const maxUserLen = 256

func (s *server) handleQuery(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	user := r.Header.Get("X-Impala-User")
	if user == "" {
		user = r.URL.Query().Get("user")
	}
	q := r.URL.Query().Get("sql")
	if r.Method == http.MethodPost {
		b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			writeJSON(w, http.StatusBadRequest, queryResponse{Error: "reading the body: " + err.Error()})
			return
		}
		q = string(b)
	} else if r.Method != http.MethodGet {
		writeJSON(w, http.StatusMethodNotAllowed, queryResponse{Error: "use GET or POST"})
		return
	}
	q = strings.TrimSpace(q)
	if q == "" || len(user) > maxUserLen {
		writeJSON(w, http.StatusBadRequest, queryResponse{Error: "want a statement in sql= (or the POST body) and a user of at most 256 bytes"})
		return
	}
	resp := queryResponse{User: user}
	db, err := s.db(user)
	if err != nil {
		resp.Error = oneLine(err)
		writeJSON(w, http.StatusInternalServerError, resp)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.queryTimeout)
	defer cancel()
	status, err := s.query(ctx, db, q, &resp)
	resp.ElapsedMS = time.Since(start).Milliseconds()
	if err != nil {
		resp.Error = oneLine(err)
	}
	writeJSON(w, status, resp)
}

// query runs q on one connection of db and fills resp.
func (s *server) query(ctx context.Context, db *sql.DB, q string, resp *queryResponse) (int, error) {
	c, err := db.Conn(ctx)
	if err != nil {
		return http.StatusServiceUnavailable, err
	}
	defer c.Close()
	_ = c.Raw(func(dc any) error {
		resp.Coordinator = dc.(impalalb.RawConn).Coordinator()
		return nil
	})
	rows, err := c.QueryContext(ctx, q)
	if err != nil {
		return http.StatusBadGateway, err
	}
	defer rows.Close()
	resp.Columns, err = rows.Columns()
	if err != nil {
		return http.StatusBadGateway, err
	}
	resp.Rows = [][]any{}
	for rows.Next() {
		vals := make([]any, len(resp.Columns))
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return http.StatusBadGateway, err
		}
		for i, v := range vals {
			if b, ok := v.([]byte); ok {
				vals[i] = string(b)
			}
		}
		resp.Rows = append(resp.Rows, vals)
	}
	if err := rows.Err(); err != nil {
		return http.StatusBadGateway, err
	}
	return http.StatusOK, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}
