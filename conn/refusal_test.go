package conn

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/internal/thrift/gen/tcli"
)

// TestRefusalKeepsSent: statusError classifies Impala's refusals (shutdown,
// lost session) but never decides that a statement did not run: only
// Execute does, for ExecuteStatement's own answer. The first fetch of a
// query is made under Op "execute" too, after the statement ran.
func TestRefusalKeepsSent(t *testing.T) {
	s := &hs2Session{addr: "c1:21050"}
	for msg, want := range map[string]error{
		"Server is being shut down: shutdown grace period left: 2m, deadline left: 1h, queries registered on coordinator: 0, queries executing: 0, fragment instances: 0.\n": ErrShuttingDown,
		"Invalid session id: 4a4b:5c5d":                                         ErrSessionGone,
		"Client session expired due to more than 60s of inactivity (last ...).": ErrSessionGone,
		"Session is closed":                                                     ErrSessionGone,
		"AnalysisException: Could not resolve table reference: 't'":             ErrOperationFailed,
	} {
		st := &tcli.TStatus{StatusCode: tcli.TStatusCode_ERROR_STATUS, ErrorMessage: &msg}
		for _, op := range []Op{OpExecute, OpFetch, OpPoll} {
			err := s.statusError(op, st, true)
			require.True(t, errors.Is(err, want), "%s: %v", op, err)
			e, _ := asError(err)
			require.True(t, e.Sent, "%s %q: statusError keeps Sent", op, msg)
		}
	}
}
