package impalalb

import "time"

// SetIdleCheckAfter sets idleCheckAfter for a test and returns a function
// that restores it.
func SetIdleCheckAfter(d time.Duration) (restore func()) {
	old := idleCheckAfter
	idleCheckAfter = d
	return func() { idleCheckAfter = old }
}

// PrefetchDepth is prefetchDepth, for tests.
const PrefetchDepth = prefetchDepth

// ScanAll is scanAll (rows_timedecode_test.go): every row of a query as
// the values the driver hands out, for tests.
var ScanAll = scanAll
