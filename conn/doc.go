// Package conn is one connection to one Apache Impala coordinator: TCP
// with a connect timeout and keep-alives, optional TLS, NOSASL or a SASL
// mechanism (PLAIN here, GSSAPI from package kerberos), Thrift's binary
// protocol, and a [Session] over either HiveServer2 (HS2, port 21050),
// HiveServer2 over HTTP ([HS2HTTP], port 28000) or beeswax (port 21000). It
// knows nothing about balancing; package balancer pools its sessions.
//
// # Sessions
//
// [Dial] connects and opens a session as [Options] say:
//
//	s, err := conn.Dial(ctx, "impalad-1:21050", conn.Options{
//		User:           "etl",
//		Password:       secret.New(pw), // SASL PLAIN (LDAP); omit for NOSASL
//		TLS:            &tls.Config{ServerName: "impala.example.com"},
//		Database:       "sales",
//		SessionOptions: map[string]string{"MEM_LIMIT": "2g"},
//	})
//	if err != nil { ... }
//	defer s.Close()
//
// HS2 sessions ask for protocol V6 (columnar results; Impala answers at
// most V6 and older versions are refused with [ErrProtocolVersion]) and
// are proved by a PingImpalaHS2Service, which also gives
// [Session.ServerVersion]; beeswax sessions are proved by
// PingImpalaService. [Options.AllowNonImpala] lets HS2 talk to any
// HiveServer2 (Apache Hive, Spark's Thrift server) with standard calls
// only. Every Dial failure is an [*Error] for which
// [SafeToRetry] is true: nothing of a statement reached the coordinator;
// its [Error.Op] ([OpDial], [OpTLS], [OpSASL], [OpOpenSession]) says which
// step failed. A [*Session] is one type whatever the protocol.
//
// [Options.Tracer] is told of every statement's start and end (coordinator,
// Impala query id, rows, DML count, duration, error): the hook for logs,
// metrics and OpenTelemetry spans, see [Tracer].
//
// # Statements
//
// [Session.Execute] sends a statement with per-statement query options
// (HS2 confOverlay) and returns when it finished, because Impala runs
// every statement asynchronously. A query (SELECT, VALUES, SHOW, DESCRIBE,
// EXPLAIN, WITH without INSERT or UPSERT) on an HS2 session to Impala is
// not polled: Execute asks for its result metadata and fetches its first
// rows, a fetch that Impala holds until they are ready, so it returns the
// moment they are, in one call fewer. Other statements, beeswax sessions,
// servers other than Impala, callers that asked for progress reports
// ([WithProgress]) and sessions with [Options.PollQueries] poll the
// status with backoff ([Options.PollMin] to
// [Options.PollMax]). The [*Operation] gives the result columns and
// batches of rows:
//
//	op, err := s.Execute(ctx, "select id, name from t", nil)
//	if err != nil { ... }
//	defer op.Close(ctx)
//	for {
//		b, err := op.Next(ctx)
//		if err == io.EOF { break }
//		if err != nil { ... }
//		for r := 0; r < b.Len(); r++ {
//			if !b.IsNull(0, r) { use(b.Int64(0, r), b.String(1, r)) }
//		}
//	}
//
// Next skips batches that the coordinator sends empty while rows may
// still come (fetch_rows_timeout_ms). [Operation.Close] reports the rows
// a DML statement changed ([Operation.RowsAffected]). A failed statement
// is an [*Error] wrapping [ErrOperationFailed] with Impala's message,
// SQLSTATE and error code. [Operation.QueryID] is Impala's query id, and
// the errors of a statement the coordinator accepted carry it
// ([Error.QueryID]); [WithStatementStarted] reports it as soon as the
// statement is accepted, before Execute waits, and [WithProgress] reports
// the exec summary while it waits.
//
// # Metadata calls
//
// An HS2 session has HiveServer2's metadata calls, answered by Impala from
// its catalog, as JDBC's DatabaseMetaData and the BI tools ask them:
// [Session.GetCatalogs], [Session.GetSchemas], [Session.GetTables],
// [Session.GetTableTypes], [Session.GetColumns], [Session.GetFunctions],
// [Session.GetTypeInfo], [Session.GetPrimaryKeys] and
// [Session.GetCrossReference]. Each returns an [*Operation] read and closed
// like a query's; patterns are HS2's (% and _, nil for no filter):
//
//	op, err := s.GetColumns(ctx, nil, new("sales"), new("order%"), nil)
//	if err != nil { ... }
//	defer op.Close(ctx)
//	// op.Columns(): TABLE_CAT, TABLE_MD, TABLE_NAME, COLUMN_NAME, DATA_TYPE, TYPE_NAME, ...
//
// A beeswax session has none ([ErrNoMetadataCalls]). Through
// database/sql, the calls are reached with sql.Conn.Raw (see package
// impalalb's RawConn).
//
// # Contexts
//
// Every call takes a ctx. Its deadline is the socket's deadline; when it
// ends during Execute or Next, the statement is cancelled and closed on
// the coordinator (on a fresh deadline of [Options.CancelTimeout]) and the
// error wraps ctx.Err(). A call in flight when ctx ends gets 50 ms more to
// complete, so that the connection stays usable; one cut in the middle
// leaves the connection out of step: the Session is then [Session.Broken] and
// refuses further calls with [ErrBroken]. An HS2 session can be moved to a
// new connection with [Session.Reattach] (Impala keeps a disconnected
// session for disconnected_session_timeout), which Execute and Next also
// do by themselves to cancel a statement whose call was cut; a beeswax
// session dies with its connection, and the coordinator then cancels its
// statements.
//
// # Pooling support
//
// [Session.Alive] checks an idle connection without a round trip (a
// non-blocking one-byte peek: EOF or RST means the peer, or a proxy's
// idle timeout, closed it); [Session.Ping] proves it with one. A pool
// must not leak one user's SET or USE to the next: [Session.NeedsReset]
// says a statement changed the session, and [Session.Reset] restores the
// options and database of [Options]. A pool's lease given to [Session.SetMover]
// moves the session off a coordinator that takes no new work and, when it
// is an [Observer], hears how each statement ended: answered, or not
// (a timeout, a connection lost), for outlier ejection.
//
// # Values
//
// A [*Batch] holds one typed slice per column and a null bitmap; reading
// a fixed-width cell allocates nothing. [Batch.Value] gives the natural Go
// type:
//
//	BOOLEAN                 bool
//	TINYINT .. BIGINT       int8, int16, int32, int64
//	FLOAT, DOUBLE           float32, float64
//	DECIMAL                 string, exactly as Impala prints it ("-50.00")
//	STRING, VARCHAR, CHAR   string
//	TIMESTAMP, DATE         time.Time in UTC (Impala's TIMESTAMP has no zone)
//	BINARY                  []byte, a copy that is the caller's
//	NULL                    nil
//
// TIMESTAMP and DATE values arrive as text and are parsed when asked for
// ([Batch.Time], [Batch.Value]); [Operation.SetDecodeTimes] has them parsed
// as the batch is read instead, without keeping their text (what the
// database/sql driver does).
//
// # HiveServer2 over HTTP
//
// With [Options.Protocol] [HS2HTTP] the session is the same HS2 session,
// each Thrift call one POST of its binary-protocol message to
// [Options.HTTPPath] over a keep-alive HTTP/1.1 connection (with TLS when
// set), under the same ctx deadlines and cancellation. [Options.HTTPAuth]
// makes the Authorization header: [BasicAuth] (LDAP; the default with a
// Password), [BearerAuth] with [StaticToken] or [TokenFile] (JWT), or a
// Kerberos client's NegotiateHeader (SPNEGO). It is asked once per
// session: the coordinator's auth cookie carries the later calls, and when
// the coordinator refuses the cookie the session authenticates again and
// the call goes on. Every cookie the coordinator or a proxy sets (a load
// balancer's sticky cookie) stays with the session, across a
// [Session.Reattach].
//
// What differs from the binary transport: a keep-alive connection closed
// while idle (by the server or a proxy) is replaced on the next call with
// nothing lost, so [Session.Alive] stays true; a request that could not be
// written in full was not processed and does not count as sent
// ([Error.Sent]), while one written in full may have been; a reply that is
// not Thrift (a 401, a redirect, a proxy's error page) fails the call with
// an [*HTTPError] naming the status; a 401 to Basic credentials or a JWT
// is the client's own failure ([Error.ClientSide]), a 401 to a SPNEGO
// token the coordinator's, as a GSSAPI refusal over SASL.
//
// # Beeswax
//
// Beeswax is deprecated by Impala and off by default in new versions;
// prefer HS2. Its rows travel as text, columns separated by tabs, and are
// typed here through the result metadata into the same values as HS2,
// with limits the format imposes: a STRING holding a tab or a newline
// cannot be split correctly (the batch fails with [ErrBadRowSet]), a
// STRING equal to "NULL" reads as NULL, and FLOAT and DOUBLE values are
// what their text says. Query options stay on the client: SET k=v is
// recorded by the Session and sent with every query, never to the
// coordinator alone. A beeswax session cannot be reattached.
//
// # Limits
//
// What a coordinator (or whatever answers in its place) sends can make
// the client hold only what was asked for. [Options.MaxMessageSize]
// bounds the bytes of every reply and SASL frame on the wire, and
// [Options.MaxReplyMemory] the memory that decoding one reply creates,
// counted as Go holds it (an empty string is 4 bytes on the wire and 16
// in memory): a reply over either fails with [ErrReplyTooLarge] before
// the excess is allocated. A fetch's reply may hold no more rows than
// the fetch asked for ([Options.FetchSize]; a beeswax fetch no more than
// its size) and no other columns than the schema's: more fails with
// [ErrBadRowSet] at the list's header. The decoder checks that a result
// batch agrees with its schema and with itself and fails rather than
// panic. Each such error names the coordinator and leaves the Session
// [Session.Broken]. A Session is used by one goroutine at a time (see
// [Session]).
package conn
