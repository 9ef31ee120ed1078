// Package reliability holds impalalb's reliability and security tests: the
// fault matrix (coordinators killed, hung, slow, resetting, dropping idle
// connections, expiring sessions, restarting; the KDC down; certificates
// rotated), hostile coordinators that send oversized or malformed replies,
// a grep of every error, log line and String() for secrets, and load runs
// that look for leaked goroutines, file descriptors and memory.
//
// Everything is in the package's tests; this file only documents it. The
// default `go test ./internal/reliability` run is the short form (about a
// minute under -race). scripts/soak.sh runs the full-length load test
// (IMPALALB_SOAK_CYCLES) and scripts/fuzz.sh every fuzz target of the
// module. RELIABILITY.md at the repository root has the results.
package reliability
