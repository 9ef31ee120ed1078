// Package interop checks impalalb against software that no one here wrote.
//
// Its tests run Impala's own clients — impala-shell and impyla from PyPI —
// against the test coordinator internal/impalad started as a process
// (cmd/impalad), with no authentication, LDAP (SASL PLAIN), TLS and
// Kerberos (SASL GSSAPI against a real MIT KDC from internal/kdctest), and
// assert the exact results they print. They also run the library (conn,
// balancer and the database/sql driver) against a real HiveServer2: Spark's
// Thrift server from the pyspark package, on loopback.
//
// The Python clients and Spark come from a virtual environment made by
// scripts/venv.sh (pinned in requirements.txt here) at <repo>/.venv, or
// the one named by IMPALALB_VENV. When it is missing the tests fail and say
// how to make it. The gohive client is checked by its own Go module in
// the gohive folder, so that the library's go.mod does not grow. README.md
// here gives the commands.
package interop
