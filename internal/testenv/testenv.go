package testenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/impalalb/impalalb/conn"
	"github.com/impalalb/impalalb/internal/impalad"
)

// StartCluster starts n coordinators on one impalad.Cluster whose DDL
// reaches the other coordinators after ddlDelay, each with a copy of cfg
// (listen addresses left empty get fresh loopback ports). They are closed in
// t.Cleanup.
func StartCluster(t testing.TB, n int, ddlDelay time.Duration, cfg impalad.Config) []*impalad.Coordinator {
	t.Helper()
	cos, err := impalad.NewCluster(ddlDelay).StartN(n, cfg)
	if err != nil {
		t.Fatalf("testenv: starting %d coordinators: %v", n, err)
	}
	t.Cleanup(func() {
		for _, co := range cos {
			_ = co.Close()
		}
	})
	return cos
}

// HS2Addrs returns the HS2 addresses of cos, in order.
func HS2Addrs(cos []*impalad.Coordinator) []string {
	out := make([]string, len(cos))
	for i, co := range cos {
		out[i] = co.HS2Addr()
	}
	return out
}

// Hosts maps test host names to loopback addresses for the tests' dials, so
// that a test can give a coordinator a host name ("coord1.impalalb.test")
// that Kerberos and TLS see, while the socket goes to 127.0.0.1. Plug
// DialContext into conn.Options.DialContext. The zero value is empty and
// ready; it is safe for concurrent use.
type Hosts struct {
	mu sync.RWMutex
	m  map[string]string // "name:port" → "127.0.0.1:port"
}

// Add maps host to the port of real (a "127.0.0.1:port" address) and
// returns the address to dial, "host:port".
func (h *Hosts) Add(host, real string) string {
	_, port, err := net.SplitHostPort(real)
	if err != nil {
		panic(fmt.Sprintf("testenv: Hosts.Add: %v", err))
	}
	name := net.JoinHostPort(host, port)
	h.mu.Lock()
	if h.m == nil {
		h.m = map[string]string{}
	}
	h.m[name] = real
	h.mu.Unlock()
	return name
}

// ErrUnknownHost is returned by Hosts.DialContext for an address that was
// not added: nothing leaves the test's own names.
var ErrUnknownHost = errors.New("testenv: host not in the test's host table")

// DialContext connects to the loopback address that addr was mapped to.
func (h *Hosts) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	h.mu.RLock()
	real, ok := h.m[addr]
	h.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownHost, addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, real)
}

// Exec runs stmt on s, reads every row and closes the operation.
func Exec(ctx context.Context, s *conn.Session, stmt string) error {
	_, err := Query(ctx, s, stmt)
	return err
}

// Query runs stmt on s and returns its rows, each value as conn's
// Batch.Value gives it (nil for NULL), then closes the operation.
func Query(ctx context.Context, s *conn.Session, stmt string) ([][]any, error) {
	op, err := s.Execute(ctx, stmt, nil)
	if err != nil {
		return nil, err
	}
	var rows [][]any
	if op.HasResultSet() {
		for {
			b, err := op.Next(ctx)
			if err == io.EOF {
				break
			}
			if err != nil {
				_ = op.Close(ctx)
				return nil, err
			}
			for r := 0; r < b.Len(); r++ {
				row := make([]any, b.NumColumns())
				for c := range row {
					row[c] = b.Value(c, r)
				}
				rows = append(rows, row)
			}
		}
	}
	if err := op.Close(ctx); err != nil {
		return nil, err
	}
	return rows, nil
}
