// Package testenv is shared set-up for the end-to-end tests of impalalb:
// clusters of in-process test coordinators (internal/impalad) on loopback,
// stopped in t.Cleanup, a table of test host names that resolve to loopback
// inside the test only (no DNS, no hosts file), small helpers to run a
// statement on a *conn.Session and read its rows, and cmd/impalad built
// and run as a process on loopback for the tests of clients that run as
// processes of their own (impala-shell, impyla).
package testenv
