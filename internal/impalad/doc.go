// Package impalad is a test coordinator: a real Thrift server that behaves
// like an Apache Impala coordinator (impalad) for everything impalalb's
// client touches. Tests, benchmarks and the demo run it in-process with
// Start, or as its own process with cmd/impalad.
//
// It is a witness, not a target: what it does is what Impala 4.5.0 does,
// read in Impala's source (each place names the file it follows), and what
// it does not implement fails with an error saying "not supported by the
// test coordinator: ...", never with a made-up answer.
//
// # Servers
//
// Each Coordinator serves HiveServer2 (ImpalaHiveServer2Service, Impala's
// port 21050) and beeswax (ImpalaService, port 21000) on loopback, each
// connection optionally in TLS (Config.TLS), then either NOSASL (the binary
// protocol on a buffered, unframed transport, as Impala without
// authentication) or SASL (Config.Users turns on PLAIN with a user table;
// Config.Mechanisms adds others such as GSSAPI); credentials it refuses
// close the connection, without a BAD frame, as Impala's TSaslTransport
// does. HS2 answers at most protocol V6 with columnar TRowSet; a client
// asking for less gets row-based TRowSet. With result spooling
// (SPOOL_QUERY_RESULTS, on by default) a fetch returns up to its size, at
// most 102400 rows (10240 when it gives none); without, at most 1024.
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
// A connection authenticated as one user cannot use another user's session.
// PingImpalaHS2Service checks the session (and counts as activity) and
// answers "impalad version <Config.Version> RELEASE (build ...)"; GetInfo's
// CLI_DBMS_VER is Config.Version alone.
//
// Statements: ExecuteStatement answers after Config.PlanningTime (Impala
// plans before it answers), the statement then runs for Config.ServiceTime
// (and its sleep()s). Errors are Impala's: a status message with its
// newline, and for anything about a statement "Query <id> failed:\n<status>\n"
// (HS2 statuses and GetOperationStatus, beeswax exceptions and get_log). A
// cancelled statement, or one ended by QUERY_TIMEOUT_S (client idle that
// long; later calls get its status), EXEC_TIME_LIMIT_S or its session's
// expiry, ends in ERROR_STATE (beeswax EXCEPTION) with "Cancelled", "Query
// <id> expired due to ...", never CANCELED_STATE. A FetchResults that fails
// unregisters the statement, as Impala's does. A statement longer than
// MAX_STATEMENT_LENGTH_BYTES (16 MB) is refused.
//
// Query options are Impala 4.5.0's (impala_tables.go), checked and kept as
// SetQueryOption does: SET of an unknown name fails ("Invalid query option:
// X"), a bad value fails with Impala's message, a value is kept as Impala
// prints it (2g as 2147483648, true as 1), an empty value resets; an HS2
// overlay or a beeswax configuration is checked the same way; OpenSession
// ignores what it refuses and answers every option in its configuration.
// Values of options whose check is more than a type, a range or an enum
// (COMPRESSION_CODEC, TIMEZONE, ...) are taken as given.
//
// The metadata calls (GetTypeInfo, GetCatalogs, GetSchemas, GetTables,
// GetTableTypes, GetColumns, GetFunctions, GetPrimaryKeys,
// GetCrossReference) answer from the catalog with the
// columns and values of Impala's MetadataOp: patterns are Impala's (% and _
// as in LIKE, other regular-expression characters kept, so impyla's ".*"
// matches everything), gen's virtual tables are listed by none but
// GetColumns gives the columns of a gen.rows_N it is asked for by name,
// GetFunctions lists nothing (no user functions), and GetPrimaryKeys and
// GetCrossReference nothing (no constraints). Their operations are fetched
// and closed like statements.
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
//	                                      Impala's. sleep(ms) (BOOLEAN true; runs ms longer; honours
//	                                      cancel), as Impala's; test extension fail('message')
//	                                      (fails at run time: ERROR_STATE / beeswax EXCEPTION).
//	                                      An expression tree deeper than 1000 levels, or a node with
//	                                      more than 10000 operands (an IN list), fails as in Impala,
//	                                      while it is parsed: a statement's memory stays
//	                                      proportional to its text. CAST of a DECIMAL to an integer
//	                                      rounds half away from zero; a DECIMAL division by zero, a
//	                                      DECIMAL or float out of its target's range and a string
//	                                      that is no DECIMAL or DATE fail the statement with
//	                                      Impala's "UDF ERROR: ..." (DECIMAL_V2); a DOUBLE divided
//	                                      by zero is Infinity. An Impala builtin not implemented
//	                                      here is "not supported by the test coordinator".
//	SELECT ... FROM gen.rows_N            a generated table of N rows, columns GenSchema, values
//	                                      GenValue (every scalar type, NULLs by GenIsNull);
//	                                      count(*) never scans; WHERE, ORDER BY and aggregates
//	                                      scan at most 20M rows, a filtered or sorted result keeps
//	                                      at most 1M rows, GROUP BY makes at most 65536 groups.
//	SET k=v                               a session query option (see above); the value a number,
//	                                      a word or a string literal as written; SET k='' resets
//	                                      it; SET lists the REGULAR and ADVANCED options, SET ALL
//	                                      all; UNSET ALL resets every option of the session. All
//	                                      answer Impala's result set (option, value, level).
//	USE db
//	CREATE DATABASE [IF NOT EXISTS] db    DROP DATABASE [IF EXISTS] db [CASCADE]
//	CREATE [EXTERNAL] TABLE [IF NOT EXISTS] [db.]t (c type [COMMENT '...'], ...)
//	       [COMMENT '...'] [ROW FORMAT DELIMITED [FIELDS TERMINATED BY '.' [ESCAPED BY '.']]
//	       [LINES TERMINATED BY '.']] [STORED AS TEXTFILE|PARQUET|AVRO|ORC|...]
//	       [LOCATION '...'] [TBLPROPERTIES ('k'='v', ...)]
//	                                      PARTITIONED BY, SORT BY, constraints, AS SELECT, LIKE,
//	                                      CACHED IN: not supported; VARCHAR without a length is
//	                                      STRING, as in Impala
//	DROP TABLE [IF EXISTS] [db.]t
//	SHOW DATABASES                        SHOW TABLES [IN db]
//	SHOW CREATE TABLE [db.]t              ToSqlUtils' layout; a table without LOCATION is said to
//	                                      be in the warehouse directory under
//	                                      hdfs://impalad-test-coordinator/user/hive/warehouse, and
//	                                      TBLPROPERTIES are the ones given (no metastore adds any)
//	DESCRIBE [db.]t
//	INSERT INTO|OVERWRITE [TABLE] [db.]t [(col, ...)] VALUES (...), (...) | SELECT ...
//	                                      Impala's analysis: a value that needs a cast losing
//	                                      precision, or that no implicit cast fits, fails with
//	                                      Impala's message and nothing is written; OVERWRITE
//	                                      replaces the rows; unlisted columns get NULL; rows
//	                                      affected via CloseImpalaOperation dml_result, beeswax
//	                                      CloseInsert, numModifiedRows
//	CREATE TABLE ... STORED AS ICEBERG [TBLPROPERTIES ('format-version'='1'|'2')]
//	                                      an Iceberg table (iceberg.go): Iceberg's column types
//	                                      only; no EXTERNAL, ROW FORMAT, LOCATION or other
//	                                      properties; DESCRIBE adds Impala's "nullable" column;
//	                                      SHOW CREATE TABLE is not supported
//	DELETE [FROM] [db.]t WHERE <expr>     only on an Iceberg table of format version 2, as
//	                                      Impala (Kudu tables aside); without WHERE: "use
//	                                      TRUNCATE"; the DML result has rows_modified 0 and the
//	                                      rows deleted in rows_deleted
//
// Types: BOOLEAN, TINYINT, SMALLINT, INT, BIGINT, FLOAT, DOUBLE,
// DECIMAL(p,s) (p <= 18 here), STRING, VARCHAR(n), CHAR(n), TIMESTAMP, DATE,
// BINARY. On HS2, FLOAT goes as a double column, TIMESTAMP, DATE, DECIMAL,
// CHAR and VARCHAR as string columns and BINARY as a binary column, as
// Impala sends them (row-based results before V6 carry BINARY as a string);
// beeswax rows are tab-separated text with "NULL", FLOAT and DOUBLE at 16
// significant digits (1000000, Infinity, NaN), and its metadata names types
// without parameters (decimal, char; varchar as string). Other SQL fails
// with Impala's "ParseException: Syntax error in line N: ..." (the caret
// under the right column of the right line) or "AnalysisException: ..."
// error (sqlState HY000; over beeswax 42000). A name that does not resolve
// is quoted as written ('t', not 'default.t').
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
// fetch_rows_timeout_ms (default 10 s) and then answers STILL_EXECUTING.
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
// /backends?json (the running coordinators of the Cluster, a coordinator in
// a graceful shutdown as quiescing until it exits), /jsonmetrics?json,
// /metrics?json and /metrics_prometheus (open sessions, queries registered
// and executing, connections in use), for discovery and load feedback;
// Config.WebTLS makes it HTTPS and Config.WebUsers asks for HTTP Basic
// credentials, as impalad's --webserver_require_ldap (web.go).
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
