package impalalb_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb"
	"github.com/impalalb/impalalb/internal/impalad"
)

// driverRows runs q on one connection of db through the driver itself,
// below database/sql (whose own watch of ctx would end the rows first),
// and hands the driver.Rows to f.
func driverRows(t *testing.T, ctx context.Context, db *sql.DB, q string, f func(driver.Rows)) {
	t.Helper()
	c, err := db.Conn(context.Background())
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Raw(func(dc any) error {
		rows, err := dc.(driver.QueryerContext).QueryContext(ctx, q, nil)
		if err != nil {
			return err
		}
		defer rows.Close()
		f(rows)
		return nil
	}))
}

// A query whose ctx ends while batches are read ahead never reads as
// complete: after the batches already fetched, Next fails with the ctx's
// error, whatever the prefetch goroutine was doing.
func TestPrefetchCancelIsNeverTheEnd(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, p impalalb.Protocol) {
		co := startCoord(t, impalad.Config{})
		cfg := testConfig(p, co)
		cfg.FetchSize = 256
		db, _ := openDB(t, cfg)
		for round := range 20 {
			ctx, cancel := context.WithCancel(context.Background())
			driverRows(t, ctx, db, "select id from gen.rows_100000000", func(rows driver.Rows) {
				dest := make([]driver.Value, 1)
				n := 0
				for ; n < 300; n++ { // into the second batch: the goroutine runs
					require.NoError(t, rows.Next(dest))
				}
				if round%2 == 1 {
					// Let the goroutine fill its channel and block on it.
					time.Sleep(20 * time.Millisecond)
				}
				cancel()
				var err error
				for i := 0; i < 100000; i++ {
					if err = rows.Next(dest); err != nil {
						break
					}
					n++
				}
				require.Error(t, err)
				require.NotErrorIs(t, err, io.EOF, "round %d: a cancelled query read as complete after %d rows", round, n)
				require.ErrorIs(t, err, context.Canceled)
				require.LessOrEqual(t, n, 256*(2+impalalb.PrefetchDepth), "only the batches already fetched")
			})
			cancel()
			require.Eventually(t, func() bool { return co.Stats().OperationsOpen == 0 }, 10*time.Second, 5*time.Millisecond,
				"the query is cancelled and closed on the coordinator")
		}
	})
}

// Closing rows early while batches are read ahead cancels the rest on the
// coordinator and leaves the connection usable.
func TestPrefetchCloseEarly(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, p impalalb.Protocol) {
		co := startCoord(t, impalad.Config{})
		cfg := testConfig(p, co)
		cfg.FetchSize = 256
		db, _ := openDB(t, cfg)
		db.SetMaxOpenConns(1)
		for round := range 10 {
			rows, err := db.Query("select id from gen.rows_100000000")
			require.NoError(t, err)
			for i := 0; i < 257+round*100 && rows.Next(); i++ {
			}
			if round%2 == 1 {
				time.Sleep(10 * time.Millisecond)
			}
			require.NoError(t, rows.Close())
			require.Zero(t, co.Stats().OperationsOpen)
			var one int
			require.NoError(t, db.QueryRow("select 1").Scan(&one))
		}
		require.EqualValues(t, 1, co.Stats().SessionsOpened, "one session served every round")
	})
}
