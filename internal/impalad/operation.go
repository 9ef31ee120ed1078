package impalad

import (
	"fmt"
	"strconv"
	"time"
)

// operation is one statement's execution. Guarded by Coordinator.mu, except
// res, which is immutable once set.
type operation struct {
	key      [16]byte
	secret   [16]byte
	id       string
	sess     *session
	text     string
	res      result // nil: no result set
	opts     map[string]string
	started  time.Time
	readyAt  time.Time // the statement's (simulated) work ends here
	dml      bool
	modified int64
	// deletes marks a DELETE, whose DML result counts deleted rows.
	deletes bool
	deleted int64
	next    int64 // next row to fetch

	// failMsg is the statement's error status, as Impala's query_status
	// (no "Query ... failed" around it); it shows from errAt on. fail()
	// sets it for readyAt; a cancel, a session expiry or a time limit for
	// the moment it happens.
	failMsg string
	errAt   time.Time
	// canceled records that the error came from a cancel (for the exec
	// summary's CANCELLED state).
	canceled bool

	// lastActive and rpcs are the client activity that QUERY_TIMEOUT_S
	// measures (ClientRequestState's last_active_ms and is_active()).
	lastActive time.Time
	rpcs       int

	closed    bool
	final     opState // the state when it was closed
	chClosed  bool
	cancelled chan struct{} // closed on cancel, error or close
}

type opState int

const (
	opRunning opState = iota
	opFinished
	opError
	opClosed
)

func (op *operation) stateLocked(now time.Time) opState {
	switch {
	case op.closed:
		return opClosed
	case op.failMsg != "" && !now.Before(op.errAt):
		return opError
	case now.Before(op.readyAt):
		return opRunning
	}
	return opFinished
}

// viewState is the state shown in profiles and summaries: for a closed
// operation, the state it had when it was closed.
func (op *operation) viewState(now time.Time) opState {
	if op.closed {
		return op.final
	}
	return op.stateLocked(now)
}

// eosLocked reports that every row has been fetched (Impala's eos_): a
// cancel or a time limit no longer changes such a statement.
func (op *operation) eosLocked() bool {
	return op.res == nil || op.next >= op.res.numRows()
}

// failLocked ends op with the error status msg now, as
// ClientRequestState::Cancel with a cause (be/src/service/
// client-request-state.cc): a statement already in error, or finished with
// every row fetched, keeps its state. It reports whether op changed.
func (op *operation) failLocked(msg string, now time.Time) bool {
	st := op.stateLocked(now)
	if st == opClosed || st == opError || st == opFinished && op.eosLocked() {
		return false
	}
	op.failMsg, op.errAt = msg, now
	op.signalLocked()
	return true
}

// cancelLocked is CancelOperation and beeswax Cancel: Impala ends the
// statement in ERROR_STATE with the status "Cancelled" (TErrorCode
// CANCELLED, common/thrift/generate_error_codes.py), never CANCELED_STATE.
func (op *operation) cancelLocked() {
	if op.failLocked("Cancelled", time.Now()) {
		op.canceled = true
	}
}

func (op *operation) signalLocked() {
	if !op.chClosed {
		op.chClosed = true
		close(op.cancelled)
	}
}

func (op *operation) closeLocked() {
	if !op.closed {
		op.final = op.stateLocked(time.Now())
	}
	op.closed = true
	if g, ok := op.res.(*genResult); ok {
		g.dropBuffers() // closed operations stay archived a while
	}
	op.signalLocked()
}

// queryFailed is ImpalaServer::QUERY_ERROR_FORMAT (be/src/service/
// impala-server.cc), "Query <id> failed:\n<detail>\n", the detail being a
// status message with its newline (Status::GetDetail): how HS2 calls about
// a statement, and beeswax get_log, report its error.
func queryFailed(id, msg string) string {
	return "Query " + id + " failed:\n" + msg + "\n\n"
}

// printTimeS prints seconds as PrettyPrinter does for TUnit::TIME_S
// (be/src/util/pretty-printer.h, PrintTimeMs): "2s000ms", "1m30s", "1h".
func printTimeS(s int64) string {
	ms := s * 1000
	if ms == 0 {
		return "0"
	}
	out := ""
	hour, minute := false, false
	if ms >= 3600_000 {
		out += strconv.FormatInt(ms/3600_000, 10) + "h"
		ms %= 3600_000
		hour = true
	}
	if ms >= 60_000 {
		out += strconv.FormatInt(ms/60_000, 10) + "m"
		ms %= 60_000
		minute = true
	}
	second := false
	if !hour && ms >= 1000 {
		out += strconv.FormatInt(ms/1000, 10) + "s"
		ms %= 1000
		second = true
	}
	if !hour && !minute {
		if second {
			out += fmt.Sprintf("%03dms", ms)
		} else {
			out += strconv.FormatInt(ms, 10) + "ms"
		}
	}
	return out
}

// optSeconds reads a non-negative seconds option of op (0: off).
func (op *operation) optSeconds(name string) int64 {
	n, err := strconv.ParseInt(op.opts[name], 10, 32)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// maxInterrupted bounds the statuses kept for expired statements.
const maxInterrupted = 1024

// expireQueries applies QUERY_TIMEOUT_S and EXEC_TIME_LIMIT_S, as
// ImpalaServer::ExpireQueries does (be/src/service/impala-server.cc): a
// statement past its execution time limit fails with "Query <id> expired
// due to execution time limit of <t>"; one whose client made no call about
// it for QUERY_TIMEOUT_S (and is not inside a call) is cancelled with
// "Query <id> expired due to client inactivity (timeout is <t>)" and
// unregistered: later calls about it get that status.
func (co *Coordinator) expireQueries(now time.Time) {
	co.mu.Lock()
	defer co.mu.Unlock()
	for _, op := range co.ops {
		if op.closed {
			continue
		}
		if limit := op.optSeconds("exec_time_limit_s"); limit > 0 && now.Sub(op.started) >= time.Duration(limit)*time.Second {
			if op.failLocked(fmt.Sprintf("Query %s expired due to execution time limit of %s", op.id, printTimeS(limit)), now) {
				co.expired.Add(1)
			}
		}
		idle := op.optSeconds("query_timeout_s")
		if idle <= 0 || op.rpcs > 0 || now.Sub(op.lastActive) < time.Duration(idle)*time.Second {
			continue
		}
		msg := fmt.Sprintf("Query %s expired due to client inactivity (timeout is %s)", op.id, printTimeS(idle))
		if op.stateLocked(now) == opError {
			// Status::MergeStatus keeps the first error.
			msg = op.failMsg
		}
		op.failLocked(msg, now)
		co.interruptLocked(op, msg)
		co.expired.Add(1)
	}
}

// interruptLocked unregisters op, keeping msg as the status of later calls
// about it (idle_query_statuses_, read by ImpalaServer::GetActiveQueryHandle).
func (co *Coordinator) interruptLocked(op *operation, msg string) {
	co.closeOpLocked(op)
	if co.interrupted == nil {
		co.interrupted = map[[16]byte]string{}
	}
	if len(co.interrupted) >= maxInterrupted {
		clear(co.interrupted)
	}
	co.interrupted[op.key] = msg
}

// touchOpLocked records a client call about op, for QUERY_TIMEOUT_S; done
// ends it.
func (co *Coordinator) touchOpLocked(op *operation) (done func()) {
	op.lastActive = time.Now()
	op.rpcs++
	return func() {
		co.mu.Lock()
		op.rpcs--
		op.lastActive = time.Now()
		co.mu.Unlock()
	}
}
