package haproxytest_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/internal/haproxytest"
)

// nameServer answers every HTTP request with its name.
func nameServer(t *testing.T, name string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, name) })}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// TestHTTPModeStickyCookie: in mode http with a sticky cookie, HAProxy
// balances a client's first request and sends every later one that
// carries its cookie to the same server.
func TestHTTPModeStickyCookie(t *testing.T) {
	var servers []haproxytest.Server
	for _, n := range []string{"s1", "s2", "s3"} {
		servers = append(servers, haproxytest.Server{Name: n, Addr: nameServer(t, n), Check: true})
	}
	p := haproxytest.StartT(t, haproxytest.Options{Frontends: []haproxytest.Frontend{
		{Name: "http", HTTP: true, StickyCookie: "SERVERID", Servers: servers},
	}})
	require.Contains(t, p.Config(), "mode http")
	require.Contains(t, p.Config(), "cookie SERVERID insert indirect nocache")
	require.Contains(t, p.Config(), " cookie s2")
	get := func(cookie string) (string, string) {
		req, err := http.NewRequest("GET", "http://"+p.Addr("http")+"/cliservice", nil)
		require.NoError(t, err)
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		resp, err := http.DefaultTransport.RoundTrip(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return string(b), resp.Header.Get("Set-Cookie")
	}
	seen := map[string]bool{}
	for range 3 {
		name, set := get("")
		require.Equal(t, "SERVERID="+name+"; path=/", set)
		seen[name] = true
		for range 4 {
			again, set := get("SERVERID=" + name)
			require.Equal(t, name, again, "the cookie keeps the client on its server")
			require.Empty(t, set)
		}
	}
	require.Len(t, seen, 3, fmt.Sprintf("new clients spread: %v", seen))
	_, err := haproxytest.Start(t.Context(), haproxytest.Options{Dir: t.TempDir(), Frontends: []haproxytest.Frontend{
		{Name: "tcp", StickyCookie: "X", Servers: servers},
	}})
	require.ErrorContains(t, err, "need HTTP")
}
