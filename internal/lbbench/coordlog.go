package main

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The rolling restart counts statements where they ran: each coordinator
// runs with -v and logs every statement it registers ("impalad: query
// registered", with its query and session ids, the database it was
// analysed in, its query options and its text, as Impala's "Analyzing
// query" line and profile do). This program reads those lines from each
// coordinator's standard error.

// queryRecord is one statement a coordinator registered.
type queryRecord struct {
	coord     int // index of the coordinator whose log it is
	at        time.Time
	queryID   string
	sessionID string
	db        string
	options   string // "MEM_LIMIT=...,SYNC_DDL=1"
	stmt      string
}

// queryLog collects the records of the three coordinators.
type queryLog struct {
	mu   sync.Mutex
	recs []queryRecord
	bad  int // lines that looked like records but could not be read
	// waiters are closed when a statement containing their key is logged
	// (expect).
	waiters map[string]chan struct{}
}

// expect returns a channel closed once a coordinator logs a statement
// whose text contains key. A coordinator's log is read in order, so once
// its statement with key was seen, every statement it registered before
// was too.
func (q *queryLog) expect(key string) <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.waiters == nil {
		q.waiters = map[string]chan struct{}{}
	}
	ch := make(chan struct{})
	q.waiters[key] = ch
	return ch
}

// sink returns the stderr line handler of coordinator coord: records are
// kept, warnings, errors and anything that is not a log line of the
// coordinator go to this program's standard error, the other debug lines
// (connections, sessions) are dropped.
func (q *queryLog) sink(coord int) func(string) {
	return func(line string) {
		kv, ok := parseLogLine(line)
		if !ok || (kv["level"] != "DEBUG" && kv["level"] != "INFO") {
			fmt.Fprintf(os.Stderr, "coordinator %d: %s\n", coord+1, line)
			return
		}
		if kv["msg"] != "impalad: query registered" {
			return
		}
		at, err := time.Parse(time.RFC3339Nano, kv["time"])
		q.mu.Lock()
		defer q.mu.Unlock()
		if err != nil || kv["query_id"] == "" {
			q.bad++
			return
		}
		q.recs = append(q.recs, queryRecord{coord: coord, at: at, queryID: kv["query_id"], sessionID: kv["session_id"],
			db: kv["db"], options: kv["query_options"], stmt: kv["stmt"]})
		for key, ch := range q.waiters {
			if strings.Contains(kv["stmt"], key) {
				close(ch)
				delete(q.waiters, key)
			}
		}
	}
}

// take returns the records so far and forgets them, with the count of
// unreadable record lines.
func (q *queryLog) take() ([]queryRecord, int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	recs, bad := q.recs, q.bad
	q.recs, q.bad = nil, 0
	return recs, bad
}

// parseLogLine reads one line of log/slog's text format (key=value pairs
// separated by spaces, a value quoted as strconv.Quote does when it needs
// it). ok is false for a line that is not one.
func parseLogLine(line string) (map[string]string, bool) {
	kv := map[string]string{}
	s := line
	for s != "" {
		eq := strings.IndexByte(s, '=')
		if eq <= 0 || strings.ContainsAny(s[:eq], " \"") {
			return nil, false
		}
		key := s[:eq]
		s = s[eq+1:]
		var val string
		if strings.HasPrefix(s, `"`) {
			q, err := strconv.QuotedPrefix(s)
			if err != nil {
				return nil, false
			}
			if val, err = strconv.Unquote(q); err != nil {
				return nil, false
			}
			s = s[len(q):]
		} else {
			end := strings.IndexByte(s, ' ')
			if end < 0 {
				end = len(s)
			}
			val, s = s[:end], s[end:]
		}
		kv[key] = val
		if s != "" && s[0] != ' ' {
			return nil, false
		}
		s = strings.TrimPrefix(s, " ")
	}
	_, hasTime := kv["time"]
	_, hasLevel := kv["level"]
	return kv, hasTime && hasLevel
}

// optionOf returns the value of option name in an options text
// ("MEM_LIMIT=1,SYNC_DDL=1"), "" when it is not there.
func optionOf(options, name string) string {
	for _, kv := range strings.Split(options, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// markerRE finds the marker a client puts in each statement it counts.
var markerRE = regexp.MustCompile(`'(r\d+-c\d+-\d+)'`)

// markerOf returns the statement's marker, "" when it has none.
func markerOf(stmt string) string {
	m := markerRE.FindStringSubmatch(stmt)
	if m == nil {
		return ""
	}
	return m[1]
}
