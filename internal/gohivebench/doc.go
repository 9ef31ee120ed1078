// Package gohivebench compares impalalb with github.com/beltran/gohive, a Go
// HiveServer2 client in use today, on the same query against the same test
// coordinator (internal/impalad). It is a separate Go module so that
// impalalb's own go.mod does not depend on gohive.
//
// Run from this directory:
//
//	go test -run XXX -bench Scan1M -benchtime 3x -count 3 .
//
// BenchmarkScan1M reads 1M rows × 8 mixed columns through impalalb's
// database/sql driver, impalalb's raw conn API and gohive's cursor, and
// reports rows/s, allocs/row, B/row and cpu-ns/row (CPU time of the whole
// process). With the coordinator in process (the default) allocations and
// CPU include the coordinator's, the same for every client; set
// IMPALALB_BENCH_HS2=host:port to read from a coordinator run as its own
// process (go run ./internal/impalad/cmd/impalad from the repository root)
// and count the client's alone. TestSameRows checks that both libraries
// read the same values.
package gohivebench
