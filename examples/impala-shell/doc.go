// Command impala-shell is a drop-in for Apache Impala's impala-shell 4.6
// that balances its session over a list of coordinators with impalalb's
// client-side load balancer.
//
// It takes impala-shell's flags with their meanings, except that -i accepts a
// comma-separated list of coordinators, and prints what impala-shell prints:
// the same results byte for byte (pretty tables, -B with Python's CSV
// quoting, -E), the same messages on stderr and the same exit statuses, so
// that scripts and cron jobs that parse impala-shell's output keep working:
//
//	impala-shell -i coord1:21050,coord2:21050,coord3:21050 -k -b impala-lb.example.com --ssl --ca_cert ca.pem
//	impala-shell -i coord1,coord2 -q "select count(*) from sales"
//	impala-shell -i coord1,coord2 -f etl.sql -B --output_delimiter=, -o out.csv
//	impala-shell -i coord1,coord2 --balance affinity --affinity_key etl
//
// Those who run the HAProxy of Impala's load-balancer guide can hand it the
// proxy's configuration instead of -i: the servers of a backend (or listen)
// section become the coordinators, "balance" the policy, "check" with
// inter/rise/fall/slowstart the health checks, "ssl ca-file" the TLS:
//
//	impala-shell --haproxy_config /etc/haproxy/haproxy.cfg --haproxy_backend impalajdbc -q "select 1"
//
// The directives that have no client-side meaning are listed on stderr.
//
// The coordinators can also be found at run time, -i giving the seeds, and
// leastconn can count the whole cluster's load rather than this shell's
// own, with the flags named as the DSN's parameters (README's DSN table):
// --discovery impala reads the membership from the coordinators' web
// servers (/backends; a quiescing coordinator gets no new session), with
// --web_port, --web_tls (trusting --ca_cert) and --web_auth (basic: -l's
// user and password, over HTTPS only; spnego: -k's credentials; by
// default the one of the shell's own authentication); --discovery dns
// resolves each -i host name (--dns_server to ask a given DNS server);
// --cluster_load reads each coordinator's queries and sessions from its
// /jsonmetrics; --discovery_interval and --cluster_load_interval set the
// periods:
//
//	impala-shell -i coord1 --discovery impala --web_tls --ca_cert ca.pem -l --ssl -q "select 1"
//	impala-shell -i impala.svc.cluster.local:21050 --discovery dns --cluster_load -q "select 1"
//
// --sync_ddl (never, auto or always) adds SYNC_DDL=1 to the statements that
// change the catalog, as the DSN's sync_ddl does; it is never by default,
// since the shell runs its script on one session, as impala-shell does.
//
// Without -i it starts --local N (default 3) in-process test coordinators on
// loopback and connects to them, so that
//
//	go run ./examples/impala-shell -q "select 1"
//
// works on a fresh machine.
//
// # What is impala-shell's
//
// The rules come from impala-shell 4.6's source (shell/impala_shell/ in
// apache/impala) and the Python libraries it prints with; the code is this
// shell's own:
//
//   - statements are split as sqlparse 0.3 splits them (sqlparse.go), and
//     read as impala-shell's command loop reads them: leading comments kept,
//     comments before SET/UNSET removed, shell commands (set, unset, summary,
//     profile, shell, source, connect, version, help, history, quit) run by
//     the shell, everything else sent (commands.go);
//   - results print as prettytable and the csv module print them
//     (output.go): a table per fetched batch, column widths by wcwidth's
//     rules (with rivo/uniseg's East Asian widths), -B quoting fields that
//     hold the delimiter, a quote or a newline, FLOAT and DOUBLE as Python's
//     str(), beeswax rows as the coordinator sent them (a value with a tab
//     splits its row, as in impala-shell);
//   - messages, errors ("<time> [Exception]  ERROR: ..." then "Could not
//     execute command: ..."), exit statuses (1 when a statement failed, 0
//     with -c), -d's USE (run twice), the summary table (summary.go), -p's
//     profiles, SET's listing and the shell options it sets (LIVE_PROGRESS,
//     WRITE_DELIMITED, DELIMITER, OUTPUT_FILE, VERBOSE, ...);
//   - config files: the global one, then --config_file (default
//     ~/.impalarc), [impala] keys read as impala-shell reads them (a key
//     that is not the option's internal name is ignored when the option has
//     a default: write_delimited=true works, B=true does nothing),
//     [impala.query_options] sent with every statement.
//
// examples/README.md lists the differences that remain, each with its
// reason; testdata/compat holds the corpus that checks the rest against
// impala-shell 4.6 itself (TestCompatImpalaShell).
//
// -f (and -q with several statements) runs every statement through one
// session, as Impala's load-balancer guide advises for DDL followed by
// queries that depend on it; when the coordinator of the session goes away
// between statements, the next one goes to another. Interactively (stdin a
// terminal, no -q or -f): a prompt naming the coordinator and database, line
// editing, a history kept in --history_file (impala-shell's format),
// statements over several lines, a live progress line (--live_progress, the
// default) and summary (--live_summary), and Ctrl-C cancelling the running
// statement on the coordinator. In a script, Ctrl-C cancels the running
// statement and the script goes on.
package main
