package conn_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/conn"
)

// TestReadHTTPHead: the transport's reading of a reply head, the forms a
// server or proxy may send and the ones it refuses.
func TestReadHTTPHead(t *testing.T) {
	type want struct {
		status  int
		length  int64
		chunked bool
		close   bool
	}
	for _, c := range []struct {
		in   string
		want want
		err  string
	}{
		{"HTTP/1.1 200 OK\r\nContent-Type: application/x-thrift\r\nContent-Length: 42\r\nConnection: Keep-Alive\r\n\r\n", want{200, 42, false, false}, ""},
		{"HTTP/1.1 200 OK\nContent-Length: 7\n\n", want{200, 7, false, false}, ""},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 9\r\n\r\n", want{200, -1, true, false}, ""},
		{"HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nWWW-Authenticate: Basic\r\n\r\n", want{401, -1, false, true}, ""},
		{"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", want{200, 1, false, true}, ""},
		{"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n", want{200, 1, false, false}, ""},
		{"HTTP/1.1 100 Continue\r\n\r\n", want{100, 0, false, false}, ""},
		{"HTTP/1.1 204\r\n\r\n", want{204, 0, false, false}, ""},
		{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", want{200, 5, false, false}, ""},
		{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", want{}, "two Content-Lengths"},
		{"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n", want{}, "Content-Length"},
		{"HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n", want{}, "Content-Length"},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", want{}, "not supported"},
		{"HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\n\r\n", want{}, "header line"},
		{"HTTP/1.1 200 OK\r\nbad name: 1\r\n\r\n", want{}, "header line"},
		{"HTTP/2 200\r\n\r\n", want{}, "status line"},
		{"HTTP/1.1 2000 OK\r\n\r\n", want{}, "status line"},
		{"HTTP/1.1 600 X\r\n\r\n", want{}, "status line"},
		{"SSH-2.0-OpenSSH_9.2\r\n", want{}, "status line"},
		{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n", want{}, "unexpected EOF"},
		{"HTTP/1.1 200 OK\r\n" + string(make([]byte, 5000)) + "\r\n\r\n", want{}, "longer than"},
	} {
		status, length, chunked, closed, err := conn.ReadHTTPHead([]byte(c.in))
		if c.err != "" {
			require.ErrorContains(t, err, c.err, "%q", c.in)
			continue
		}
		require.NoError(t, err, "%q", c.in)
		require.Equal(t, c.want, want{status, length, chunked, closed}, "%q", c.in)
	}
}

// FuzzReadHTTPHead: any bytes give a head or an error, never a panic, and
// a head that parses is consistent.
func FuzzReadHTTPHead(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Type: application/x-thrift\r\nContent-Length: 42\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nWWW-Authenticate: Negotiate\r\nSet-Cookie: impala.auth=;HttpOnly;Max-Age=0\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"))
	f.Add([]byte("HTTP/1.0 302 Found\r\nLocation: https://x/y\r\n\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		status, length, chunked, _, err := conn.ReadHTTPHead(b)
		if err != nil {
			return
		}
		require.True(t, status >= 100 && status <= 599, "status %d", status)
		require.GreaterOrEqual(t, length, int64(-1))
		if chunked {
			require.Equal(t, int64(-1), length)
		}
	})
}
