package conn_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/conn"
	"github.com/impalalb/impalalb/internal/impalad"
)

// opReader returns a function that reads every row of a metadata call's
// Operation, closes it, and returns the column names and rows.
func opReader(t *testing.T) func(op *conn.Operation, err error) ([]string, [][]any) {
	return func(op *conn.Operation, err error) ([]string, [][]any) {
		t.Helper()
		require.NoError(t, err)
		require.True(t, op.HasResultSet())
		require.NotEmpty(t, op.QueryID())
		var names []string
		for _, c := range op.Columns() {
			names = append(names, c.Name)
		}
		return names, readRows(t, op)
	}
}

// column returns one column of rows by name.
func column(names []string, rows [][]any, name string) []any {
	for i, n := range names {
		if n == name {
			out := make([]any, len(rows))
			for r, row := range rows {
				out[r] = row[i]
			}
			return out
		}
	}
	return nil
}

// TestMetadataCalls runs every HS2 metadata call against the test
// coordinator, which answers them from its catalog with Impala's columns:
// patterns as HS2 defines them, nil for no filter.
func TestMetadataCalls(t *testing.T) {
	_, addr, opts := setup(t, variants[0], impalad.Config{})
	s := dial(t, addr, opts)
	ctx := context.Background()
	readOp := opReader(t)
	exec(t, s, "create database sales")
	exec(t, s, "create table sales.orders (id bigint, amount decimal(10,2), note varchar(20))")
	exec(t, s, "create table sales.customers (id bigint, name string)")

	names, rows := readOp(s.GetCatalogs(ctx))
	require.Equal(t, []string{"TABLE_CAT"}, names)
	require.Empty(t, rows, "Impala has no catalogs")

	names, rows = readOp(s.GetSchemas(ctx, nil, new("sal%")))
	require.Equal(t, []string{"TABLE_SCHEM", "TABLE_CATALOG"}, names)
	require.Equal(t, [][]any{{"sales", ""}}, rows)
	_, rows = readOp(s.GetSchemas(ctx, nil, nil))
	require.Subset(t, column([]string{"s", "c"}, rows, "s"), []any{"default", "sales"})
	_, rows = readOp(s.GetSchemas(ctx, new("hive"), nil))
	require.Empty(t, rows, "a catalog Impala does not have")

	names, rows = readOp(s.GetTables(ctx, nil, new("sales"), nil, nil))
	require.Equal(t, []string{"TABLE_CAT", "TABLE_SCHEM", "TABLE_NAME", "TABLE_TYPE", "REMARKS"}, names)
	require.ElementsMatch(t, []any{"customers", "orders"}, column(names, rows, "TABLE_NAME"))
	_, rows = readOp(s.GetTables(ctx, nil, new("sales"), new("ord__s"), []string{"TABLE"}))
	require.Equal(t, [][]any{{"", "sales", "orders", "TABLE", ""}}, rows)
	_, rows = readOp(s.GetTables(ctx, nil, new("sales"), nil, []string{"VIEW"}))
	require.Empty(t, rows)

	_, rows = readOp(s.GetTableTypes(ctx))
	require.Equal(t, [][]any{{"TABLE"}, {"VIEW"}}, rows)

	names, rows = readOp(s.GetColumns(ctx, nil, new("sales"), new("orders"), nil))
	require.Equal(t, []any{"id", "amount", "note"}, column(names, rows, "COLUMN_NAME"))
	require.Equal(t, []any{"BIGINT", "DECIMAL", "VARCHAR"}, column(names, rows, "TYPE_NAME"))
	require.Equal(t, []any{int32(-5), int32(3), int32(12)}, column(names, rows, "DATA_TYPE"))
	require.Equal(t, []any{int32(19), int32(10), int32(20)}, column(names, rows, "COLUMN_SIZE"))
	require.Equal(t, []any{int32(0), int32(2), nil}, column(names, rows, "DECIMAL_DIGITS"))
	require.Equal(t, []any{int32(1), int32(2), int32(3)}, column(names, rows, "ORDINAL_POSITION"))
	_, rows = readOp(s.GetColumns(ctx, nil, nil, new("%"), new("name")))
	require.Len(t, rows, 1, "only customers.name")

	names, rows = readOp(s.GetFunctions(ctx, nil, new("sales"), nil))
	require.Equal(t, []string{"FUNCTION_CAT", "FUNCTION_SCHEM", "FUNCTION_NAME", "REMARKS", "FUNCTION_TYPE", "SPECIFIC_NAME"}, names)
	require.Empty(t, rows, "no user functions")

	names, rows = readOp(s.GetTypeInfo(ctx))
	require.Contains(t, column(names, rows, "TYPE_NAME"), "DECIMAL")
	require.Contains(t, column(names, rows, "TYPE_NAME"), "TIMESTAMP")

	names, rows = readOp(s.GetPrimaryKeys(ctx, nil, new("sales"), new("orders")))
	require.Equal(t, []string{"TABLE_CAT", "TABLE_SCHEM", "TABLE_NAME", "COLUMN_NAME", "KEQ_SEQ", "PK_NAME"}, names)
	require.Empty(t, rows)
	names, rows = readOp(s.GetCrossReference(ctx, nil, new("sales"), new("customers"), nil, new("sales"), new("orders")))
	require.Contains(t, names, "FKCOLUMN_NAME")
	require.Empty(t, rows)

	// A pattern the coordinator refuses fails the call as a statement
	// fails; the session goes on.
	_, err := s.GetTables(ctx, nil, new("("), nil, nil)
	var ce *conn.Error
	require.ErrorAs(t, err, &ce)
	require.Equal(t, conn.OpMetadataCall, ce.Op)
	require.ErrorIs(t, err, conn.ErrOperationFailed)
	require.Contains(t, ce.Message, "Invalid search pattern")
	require.Equal(t, [][]any{{int8(1)}}, query(t, s, "select 1"))
}

// TestMetadataCallsBeeswax: beeswax has no metadata calls; the error says
// so before anything is sent.
func TestMetadataCallsBeeswax(t *testing.T) {
	co, addr, opts := setup(t, variants[2], impalad.Config{})
	s := dial(t, addr, opts)
	before := co.Stats().RPCs
	_, err := s.GetTables(context.Background(), nil, nil, nil, nil)
	require.ErrorIs(t, err, conn.ErrNoMetadataCalls)
	var ce *conn.Error
	require.ErrorAs(t, err, &ce)
	require.Equal(t, conn.OpMetadataCall, ce.Op)
	require.False(t, ce.Sent)
	require.Contains(t, err.Error(), "GetTables")
	require.Equal(t, before, co.Stats().RPCs)
}

// dialMover moves a session to the coordinator at addr.
type dialMover struct {
	addr  string
	s     *conn.Session
	moves int
}

func (m *dialMover) Retiring() bool { return false }
func (m *dialMover) Move(ctx context.Context, _ error) error {
	m.moves++
	n, err := conn.Dial(ctx, m.addr, conn.Options{})
	if err != nil {
		return err
	}
	if err := m.s.Adopt(ctx, n); err != nil {
		_ = n.Close()
		return err
	}
	return n.Close() // n holds the old connection now
}

// TestMetadataCallMoves: Impala's metadata calls refuse while the
// coordinator shuts down, before anything ran: as a statement, the call
// moves with its session to another coordinator; a metadata call's open
// Operation holds the session where it is.
func TestMetadataCallMoves(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	co1 := startCoord(t, impalad.Config{})
	co2 := startCoord(t, impalad.Config{})
	s := dial(t, co1.HS2Addr(), conn.Options{})
	exec(t, s, "create database only_here")
	m := &dialMover{addr: co2.HS2Addr(), s: s}
	readOp := opReader(t)
	s.SetMover(m)
	_, err := co1.StartShutdown(-1)
	require.NoError(t, err)
	_, rows := readOp(s.GetSchemas(ctx, nil, new("only_here")))
	require.Empty(t, rows, "answered by the second coordinator")
	require.Equal(t, 1, m.moves)
	require.Equal(t, co2.HS2Addr(), s.Addr())

	open, err := s.GetTableTypes(ctx)
	require.NoError(t, err)
	_, err = co2.StartShutdown(-1)
	require.NoError(t, err)
	_, err = s.GetCatalogs(ctx)
	require.ErrorIs(t, err, conn.ErrShuttingDown)
	require.Equal(t, 1, m.moves, "an open Operation keeps the session on its connection")
	require.NoError(t, open.Close(ctx))
}
