package impalad

import (
	"context"
	"strings"
	"testing"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/internal/thrift/gen/beeswax"
)

func TestBeeswax(t *testing.T) {
	co := startCoord(t, Config{})
	b := dialBeeswax(t, co.BeeswaxAddr())
	ctx := context.Background()

	md, rows := b.query("select 1, 'a b', null, cast(2.5 as decimal(4,2)), cast('2024-01-02' as date)")
	require.Equal(t, []string{"1\ta b\tNULL\t2.50\t2024-01-02"}, rows)
	require.Equal(t, "\t", md.Delim)
	var types []string
	for _, f := range md.Schema.FieldSchemas {
		types = append(types, f.Type)
	}
	// Impala's beeswax names types without their parameters.
	require.Equal(t, []string{"tinyint", "string", "boolean", "decimal", "date"}, types)

	md, rows = b.query("select * from gen.rows_2100")
	require.Len(t, rows, 2100)
	schema := GenSchema()
	require.Len(t, md.Schema.FieldSchemas, len(schema))
	for i, f := range md.Schema.FieldSchemas {
		require.Equal(t, schema[i].Name, f.Name)
		require.Equal(t, beeswaxTypeName(schema[i].Type), f.Type)
	}
	for r, line := range rows {
		fields := strings.Split(line, "\t")
		require.Len(t, fields, len(schema))
		for c, f := range fields {
			require.Equal(t, FormatValue(schema[c].Type, GenValue(c, int64(r))), f)
		}
	}

	// DDL, INSERT with CloseInsert, SET through Query.configuration.
	b.query("create table bt (a int, b string)")
	h, err := b.c.Query(ctx, &beeswax.Query{Query: "insert into bt values (1, 'x'), (2, 'y'), (3, NULL)"})
	require.NoError(t, err)
	dml, err := b.c.CloseInsert(ctx, h)
	require.NoError(t, err)
	require.Equal(t, map[string]int64{"": 3}, dml.RowsModified)
	_, rows = b.query("select * from bt")
	require.Equal(t, []string{"1\tx", "2\ty", "3\tNULL"}, rows)
	_, rows = b.query("set", "SYNC_DDL=1")
	require.Contains(t, rows, "SYNC_DDL\t1\tREGULAR")

	// Errors come as BeeswaxException.
	_, err = b.c.Query(ctx, &beeswax.Query{Query: "select * from missing"})
	var be *beeswax.BeeswaxException
	require.ErrorAs(t, err, &be)
	require.Contains(t, be.Message, "Could not resolve table reference")
	require.Equal(t, "42000", be.SQLState) // SQLSTATE_SYNTAX_ERROR_OR_ACCESS_VIOLATION
	// get_state declares no BeeswaxException: Thrift's C++ processor sends
	// the one Impala raises as a TApplicationException.
	_, err = b.c.GetState(ctx, &beeswax.QueryHandle{ID: "0000000000000001:0000000000000002"})
	var ae thrift.TApplicationException
	require.ErrorAs(t, err, &ae)
	require.Equal(t, int32(thrift.UNKNOWN_APPLICATION_EXCEPTION), ae.TypeId())
	require.Equal(t, "TException - service has thrown: BeeswaxException(message=Query 0000000000000001:0000000000000002 failed:\n"+
		"Invalid or unknown query handle: 0000000000000001:0000000000000002.\n\n, log_context=, handle=QueryHandle(id=, log_context=), errorCode=0, SQLState=HY000)", ae.Error())

	// executeAndWait, exec summary, profile, cancel, run-time failure, log.
	h, err = b.c.ExecuteAndWait(ctx, &beeswax.Query{Query: "select sleep(5)"}, "")
	require.NoError(t, err)
	st, err := b.c.GetState(ctx, h)
	require.NoError(t, err)
	require.Equal(t, beeswax.QueryState_FINISHED, st)
	sum, err := b.c.GetExecSummary(ctx, h)
	require.NoError(t, err)
	require.NotNil(t, sum.Progress)
	prof, err := b.c.GetRuntimeProfile(ctx, h)
	require.NoError(t, err)
	require.Contains(t, prof, "Query (id="+h.ID+")")
	require.NoError(t, b.c.Close(ctx, h))

	h, err = b.c.Query(ctx, &beeswax.Query{Query: "select sleep(600000)"})
	require.NoError(t, err)
	cst, err := b.c.Cancel(ctx, h)
	require.NoError(t, err)
	require.Equal(t, 0, int(cst.StatusCode))
	st, err = b.c.GetState(ctx, h)
	require.NoError(t, err)
	require.Equal(t, beeswax.QueryState_EXCEPTION, st)

	h, err = b.c.Query(ctx, &beeswax.Query{Query: "select fail('bad thing')"})
	require.NoError(t, err)
	for st != beeswax.QueryState_EXCEPTION {
		st, err = b.c.GetState(ctx, h)
		require.NoError(t, err)
	}
	lg, err := b.c.GetLog(ctx, h.LogContext)
	require.NoError(t, err)
	require.Equal(t, "Query "+h.ID+" failed:\nbad thing\n\n", lg)
	_, err = b.c.Fetch(ctx, h, false, 10)
	require.ErrorAs(t, err, &be)
	require.Equal(t, "Query "+h.ID+" failed:\nbad thing\n\n", be.Message)

	ping, err := b.c.PingImpalaService(ctx)
	require.NoError(t, err)
	require.Equal(t, "impalad version "+DefaultVersion+" RELEASE (build impalalb-test-coordinator)", ping.Version)
	cfgs, err := b.c.GetDefaultConfiguration(ctx, false)
	require.NoError(t, err)
	require.NotEmpty(t, cfgs)
	echo, err := b.c.Echo(ctx, "hi")
	require.NoError(t, err)
	require.Equal(t, "hi", echo)

	// The statements were recorded with their beeswax ids.
	var found bool
	for _, s := range co.Statements() {
		if s.ID == h.ID {
			found = true
			require.Equal(t, Beeswax, s.Protocol)
			require.Equal(t, "select fail('bad thing')", s.Text)
		}
	}
	require.True(t, found)
	require.Equal(t, 1, co.Stats().SessionsOpen)
}

func TestBeeswaxEmptyFetchFault(t *testing.T) {
	co := startCoord(t, Config{})
	b := dialBeeswax(t, co.BeeswaxAddr())
	ctx := context.Background()
	co.Faults().EmptyFetches(2)
	h, err := b.c.Query(ctx, &beeswax.Query{Query: "select 1"})
	require.NoError(t, err)
	for range 2 {
		r, err := b.c.Fetch(ctx, h, false, 10)
		require.NoError(t, err)
		require.False(t, r.Ready)
		require.True(t, r.HasMore)
	}
	r, err := b.c.Fetch(ctx, h, false, 10)
	require.NoError(t, err)
	require.True(t, r.Ready)
	require.Equal(t, []string{"1"}, r.Data)
}
