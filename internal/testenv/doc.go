// Package testenv is shared set-up for the end-to-end tests of impalalb:
// clusters of in-process test coordinators (internal/impalad) on loopback,
// stopped in t.Cleanup, a table of test host names that resolve to loopback
// inside the test only (no DNS, no hosts file), and small helpers to run a
// statement on a *conn.Session and read its rows.
package testenv
