package impalad

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Graceful shutdown, as Impala's (be/src/service/impala-server.cc:
// StartShutdown, ShutdownThread, CheckNotShuttingDown; the statement is
// AdminFnStmt, fe/src/main/java/org/apache/impala/analysis/AdminFnStmt.java;
// the result ClientRequestState::ExecShutdownRequest). A shutdown starts
// with the statement ":shutdown()" (or ":shutdown(deadline_s)"), with
// Coordinator.StartShutdown, or with SIGTERM in cmd/impalad. From then on
// every new operation — OpenSession, GetInfo, ExecuteStatement, the
// metadata calls, beeswax's query, executeAndWait and explain — fails with
// "Server is being shut down: ...", while the sessions and statements that
// exist go on. Pings, fetches and closes still work. After the grace
// period, once no statement is registered and none executes, or at the
// deadline, the coordinator exits: here it stops as Kill does (ports kept
// for Restart), ShutdownDone's channel is closed and Config.OnShutdownDone
// is called (cmd/impalad then ends the process).

// shutdownState is a coordinator's shutdown; guarded by Coordinator.mu.
type shutdownState struct {
	start    time.Time // zero: not shutting down
	deadline time.Time
	done     chan struct{} // closed when the coordinator exited
}

// StartShutdown starts a graceful shutdown with deadline (a negative
// deadline means Config.ShutdownDeadline), as ":shutdown(deadline_s)"
// does, and returns the status line Impala returns. A later call can only
// bring the deadline closer.
func (co *Coordinator) StartShutdown(deadline time.Duration) (string, error) {
	co.mu.Lock()
	defer co.mu.Unlock()
	if co.state != stateRunning {
		return "", ErrClosed
	}
	return co.startShutdownLocked(deadline, 0), nil
}

// ShuttingDown reports whether a graceful shutdown has started.
func (co *Coordinator) ShuttingDown() bool {
	co.mu.Lock()
	defer co.mu.Unlock()
	return !co.shut.start.IsZero()
}

// ShutdownDone returns a channel closed when the coordinator exits at the
// end of a graceful shutdown, or nil when none has started.
func (co *Coordinator) ShutdownDone() <-chan struct{} {
	co.mu.Lock()
	defer co.mu.Unlock()
	return co.shut.done
}

// startShutdownLocked starts or hastens the shutdown; self counts the
// statement that asks for it, registered already in Impala.
func (co *Coordinator) startShutdownLocked(deadline time.Duration, self int) string {
	if deadline < 0 {
		deadline = co.cfg.ShutdownDeadline
	}
	now := time.Now()
	newDeadline := now.Add(deadline)
	setDeadline := co.shut.deadline.IsZero() || co.shut.deadline.After(newDeadline)
	if setDeadline {
		co.shut.deadline = newDeadline
	}
	setGrace := co.shut.start.IsZero()
	if setGrace {
		co.shut.start = now
		co.shut.done = make(chan struct{})
		co.life.wg.Add(1)
		go co.shutdownThread(co.life)
		co.debug("graceful shutdown started")
	}
	// As StartShutdown: the full grace and deadline are shown to whoever
	// started them.
	grace := co.graceLeftLocked(now)
	if setGrace {
		grace = co.cfg.ShutdownGracePeriod
	}
	left := co.shut.deadline.Sub(now)
	if setDeadline {
		left = deadline
	}
	return co.shutdownStatusLocked(grace, left, self)
}

func (co *Coordinator) graceLeftLocked(now time.Time) time.Duration {
	return max(co.shut.start.Add(co.cfg.ShutdownGracePeriod).Sub(now), 0)
}

// shutdownStatusLocked is ImpalaServer::ShutdownStatusToString (with no
// cancel period: the test coordinator has no shutdown_query_cancel_period_s).
func (co *Coordinator) shutdownStatusLocked(grace, deadline time.Duration, self int) string {
	registered, executing := co.queriesLocked(time.Now())
	registered += self
	return fmt.Sprintf("shutdown grace period left: %s, deadline left: %s, queries registered on coordinator: %d, queries executing: %d, fragment instances: %d",
		printTimeMs(grace), printTimeMs(max(deadline, 0)), registered, executing, executing)
}

// queriesLocked counts the statements registered (not closed) and those
// still running.
func (co *Coordinator) queriesLocked(now time.Time) (registered, executing int) {
	for _, op := range co.ops {
		if op.closed {
			continue
		}
		registered++
		if op.stateLocked(now) == opRunning {
			executing++
		}
	}
	return registered, executing
}

// checkNotShuttingDownLocked is CheckNotShuttingDown: the error of a new
// operation during a shutdown, nil otherwise.
func (co *Coordinator) checkNotShuttingDownLocked() *sqlError {
	if co.shut.start.IsZero() {
		return nil
	}
	now := time.Now()
	// TErrorCode SERVER_SHUTTING_DOWN (120), "Server is being shut down:
	// $0." (common/thrift/generate_error_codes.py); errStatus and bzError
	// end it with the line feed of the status's detail.
	msg := "Server is being shut down: " + co.shutdownStatusLocked(co.graceLeftLocked(now), co.shut.deadline.Sub(now), 0) + "."
	return &sqlError{msg: msg, sqlState: "HY000"}
}

// checkNotShuttingDown is checkNotShuttingDownLocked for callers that do
// not hold co.mu.
func (co *Coordinator) checkNotShuttingDown() *sqlError {
	co.mu.Lock()
	defer co.mu.Unlock()
	return co.checkNotShuttingDownLocked()
}

// shutdownThread is ShutdownThread: it checks the state every
// Config.ShutdownCheckInterval (Impala: every second) and exits the
// coordinator once the grace period is over and no statement is
// registered or executing, or at the deadline.
func (co *Coordinator) shutdownThread(l *life) {
	defer l.wg.Done()
	t := time.NewTicker(co.cfg.ShutdownCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-l.ctx.Done():
			return
		case <-t.C:
		}
		co.mu.Lock()
		now := time.Now()
		registered, executing := co.queriesLocked(now)
		exit := (co.graceLeftLocked(now) <= 0 && registered == 0 && executing == 0) || !now.Before(co.shut.deadline)
		co.mu.Unlock()
		if exit {
			co.debug("graceful shutdown complete, going down")
			// Not on this goroutine: the kill waits for it.
			go co.exitAfterShutdown()
			return
		}
	}
}

// exitAfterShutdown stops the coordinator as Kill does and tells
// ShutdownDone.
func (co *Coordinator) exitAfterShutdown() {
	co.lifeMu.Lock()
	co.mu.Lock()
	done := co.shut.done
	co.mu.Unlock()
	co.kill()
	if done != nil {
		close(done)
	}
	co.lifeMu.Unlock()
	// Outside the locks: the hook may close the coordinator.
	if co.cfg.OnShutdownDone != nil {
		co.cfg.OnShutdownDone()
	}
}

// resetShutdownLocked forgets a shutdown when the coordinator starts again.
func (co *Coordinator) resetShutdownLocked() {
	co.shut = shutdownState{}
}

// adminFn recognises Impala's administrative function statements,
// ":name(args)" (common/cup/sql-parser.cup, admin_fn_stmt), and returns
// the function name and its argument text.
func adminFn(text string) (name, args string, ok bool) {
	s := strings.TrimSpace(text)
	s = strings.TrimSpace(strings.TrimSuffix(s, ";"))
	if !strings.HasPrefix(s, ":") {
		return "", "", false
	}
	open := strings.IndexByte(s, '(')
	if open < 0 || !strings.HasSuffix(s, ")") {
		return "", "", false
	}
	return strings.ToLower(strings.TrimSpace(s[1:open])), strings.TrimSpace(s[open+1 : len(s)-1]), true
}

// runAdminFnLocked runs ":shutdown(...)", as AdminFnStmt analyses it:
// shutdown(), shutdown('host:port'), shutdown(deadline),
// shutdown('host:port', deadline). A backend other than this coordinator
// is not supported by the test coordinator (Impala sends it an RPC).
func (co *Coordinator) runAdminFnLocked(name, args string) (result, *sqlError) {
	if name != "shutdown" {
		if name == "event_processor" {
			return nil, &sqlError{msg: "not supported by the test coordinator: :event_processor()"}
		}
		return nil, analysisError("Unknown admin function: %s", name)
	}
	var parts []string
	if args != "" {
		parts = strings.Split(args, ",")
	}
	if len(parts) > 2 {
		return nil, analysisError("Shutdown takes 0, 1 or 2 arguments: :shutdown(%s)", args)
	}
	deadline := time.Duration(-1)
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if strings.HasPrefix(p, "'") || strings.HasPrefix(p, `"`) {
			if i != 0 {
				return nil, analysisError("Invalid backend, must be a string literal: %s", p)
			}
			backend := strings.Trim(p, `'"`)
			if backend != "" && backend != co.hs2Addr {
				host, _, _ := strings.Cut(backend, ":")
				if !isLocalName(host) {
					return nil, &sqlError{msg: "not supported by the test coordinator: :shutdown() of another backend (" + backend + ")"}
				}
			}
			continue
		}
		n, err := strconv.ParseInt(p, 10, 64)
		if err != nil || n < 0 {
			return nil, analysisError("deadline must be a non-negative integer: %s", p)
		}
		deadline = time.Duration(n) * time.Second
	}
	return summary(co.startShutdownLocked(deadline, 1)), nil
}

// isLocalName reports whether host names this machine's loopback, where
// every test coordinator listens.
func isLocalName(host string) bool {
	return host == "" || host == "localhost" || strings.HasPrefix(host, "127.") || host == "::1" || host == "[::1]"
}

// printTimeMs is PrettyPrinter::PrintTimeMs (be/src/util/pretty-printer.h):
// hours and minutes, then seconds and zero-padded milliseconds below an
// hour, "0" for nothing.
func printTimeMs(d time.Duration) string {
	ms := d.Milliseconds()
	if ms <= 0 {
		return "0"
	}
	const second, minute, hour = 1000, 60 * 1000, 60 * 60 * 1000
	var b strings.Builder
	h, m, s := false, false, false
	if ms >= hour {
		fmt.Fprintf(&b, "%dh", ms/hour)
		ms %= hour
		h = true
	}
	if ms >= minute {
		fmt.Fprintf(&b, "%dm", ms/minute)
		ms %= minute
		m = true
	}
	if !h && ms >= second {
		fmt.Fprintf(&b, "%ds", ms/second)
		ms %= second
		s = true
	}
	if !h && !m {
		if s {
			fmt.Fprintf(&b, "%03dms", ms)
		} else {
			fmt.Fprintf(&b, "%dms", ms)
		}
	}
	return b.String()
}
