package main

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/conn"
)

// TestParseLogLine reads lines as log/slog's text handler writes them,
// quoted values with spaces, quotes and line feeds included.
func TestParseLogLine(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	stmt := "select sleep(57), 'r1-c03-000017' -- a \"quoted\" = word\n"
	log.Debug("impalad: query registered", "query_id", "a1:b2", "db", "gen", "query_options", "", "stmt", stmt)
	kv, ok := parseLogLine(strings.TrimSuffix(buf.String(), "\n"))
	require.True(t, ok, buf.String())
	require.Equal(t, "DEBUG", kv["level"])
	require.Equal(t, "impalad: query registered", kv["msg"])
	require.Equal(t, "a1:b2", kv["query_id"])
	require.Equal(t, "gen", kv["db"])
	require.Equal(t, "", kv["query_options"])
	require.Equal(t, stmt, kv["stmt"])
	_, err := time.Parse(time.RFC3339Nano, kv["time"])
	require.NoError(t, err)
	require.Equal(t, "r1-c03-000017", markerOf(kv["stmt"]))

	for _, bad := range []string{"", "panic: runtime error", "goroutine 1 [running]:", `time=x level=DEBUG msg="unterminated`, "impalad: listen: address in use"} {
		_, ok := parseLogLine(bad)
		require.False(t, ok, bad)
	}
	require.Equal(t, "3", optionOf("MEM_LIMIT=3,SYNC_DDL=1", "mem_limit"))
	require.Equal(t, "1", optionOf("MEM_LIMIT=3,SYNC_DDL=1", "SYNC_DDL"))
	require.Equal(t, "", optionOf("", "MEM_LIMIT"))
	require.Equal(t, "", markerOf("select 'flush-r1-2'"))
}

// TestQueryLogSink: records are kept in order with their coordinator, a
// waiter is told when its statement is logged, other lines are dropped.
func TestQueryLogSink(t *testing.T) {
	var q queryLog
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	log.Debug("impalad: connection open", "remote", "127.0.0.1:5")
	log.Debug("impalad: query registered", "query_id", "q1", "session_id", "s1", "db", "default", "query_options", "", "stmt", "select 'r0-c01-000001'")
	log.Debug("impalad: query registered", "query_id", "q2", "session_id", "s1", "db", "default", "query_options", "", "stmt", "select 'flush-r0-1'")
	seen := q.expect("flush-r0-1")
	sink := q.sink(1)
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		sink(line)
	}
	select {
	case <-seen:
	default:
		t.Fatal("the waiter was not told")
	}
	recs, bad := q.take()
	require.Zero(t, bad)
	require.Len(t, recs, 2)
	require.Equal(t, 1, recs[0].coord)
	require.Equal(t, "q1", recs[0].queryID)
	recs, _ = q.take()
	require.Empty(t, recs)
}

// TestAccount checks the counting of a rolling run on made-up attempts
// and coordinator records: every kind of fault it must see.
func TestAccount(t *testing.T) {
	re := &rollEnv{cfg: &config{bucket: 100 * time.Millisecond}, coords: make([]*coordProc, 3)}
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	failed := errors.Join(conn.ErrShuttingDown)
	plain := func(mk string, b, e int, err error) attempt {
		return attempt{client: 0, kind: kindPlain, marker: mk, begin: at(b), end: at(e), err: err}
	}
	held := func(mk string, b, e int, err error) attempt {
		return attempt{client: 2, kind: kindHeld, marker: mk, begin: at(b), end: at(e), err: err}
	}
	lease := func(mk string, b, e int, err error) attempt {
		return attempt{client: 3, kind: kindPerLease, marker: mk, begin: at(b), end: at(e), err: err}
	}
	atts := [][]attempt{
		{
			plain("r1-c00-000001", 0, 50, nil),
			plain("r1-c00-000002", 60, 100, nil),     // ran twice
			plain("r1-c00-000003", 110, 150, nil),    // another client's MEM_LIMIT
			plain("r1-c00-000004", 160, 200, nil),    // in no log
			plain("r1-c00-000005", 210, 250, failed), // never ran
			plain("r1-c00-000006", 300, 350, nil),
		},
		{
			held("", 0, 10, nil), held("", 10, 20, nil),
			held("r1-c02-000001", 20, 80, nil),
			held("r1-c02-000002", 90, 120, nil), // without its USE
			held("", 130, 140, failed),          // a USE that failed
		},
		{
			lease("", 0, 10, nil), lease("", 10, 20, nil),
			lease("r1-c03-000001", 20, 80, nil),      // with client 2's MEM_LIMIT
			lease("r1-c03-000002", 100, 150, failed), // failed, but it had run
		},
	}
	rec := func(coord, ms int, db, opts, mk string) queryRecord {
		return queryRecord{coord: coord, at: at(ms), db: db, options: opts, stmt: "select sleep(10), '" + mk + "'"}
	}
	recs := []queryRecord{
		rec(0, 1, "default", "", "r1-c00-000001"),
		rec(0, 61, "default", "", "r1-c00-000002"),
		rec(1, 62, "default", "", "r1-c00-000002"),
		rec(2, 111, "default", "MEM_LIMIT="+memLimit(3), "r1-c00-000003"),
		rec(0, 301, "default", "SYNC_DDL=1", "r1-c00-000006"),
		rec(1, 21, rollDB, "MEM_LIMIT="+memLimit(2), "r1-c02-000001"),
		rec(1, 91, "default", "MEM_LIMIT="+memLimit(2), "r1-c02-000002"),
		rec(2, 21, rollDB, "MEM_LIMIT="+memLimit(2), "r1-c03-000001"),
		rec(2, 101, rollDB, "MEM_LIMIT="+memLimit(3), "r1-c03-000002"),
		rec(0, 5, "default", "", "r0-c00-000001"), // another run's
		{coord: 1, at: at(6), db: "default", stmt: "use gen"},
	}
	res := &rollResult{errClasses: map[string]int{}}
	re.account(res, 1, t0, at(400), atts, recs)
	require.Equal(t, [numKinds]int{5, 4, 3}, res.ok)
	require.Equal(t, [numKinds]int{1, 1, 1}, res.failed)
	require.Equal(t, 1, res.failedRan)
	require.Equal(t, 1, res.duplicated)
	require.Equal(t, 3, res.wrongState)
	require.Equal(t, 1, res.unseen)
	require.Equal(t, 3, res.clientsFailed)
	require.Equal(t, []int64{3, 3, 3}, res.perCoord)
	require.Equal(t, 300*time.Millisecond, res.longestOutage, "client 3: from its failure at 100 ms to the end")
	require.Equal(t, 3, res.errClasses["refused: the coordinator is shutting down"])
	require.Len(t, res.lat, 8)
	var reg uint32
	for _, b := range res.ok2 {
		for _, n := range b {
			reg += n
		}
	}
	require.EqualValues(t, 9, reg)
	require.EqualValues(t, 1, res.fail[2], "the failure that ended at 250 ms")
}

// TestLineWriter: lines split across writes come out whole, in order.
func TestLineWriter(t *testing.T) {
	var got []string
	w := &lineWriter{fn: func(l string) { got = append(got, l) }}
	for _, chunk := range []string{"time=1 a", "=b\nsecond", " line\n\nthird\nunfinished"} {
		n, err := w.Write([]byte(chunk))
		require.NoError(t, err)
		require.Equal(t, len(chunk), n)
	}
	require.Equal(t, []string{"time=1 a=b", "second line", "", "third"}, got)
}
