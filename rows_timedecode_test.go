package impalalb

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/internal/impalad"
)

// rewriteProxy forwards loopback connections to target, replacing in
// what the server sends every occurrence of each old[i] by new[i] (of the
// same length, so that the Thrift framing stays valid): a way to make the
// test coordinator send timestamps that do not parse.
func rewriteProxy(t *testing.T, target string, old, new [][]byte) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var (
		mu    sync.Mutex // guards conns
		conns []net.Conn
		wg    sync.WaitGroup
	)
	track := func(c net.Conn) {
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
	}
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			track(c)
			track(s)
			wg.Add(2)
			go func() {
				defer wg.Done()
				_, _ = io.Copy(s, c)
				s.Close()
			}()
			go func() {
				defer wg.Done()
				rewriteCopy(c, s, old, new)
				c.Close()
			}()
		}
	}()
	return ln.Addr().String()
}

// rewriteCopy copies src to dst with the replacements, holding back a
// tail that may be the start of a pattern split across two reads.
func rewriteCopy(dst io.Writer, src io.Reader, old, new [][]byte) {
	buf := make([]byte, 32<<10)
	var pending []byte
	for {
		n, err := src.Read(buf)
		pending = append(pending, buf[:n]...)
		for i := range old {
			pending = bytes.ReplaceAll(pending, old[i], new[i])
		}
		hold := 0
		if err == nil {
			for _, o := range old {
				for k := len(o) - 1; k > hold; k-- {
					if bytes.HasSuffix(pending, o[:k]) {
						hold = k
						break
					}
				}
			}
		}
		if _, werr := dst.Write(pending[:len(pending)-hold]); werr != nil {
			return
		}
		pending = append(pending[:0], pending[len(pending)-hold:]...)
		if err != nil {
			return
		}
	}
}

// scanAll reads every row of q into the values the driver hands out.
func scanAll(t *testing.T, db *sql.DB, q string) [][]any {
	t.Helper()
	rows, err := db.Query(q)
	require.NoError(t, err)
	defer rows.Close()
	cols, err := rows.Columns()
	require.NoError(t, err)
	var out [][]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		require.NoError(t, rows.Scan(ptrs...))
		out = append(out, vals)
	}
	require.NoError(t, rows.Err())
	return out
}

// TestDecodeTimesInConnMatchesDriver reads TIMESTAMP and DATE columns,
// some of whose values were damaged on the way (bad months, non-ASCII
// digits, cut dates), with NULLs, over several batches, through conn's
// decoding into times and through the driver's own parse of the text:
// every value handed out must be the same, over both protocols.
func TestDecodeTimesInConnMatchesDriver(t *testing.T) {
	co, err := impalad.Start(impalad.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { co.Close() })
	old := [][]byte{[]byte("2024-01-0"), []byte("2024-01-15 0"), []byte("2000-01-0"), []byte("2000-02-2")}
	new := [][]byte{[]byte("2024-1x-0"), []byte("２024-01-15"), []byte("2000-01-x"), []byte("2000-02-ａ")[:9]}
	for i := range old {
		require.Len(t, new[i], len(old[i]))
	}
	for _, p := range []Protocol{ProtocolHS2, ProtocolBeeswax} {
		t.Run(string(p), func(t *testing.T) {
			target := co.HS2Addr()
			if p == ProtocolBeeswax {
				target = co.BeeswaxAddr()
			}
			cfg := &Config{}
			cfg.Protocol = p
			cfg.User = "tester"
			cfg.HealthInterval = -1
			cfg.FetchSize = 97 // many batches
			cfg.Addrs = []string{rewriteProxy(t, target, old, new)}
			c, err := NewConnector(cfg)
			require.NoError(t, err)
			db := sql.OpenDB(c)
			t.Cleanup(func() { db.Close() })
			q := "select id, timestamp_col, date_col, string_col from gen.rows_2000"
			defer parseTimesInDriver.Store(false)
			parseTimesInDriver.Store(true)
			want := scanAll(t, db, q)
			parseTimesInDriver.Store(false)
			got := scanAll(t, db, q)
			require.Len(t, want, 2000)
			require.Equal(t, len(want), len(got))
			kinds := map[string]int{}
			for r := range want {
				require.Equal(t, want[r], got[r], "row %d", r)
				for c := 1; c <= 2; c++ {
					kinds[fmt.Sprintf("%d:%T", c, got[r][c])]++
				}
			}
			// Times, texts that did not parse and NULLs in both columns.
			for _, k := range []string{"1:time.Time", "1:string", "1:<nil>", "2:time.Time", "2:string", "2:<nil>"} {
				require.NotZero(t, kinds[k], "%s in %v", k, kinds)
			}
			// Scanning a bad value into a time fails the same way.
			var ts1, ts2 sql.NullTime
			q1 := "select timestamp_col from gen.rows_2000 where id = 3"
			parseTimesInDriver.Store(true)
			err1 := db.QueryRow(q1).Scan(&ts1)
			parseTimesInDriver.Store(false)
			err2 := db.QueryRow(q1).Scan(&ts2)
			require.Error(t, err1)
			require.Equal(t, err1.Error(), err2.Error())
			require.False(t, errors.Is(err2, sql.ErrNoRows))
		})
	}
}
