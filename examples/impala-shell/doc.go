// Command impala-shell is an impala-shell-compatible command-line shell that
// balances its session over a list of Apache Impala coordinators with
// impalalb's client-side load balancer.
//
// It takes impala-shell's flags with their meanings, except that -i accepts a
// comma-separated list of coordinators:
//
//	impala-shell -i coord1:21050,coord2:21050,coord3:21050 -k -b impala-lb.example.com --ssl --ca_cert ca.pem
//	impala-shell -i coord1,coord2 -q "select count(*) from sales"
//	impala-shell -i coord1,coord2 -f etl.sql -B --output_delimiter=, -o out.csv
//	impala-shell -i coord1,coord2 --balance affinity --affinity_key etl
//
// Without -i it starts --local N (default 3) in-process test coordinators on
// loopback and connects to them, so that
//
//	go run ./examples/impala-shell -q "select 1"
//
// works on a fresh machine.
//
// -f (and -q with several statements) runs every statement through one
// session, as Impala's load balancer guide advises for DDL followed by
// queries that depend on it. When stdin is a terminal and neither -q nor -f is
// given, the shell is interactive: a prompt naming the coordinator the session
// is on, line editing and history, statements ending in ';' over several
// lines, aligned tables, a progress line for statements running longer than a
// second, and Ctrl-C cancelling the running statement on the coordinator.
// Shell commands: connect [host:port,...], set [k=v], unset k, summary,
// profile, help, quit, exit.
//
// Variables work as in impala-shell: --var NAME=VALUE (repeatable), SET
// VAR:NAME=VALUE and UNSET VAR:NAME in any session or script, and
// ${VAR:NAME} or ${HIVEVAR:NAME} anywhere in a statement, comments and
// string literals included ("\${" is left as typed):
//
//	impala-shell -i coord1,coord2 --var=day=2024-05-01 -q "select count(*) from events where day = '${var:day}'"
//
// A statement with an undefined variable fails without being sent. -p
// (--show_profiles) prints the query profile after each query or DML
// statement.
//
// Flags may also come from INI files, as impala-shell reads them: the global
// file ($IMPALA_SHELL_GLOBAL_CONFIG_FILE, else /etc/impalarc when present),
// then --config_file (default ~/.impalarc, which may be missing), then the
// command line, each overriding the one before:
//
//	[impala]
//	impalad = coord1:21050,coord2:21050
//	B = true
//	var = env=prod,var=region=eu
//
//	[impala.query_options]
//	MEM_LIMIT = 4g
//
// Errors are one line naming the coordinator and what Impala said; the exit
// status is 1 when a -q or -f statement failed (2 for bad flags).
package main
