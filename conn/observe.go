package conn

import (
	"context"
	"errors"
)

// Observer is told how the statements of a session end, as far as they
// say whether its coordinator works: a pool ejects a coordinator that
// takes sessions and answers pings but leaves statement after statement
// unanswered (package balancer's leases implement it, see
// balancer.Config.OutlierFailures). A Session whose Mover (SetMover) also
// implements Observer calls it from Execute, the metadata calls and
// Operation.Next, whatever the transport (binary or HTTP), on the
// goroutine that uses the session.
type Observer interface {
	// CoordinatorAnswered is called when Execute (or a metadata call:
	// GetTables, GetColumns, ...) returns because the coordinator
	// answered: the statement ran, or the coordinator reported its error
	// (a bad statement, a failure while running). Called for every such
	// statement: it must be cheap.
	CoordinatorAnswered()
	// CoordinatorFailed is called when a statement (Execute or a fetch of
	// its rows) got no answer: its ctx's deadline passed, or the
	// connection was lost, reset or closed, or answered with what is not
	// Impala's protocol. Not for the caller's own cancellation, a refusal
	// that moves the session (shutting down, session unknown), nor
	// credentials the server refused.
	CoordinatorFailed(err error)
}

// outcome is what a statement's end says of its coordinator.
type outcome uint8

const (
	outcomeNone     outcome = iota // nothing: the caller's or the client's doing
	outcomeAnswered                // the coordinator answered
	outcomeFailed                  // no answer: a timeout or a transport failure
)

// outcomeOf classifies the error of a statement (nil: it ran).
func outcomeOf(err error) outcome {
	if err == nil {
		return outcomeAnswered
	}
	var me *MoveError
	if errors.As(err, &me) {
		return outcomeNone // never sent; the move failed, which the pool saw
	}
	e, ok := asError(err)
	switch {
	case !ok || e.ClientSide():
		return outcomeNone
	case errors.Is(err, ErrOperationFailed), errors.Is(err, ErrOperationCanceled), errors.Is(err, ErrRemote):
		return outcomeAnswered
	case errors.Is(err, context.DeadlineExceeded):
		return outcomeFailed
	case errors.Is(err, context.Canceled), errors.Is(err, ErrSessionClosed), errors.Is(err, ErrOperationClosed),
		errors.Is(err, ErrShuttingDown), errors.Is(err, ErrSessionGone):
		return outcomeNone
	}
	return outcomeFailed
}

// observe tells the session's Observer how a statement ended.
func (s *Session) observe(err error) {
	switch outcomeOf(err) {
	case outcomeAnswered:
		s.obs.CoordinatorAnswered()
	case outcomeFailed:
		s.obs.CoordinatorFailed(err)
	}
}
