package conn

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCanceledMessage: the statuses Impala gives a statement it cancelled,
// bare or as GetOperationStatus wraps them, against failures.
func TestCanceledMessage(t *testing.T) {
	for msg, want := range map[string]bool{
		"Cancelled": true,
		"Query 1a2b3c4d5e6f7081:9a8b7c6d5e4f3a2b failed:\nCancelled\n\n":                                                                         true,
		"Cancelled from Impala's debug web interface by user: 'admin' at 10.0.0.1:4242":                                                          true,
		"Query 1a2b3c4d5e6f7081:9a8b7c6d5e4f3a2b expired due to client inactivity (timeout is 2s000ms)":                                          true,
		"Query 1a2b3c4d5e6f7081:9a8b7c6d5e4f3a2b failed:\nQuery 1a2b3c4d5e6f7081:9a8b7c6d5e4f3a2b expired due to execution time limit of 1m\n\n": true,
		"Session expired due to inactivity":                   true,
		"Session closed because it has no active connections": true,
		"Query 1a2b3c4d5e6f7081:9a8b7c6d5e4f3a2b failed:\nAnalysisException: Could not resolve table reference: 'cancelled'\n\n": false,
		"UDF ERROR: Cannot divide decimal by zero": false,
		"Cancelled by the test":                    false,
		"":                                         false,
	} {
		require.Equal(t, want, canceledMessage(msg), "%q", msg)
	}
}
