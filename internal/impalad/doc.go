// Package impalad is a test coordinator: a real Thrift server that behaves
// like an Apache Impala coordinator (impalad) for everything impalalb's
// client touches. Tests, benchmarks and the demo run it in-process with
// Start, or as its own process with cmd/impalad.
//
// # Servers
//
// Each Coordinator serves HiveServer2 (ImpalaHiveServer2Service, Impala's
// port 21050) and beeswax (ImpalaService, port 21000) on loopback, each
// connection optionally in TLS (Config.TLS), then either NOSASL (the binary
// protocol on a buffered, unframed transport, as Impala without
// authentication) or SASL (Config.Users turns on PLAIN with a user table;
// Config.Mechanisms adds others such as GSSAPI). HS2 answers at most
// protocol V6 with columnar TRowSet; a client asking for less gets
// row-based TRowSet. A fetch returns at most min(maxRows, 1024) rows.
//
//	co, err := impalad.Start(impalad.Config{})
//	...
//	defer co.Close()
//	addr := co.HS2Addr() // "127.0.0.1:port"
//
// Sessions: HS2 sessions outlive their connection for
// Config.DisconnectedSessionTimeout and may be used from any connection;
// beeswax sessions live and die with their connection. Idle sessions expire
// after Config.IdleSessionTimeout or the session's idle_session_timeout
// option (seconds), with Impala's "Client session expired due to more than
// Ns of inactivity" error; an unknown session gets "Invalid session id: ...".
// PingImpalaHS2Service checks the session (and counts as activity).
//
// The metadata calls (GetTypeInfo, GetCatalogs, GetSchemas, GetTables,
// GetTableTypes, GetColumns, GetFunctions) answer from the catalog with the
// columns and values of Impala's MetadataOp: patterns are Impala's (% and _
// as in LIKE, other regular-expression characters kept, so impyla's ".*"
// matches everything), gen's virtual tables are listed by none but
// GetColumns gives the columns of a gen.rows_N it is asked for by name, and
// GetFunctions lists nothing (no user functions). Their operations are
// fetched and closed like statements.
//
// # SQL surface
//
// A small hand-written parser; keywords are case-insensitive, names are
// lower-cased, a trailing semicolon is ignored.
//
//	SELECT [DISTINCT] <expr> [[AS] alias], ... [FROM [db.]t [alias]] [WHERE <expr>]
//	       [GROUP BY <expr|n|alias>, ...] [HAVING <expr>]
//	       [ORDER BY <expr|n|alias> [ASC|DESC] [NULLS FIRST|LAST], ...] [LIMIT k]
//	                                      expressions: literals 1 (TINYINT ... BIGINT by size),
//	                                      1.50 (DECIMAL(3,2)), 1e3 (DOUBLE), 'text', TRUE, FALSE,
//	                                      NULL; columns; + - * / % DIV; comparisons; AND/OR/NOT;
//	                                      IS [NOT] NULL; [NOT] BETWEEN/IN/LIKE; CAST; the scalar
//	                                      functions of func.go (now, version, current_database,
//	                                      user, concat, upper, coalesce, if, round, substr, ...);
//	                                      count/sum/min/max/avg [DISTINCT]; result types and
//	                                      column labels (the expression text lower-cased) as
//	                                      Impala's. Test extensions: sleep(ms) (BOOLEAN true; runs
//	                                      ms longer; honours cancel) and fail('message') (fails at
//	                                      run time: ERROR_STATE / beeswax EXCEPTION).
//	SELECT ... FROM gen.rows_N            a generated table of N rows, columns GenSchema, values
//	                                      GenValue (every scalar type, NULLs by GenIsNull);
//	                                      count(*) never scans; WHERE, ORDER BY and aggregates
//	                                      scan at most 20M rows, a filtered or sorted result keeps
//	                                      at most 1M rows, GROUP BY makes at most 65536 groups.
//	SET k=v                               session query option; SET k='' resets it to its default;
//	                                      SET alone or SET ALL lists the options with their values
//	USE db
//	CREATE DATABASE [IF NOT EXISTS] db    DROP DATABASE [IF EXISTS] db [CASCADE]
//	CREATE TABLE [IF NOT EXISTS] [db.]t (c type [COMMENT '...'], ...) [ignored storage clauses]
//	DROP TABLE [IF EXISTS] [db.]t
//	SHOW DATABASES                        SHOW TABLES [IN db]
//	DESCRIBE [db.]t
//	INSERT INTO [TABLE] [db.]t VALUES (...), (...)   rows affected via CloseImpalaOperation
//	                                      dml_result, beeswax CloseInsert, numModifiedRows
//
// Types: BOOLEAN, TINYINT, SMALLINT, INT, BIGINT, FLOAT, DOUBLE,
// DECIMAL(p,s) (p <= 18 here), STRING, VARCHAR(n), CHAR(n), TIMESTAMP, DATE,
// BINARY. On HS2, FLOAT goes as a double column, TIMESTAMP, DATE, DECIMAL,
// CHAR and VARCHAR as string columns and BINARY as a binary column, as
// Impala sends them (row-based results before V6 carry BINARY as a string);
// beeswax rows are tab-separated text with "NULL". Other SQL fails with an
// Impala-like "ParseException: ..." or "AnalysisException: ..." error
// (sqlState HY000).
//
// # Values
//
// GenValue and the catalog hold values with these Go types, by Kind; NULL is
// a nil interface. FormatValue prints them as Impala does.
//
//	Boolean   bool
//	TinyInt   int8
//	SmallInt  int16
//	Int       int32
//	BigInt    int64
//	Float     float32
//	Double    float64
//	Decimal   string, exactly as Impala prints it: Scale digits after the point ("-46.97")
//	String    string
//	Varchar   string
//	Char      string, padded with spaces to the length
//	Timestamp time.Time in UTC (printed with 9 fraction digits when not whole seconds)
//	Date      time.Time in UTC at midnight
//	Binary    []byte
//
// DDL runs against a Cluster's catalog: a table or database created on one
// coordinator is visible on the others of the cluster only after the
// cluster's DDL delay (NewCluster(ddlDelay), Cluster.StartN); with the
// query option SYNC_DDL=1 (session or per statement) the statement stays
// RUNNING until every coordinator sees it. Every statement stays RUNNING
// for Config.ServiceTime (simulated work); a fetch waits for rows up to
// fetch_rows_timeout_ms (default 10 s) and then returns an empty batch
// with hasMoreRows set.
//
// # Faults
//
// Coordinator.Faults returns a handle, safe for concurrent use:
//
//   - RefuseConnections / AcceptConnections: close the listeners (connect
//     gets ECONNREFUSED) and listen again on the same ports.
//   - SetAcceptAndClose: accept connections and close them at once.
//   - CloseConnections: close every open connection (FIN).
//   - ResetConnections: close every open connection with RST.
//   - Hang: accept and never answer (handshakes and RPCs stall).
//   - SetDelay: every RPC waits d before it is served.
//   - FailOpenSessions: the next n HS2 OpenSession calls fail.
//   - SetIdleConnectionTimeout: close connections idle longer than d (a
//     proxy's idle timeout).
//   - EmptyFetches: the next k fetches return an empty batch with more rows
//     to come (Impala's fetch_rows_timeout_ms behaviour).
//   - ExpireSessions: expire every session now.
//   - CrashOn: kill the coordinator when the next call of a named method
//     arrives, before serving it or after serving it but before the reply
//     (mid-OpenSession, mid-statement, mid-fetch crashes).
//   - Reset: all off.
//
// With Config.WebAddr a small web server serves impalad's /healthz,
// /jsonmetrics, /metrics?json and /metrics_prometheus (open sessions,
// queries registered and executing, connections in use), for load feedback.
//
// Config.FrontendThreads caps the connections served at once, as Impala's
// --fe_service_threads: a further connection is accepted and then waits,
// unanswered, for a slot (Stats.ConnectionsWaiting).
//
// Coordinator.Kill simulates a crash (listeners closed, connections reset,
// sessions forgotten) and Restart brings the coordinator back on the same
// ports. Stats and Statements record connections, sessions and every
// statement with its Impala query id, so tests can assert where work went
// and that nothing ran twice; IDFromGUID maps an HS2 handle to that id.
package impalad
