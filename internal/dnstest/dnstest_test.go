package dnstest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func lookup(t *testing.T, s *Server, name string) ([]string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	ips, err := s.Resolver().LookupNetIP(ctx, "ip", name)
	var out []string
	for _, ip := range ips {
		out = append(out, ip.Unmap().String())
	}
	slices.Sort(out)
	return out, err
}

// TestServer: dnsmasq answers the records, then the new ones after Set,
// and nothing after Stop.
func TestServer(t *testing.T) {
	s := Start(t, map[string][]string{"coords.impalalb.test": {"127.0.0.2", "127.0.0.3"}})
	got, err := lookup(t, s, "coords.impalalb.test")
	require.NoError(t, err)
	require.Equal(t, []string{"127.0.0.2", "127.0.0.3"}, got)
	_, err = lookup(t, s, "other.impalalb.test")
	require.Error(t, err)

	s.Set(t, map[string][]string{"coords.impalalb.test": {"127.0.0.4"}})
	got, err = lookup(t, s, "coords.impalalb.test")
	require.NoError(t, err)
	require.Equal(t, []string{"127.0.0.4"}, got)

	s.Stop()
	_, err = lookup(t, s, "coords.impalalb.test")
	require.Error(t, err)
}
