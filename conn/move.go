package conn

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
)

// Mover moves a session to another coordinator. A pool that hands out
// sessions gives each the Mover of its lease (Session.SetMover); package
// balancer's leases are Movers. A Session calls it from Execute, on the
// goroutine that uses the session, and only when no Operation of the
// session is open:
//
//   - before a statement, when Retiring reports that the session's
//     coordinator takes no new work (it is shutting down, down, or no
//     longer in the pool);
//   - when a statement was refused without running (ErrShuttingDown,
//     ErrSessionGone) or could not be sent at all (the connection was
//     lost and could not be reattached): the statement then runs on the
//     new coordinator. A statement that may have run is never sent again.
type Mover interface {
	// Retiring reports whether the session's coordinator should take no
	// more statements of it. It must be cheap and must not block.
	Retiring() bool
	// Move opens a session on another coordinator (as the pool's policy
	// places it), has the session adopt it (Session.Adopt, which replays
	// the session's database and query options there) and closes the old
	// one. cause says why; its *Error tells whether the coordinator is
	// shutting down, lost the session, or could not be reached.
	Move(ctx context.Context, cause error) error
}

// errRetiring is the cause of a move made before a statement, because the
// session's coordinator takes no new work.
var errRetiring = errors.New("conn: the session's coordinator takes no new work")

// maxMoves bounds the moves of one statement.
const maxMoves = 4

// MoveError is the error of a statement that could not run where its
// session was, and whose session could not move elsewhere: Cause says why
// the statement did not run on its coordinator (it refused it, or the
// connection was lost before anything was sent), Err why the move failed
// (no other coordinator, every one refusing). The statement never ran:
// SafeToRetry reports true.
type MoveError struct {
	Cause error
	Err   error
}

// Error implements error.
func (e *MoveError) Error() string {
	return "conn: statement not run: " + strings.TrimPrefix(e.Cause.Error(), "conn: ") + "; moving the session failed: " + e.Err.Error()
}

// Unwrap returns the cause and the move's error.
func (e *MoveError) Unwrap() []error { return []error{e.Cause, e.Err} }

// SetMover gives the session the Mover of the pool that handed it out;
// nil takes it away. A pool calls it at each hand-out, before the holder
// uses the session. When m is also an [Observer], it is told how the
// session's statements end.
func (s *Session) SetMover(m Mover) {
	s.mover = m
	s.obs, _ = m.(Observer)
}

// canMove reports whether a failed Execute may run again, after a
// reattach or a move: nothing of the statement ran (refused before it
// was registered, or never sent), ctx is still live, and no Operation of
// the session is open.
func (s *Session) canMove(err error) bool {
	e, ok := asError(err)
	if !ok || e.Sent || e.Op != OpExecute && e.Op != OpMetadataCall || s.ops > 0 || e.ClientSide() {
		// Refused credentials are refused again (HS2HTTP's 401 to Basic
		// or a JWT).
		return false
	}
	if errors.Is(err, ErrShuttingDown) || errors.Is(err, ErrSessionGone) {
		return s.mover != nil
	}
	// Not sent at all: the connection was found lost, or broke while the
	// request was being written.
	return !errors.Is(err, ErrOperationFailed) && !errors.Is(err, ErrRemote) && !errors.Is(err, ErrSessionClosed) &&
		!errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) &&
		(s.mover != nil || s.impl.CanReattach())
}

// runOp runs call, which starts a statement or a metadata call and
// returns its Operation: the session is made ready first (unless an
// Operation is open, which holds it to its connection), and while call
// fails in a way that proves nothing ran (canMove) the session is
// reattached or moved and call is made again, at most maxMoves times.
// How it ended is told to the session's Observer. The Operation counts as
// the session's until it is closed.
func (s *Session) runOp(ctx context.Context, call func() (*Operation, error)) (*Operation, error) {
	if s.ops == 0 {
		if err := s.ready(ctx); err != nil {
			return nil, err
		}
	}
	op, err := call()
	for moves := 0; err != nil && moves < maxMoves && s.canMove(err); moves++ {
		if rerr := s.reattachOrMove(ctx, err); rerr != nil {
			return nil, &MoveError{Cause: err, Err: rerr}
		}
		op, err = call()
	}
	if s.obs != nil {
		s.observe(err)
	}
	if err != nil {
		return nil, err
	}
	s.ops++
	op.sess = s
	return op, nil
}

// reattachOrMove makes the session usable again after cause: a lost
// connection is reattached to the same server session when it can be
// (HS2 on Impala); otherwise, or when the coordinator refused, the session
// moves to another coordinator.
func (s *Session) reattachOrMove(ctx context.Context, cause error) error {
	if !errors.Is(cause, ErrShuttingDown) && !errors.Is(cause, ErrSessionGone) && s.impl.CanReattach() {
		rerr := s.impl.Reattach(ctx)
		if rerr == nil {
			return nil
		}
		if s.mover == nil {
			return rerr
		}
		cause = rerr // the session is gone, or the coordinator unreachable
	}
	if s.mover == nil {
		return fmt.Errorf("conn: the session has no pool to move it: %w", cause)
	}
	return s.mover.Move(ctx, cause)
}

// Adopt takes over from's connection and server session, which must be
// new and as Dial opened them with the same Options, and replays s's
// database and query options there; from gets s's old connection, for
// the caller to close. Package balancer calls it to move a session (see
// Mover); s must have no open Operation. If the replay fails, nothing is
// exchanged.
func (s *Session) Adopt(ctx context.Context, from *Session) error {
	if s.ops > 0 {
		return fmt.Errorf("conn: a session with an open operation cannot move")
	}
	if from == nil || from.impl.Protocol() != s.impl.Protocol() {
		return fmt.Errorf("conn: Adopt needs a new session of the same protocol")
	}
	cur := s.impl.state().cur
	if err := from.impl.state().apply(ctx, cur, s.opts.AllowNonImpala, from.impl.run); err != nil {
		return err
	}
	s.impl, from.impl = from.impl, s.impl
	return nil
}

// SyncDDL says when a statement that changes the catalog carries the
// query option SYNC_DDL=1, which makes it return only once every
// coordinator has seen the change (Options.SyncDDL).
type SyncDDL uint8

const (
	// SyncDDLAuto (the zero value) sets SYNC_DDL on sessions a pool placed
	// without an affinity key (leastconn, round-robin), whose next
	// statements may run on another coordinator; a session placed by a
	// key keeps its coordinator, and one dialed by hand is never told.
	SyncDDLAuto SyncDDL = iota
	// SyncDDLAlways sets it on every session.
	SyncDDLAlways
	// SyncDDLNever leaves SYNC_DDL to the user.
	SyncDDLNever
)

// String returns "auto", "always" or "never".
func (m SyncDDL) String() string {
	switch m {
	case SyncDDLAuto:
		return "auto"
	case SyncDDLAlways:
		return "always"
	case SyncDDLNever:
		return "never"
	}
	return fmt.Sprintf("SyncDDL(%d)", uint8(m))
}

// syncDDLOption is Impala's query option.
const syncDDLOption = "SYNC_DDL"

// Placed tells the session how a pool placed it for its current holder:
// by an affinity key, or not (leastconn, round-robin). With
// Options.SyncDDL at its default, a session placed without a key runs its
// catalog changes with SYNC_DDL. Package balancer calls it at each
// hand-out.
func (s *Session) Placed(byKey bool) {
	s.placed, s.byKey = true, byKey
}

// syncDDL returns the statement's options with SYNC_DDL=1 when the
// statement changes the catalog and the session's mode asks for it, and
// the user chose no SYNC_DDL (for the statement, the session, or by SET).
func (s *Session) syncDDL(stmt string, opts map[string]string) map[string]string {
	switch s.opts.SyncDDL {
	case SyncDDLNever:
		return opts
	case SyncDDLAuto:
		if !s.placed || s.byKey {
			return opts
		}
	}
	if s.opts.AllowNonImpala || !classify(stmt).catalog || s.impl.state().chosen(syncDDLOption) {
		return opts
	}
	for k := range opts {
		if strings.EqualFold(k, syncDDLOption) {
			return opts
		}
	}
	out := make(map[string]string, len(opts)+1)
	maps.Copy(out, opts)
	out[syncDDLOption] = "1"
	return out
}
