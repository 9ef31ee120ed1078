package conn_test

import (
	"context"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/conn"
	"github.com/impalalb/impalalb/internal/impalad"
)

// TestSummaryPlan reads the plan nodes of an execution summary, as a
// shell prints them, over both protocols.
func TestSummaryPlan(t *testing.T) {
	for _, v := range []variant{variants[0], variants[2]} {
		t.Run(v.name, func(t *testing.T) {
			_, addr, opts := setup(t, v, impalad.Config{})
			s := dial(t, addr, opts)
			op, err := s.Execute(context.Background(), "select * from gen.rows_7", nil)
			require.NoError(t, err)
			for {
				_, err := op.Next(context.Background())
				if err == io.EOF {
					break
				}
				require.NoError(t, err)
			}
			sum, err := op.Summary(context.Background())
			require.NoError(t, err)
			require.Len(t, sum.Plan, 1)
			n := sum.Plan[0]
			require.Equal(t, "00:SCAN HDFS", n.Label)
			require.False(t, n.HasDetail)
			require.Equal(t, 1, n.Hosts)
			require.Zero(t, n.Children)
			require.NotNil(t, n.Estimated)
			require.Equal(t, int64(7), n.Estimated.Cardinality)
			require.Len(t, n.Instances, 1)
			require.Equal(t, int64(7), n.Instances[0].Cardinality)
			require.Equal(t, int64(8192), n.Instances[0].MemoryUsed)
			require.Nil(t, sum.ExchangeSenders)
			require.NoError(t, op.Close(context.Background()))
		})
	}
}

// TestBeeswaxText keeps beeswax rows as sent, a value holding a tab
// included, which the decoded form cannot carry.
func TestBeeswaxText(t *testing.T) {
	_, addr, opts := setup(t, variants[2], impalad.Config{})
	opts.BeeswaxText = true
	s := dial(t, addr, opts)
	op, err := s.Execute(context.Background(), "select 'a\tb', cast(null as int), 1.5", nil)
	require.NoError(t, err)
	require.Len(t, op.Columns(), 3)
	var rows []string
	for {
		b, err := op.Next(context.Background())
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		require.Equal(t, len(b.TextRows()), b.Len())
		rows = append(rows, b.TextRows()...)
	}
	require.Equal(t, []string{"a\tb\tNULL\t1.5"}, rows)
	require.NoError(t, op.Close(context.Background()))

	// Without it the same row does not decode, and an HS2 batch has no text.
	opts.BeeswaxText = false
	s = dial(t, addr, opts)
	op, err = s.Execute(context.Background(), "select 'a\tb', 1", nil)
	require.NoError(t, err)
	_, err = op.Next(context.Background())
	require.ErrorIs(t, err, conn.ErrBadRowSet)
	_ = op.Close(context.Background())
}

// TestDMLResult reads the full DML result of an INSERT once closed, over
// both protocols.
func TestDMLResult(t *testing.T) {
	for _, v := range []variant{variants[0], variants[2]} {
		t.Run(v.name, func(t *testing.T) {
			_, addr, opts := setup(t, v, impalad.Config{})
			s := dial(t, addr, opts)
			exec(t, s, "create table dmlres (a int)")
			op, err := s.Execute(context.Background(), "insert into dmlres values (1), (2), (3)", nil)
			require.NoError(t, err)
			_, ok := op.DMLResult()
			require.False(t, ok, "not before Close")
			require.NoError(t, op.Close(context.Background()))
			r, ok := op.DMLResult()
			require.True(t, ok)
			require.Equal(t, conn.DMLResult{Modified: 3}, r, "an HDFS INSERT has no row errors (only Kudu counts them)")

			op = exec(t, s, "select 1")
			_, ok = op.DMLResult()
			require.False(t, ok, "a query has none")
		})
	}
}
