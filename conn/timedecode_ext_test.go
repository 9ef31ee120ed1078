package conn_test

import (
	"context"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/conn"
	"github.com/impalalb/impalalb/internal/impalad"
)

// queryTimes runs stmt with SetDecodeTimes on and returns every row as
// values, checking that the TIMESTAMP and DATE columns came as times.
func queryTimes(t *testing.T, s *conn.Session, stmt string) [][]any {
	t.Helper()
	ctx := context.Background()
	op, err := s.Execute(ctx, stmt, nil)
	require.NoError(t, err, stmt)
	defer op.Close(ctx)
	op.SetDecodeTimes(true)
	var rows [][]any
	for {
		b, err := op.Next(ctx)
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		for c := range b.NumColumns() {
			switch b.Column(c).Type {
			case conn.TypeTimestamp, conn.TypeDate:
				require.Len(t, b.Times(c), b.Len())
				require.Nil(t, b.Strings(c))
				require.Nil(t, b.BadTimes(c), "the coordinator sends only timestamps")
				for r := range b.Len() {
					if b.IsNull(c, r) {
						require.Zero(t, b.Times(c)[r])
					}
				}
			default:
				require.Nil(t, b.Times(c))
			}
		}
		for r := 0; r < b.Len(); r++ {
			row := make([]any, b.NumColumns())
			for c := range row {
				row[c] = b.Value(c, r)
			}
			rows = append(rows, row)
		}
	}
	require.NoError(t, op.Close(ctx))
	return rows
}

// TestSetDecodeTimes reads TIMESTAMP and DATE columns over every protocol
// and authentication, and from a session that allows non-Impala servers,
// with SetDecodeTimes on and off: the same values, as times only when on.
func TestSetDecodeTimes(t *testing.T) {
	type tc struct {
		name  string
		v     variant
		other bool
	}
	cases := []tc{{"hs2-nonimpala", variants[0], true}}
	for _, v := range variants {
		cases = append(cases, tc{v.name, v, false})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, addr, opts := setup(t, c.v, impalad.Config{})
			opts.FetchSize = 333
			opts.AllowNonImpala = c.other
			s := dial(t, addr, opts)
			for _, q := range []string{
				"select id, timestamp_col, date_col, string_col from gen.rows_2000",
				"select timestamp_col, date_col from gen.rows_2000 where id < 0",
				"select cast(null as timestamp), cast('2024-02-29 01:02:03.5' as timestamp), 1",
			} {
				want := query(t, s, q)
				got := queryTimes(t, s, q)
				require.Equal(t, want, got, q)
			}
			// Off by default: text as sent.
			ctx := context.Background()
			op, err := s.Execute(ctx, "select timestamp_col from gen.rows_10", nil)
			require.NoError(t, err)
			defer op.Close(ctx)
			b, err := op.Next(ctx)
			require.NoError(t, err)
			require.Nil(t, b.Times(0))
			require.NotNil(t, b.Strings(0))
		})
	}
}
