package impalad

// Stats is a snapshot of a coordinator's counters. Counters (…Accepted,
// …Opened, …Executed) are cumulative over the coordinator's lifetime,
// Kill and Restart included; gauges (…Open) are current.
type Stats struct {
	// ConnectionsAccepted counts TCP connections accepted on both ports,
	// including those closed at once by a fault.
	ConnectionsAccepted int64
	// ConnectionsOpen is the number of connections open, served or
	// waiting.
	ConnectionsOpen int
	// ConnectionsWaiting is the number of open connections waiting for a
	// frontend thread (Config.FrontendThreads).
	ConnectionsWaiting int
	// SessionsOpened counts sessions opened (HS2 OpenSession, beeswax
	// connections).
	SessionsOpened int64
	// SessionsOpen is the number of sessions not closed, expired ones and
	// disconnected HS2 sessions included.
	SessionsOpen int
	// StatementsExecuted counts statements accepted for execution (each has
	// a Statement record).
	StatementsExecuted int64
	// StatementsRejected counts statements refused with a parse or
	// analysis error.
	StatementsRejected int64
	// OperationsOpen is the number of operations not closed.
	OperationsOpen int
	// QueriesExpired counts statements ended by QUERY_TIMEOUT_S or
	// EXEC_TIME_LIMIT_S (Impala's impala-server.num-queries-expired).
	QueriesExpired int64
	// RPCs counts Thrift calls served.
	RPCs int64
}

// Stats returns a snapshot of the counters.
func (co *Coordinator) Stats() Stats {
	co.sweepSessions()
	co.mu.Lock()
	defer co.mu.Unlock()
	s := Stats{
		ConnectionsAccepted: co.connsAccepted.Load(),
		SessionsOpened:      co.sessionsOpened.Load(),
		SessionsOpen:        len(co.sessions),
		StatementsExecuted:  co.executed.Load(),
		StatementsRejected:  co.rejected.Load(),
		OperationsOpen:      len(co.ops),
		QueriesExpired:      co.expired.Load(),
		RPCs:                co.rpcs.Load(),
		ConnectionsWaiting:  int(co.waiting.Load()),
	}
	if co.life != nil {
		s.ConnectionsOpen = len(co.life.conns)
	}
	return s
}

// Statements returns a copy of the records of every statement the
// coordinator accepted, in order of execution.
func (co *Coordinator) Statements() []Statement {
	co.mu.Lock()
	defer co.mu.Unlock()
	return append([]Statement(nil), co.statements...)
}
