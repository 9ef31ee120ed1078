// Package haproxytest runs a real HAProxy (Debian's haproxy package) as a
// child process on loopback, for tests and benchmarks that put impalalb
// side by side with the proxy Impala's load-balancer guide describes, and
// for the TLS bridging and offload tests of package tlsconf.
//
// A test starts one with [StartT], which fails the test with an install hint
// when haproxy is not on PATH and stops the process in t.Cleanup:
//
//	p := haproxytest.StartT(t, haproxytest.Options{
//		Frontends: []haproxytest.Frontend{{
//			Name:    "impala",
//			Balance: "leastconn",
//			Servers: []haproxytest.Server{
//				{Name: "coord1", Addr: c1.HS2Addr(), Check: true},
//				{Name: "coord2", Addr: c2.HS2Addr(), Check: true},
//			},
//		}},
//	})
//	addr := p.Addr("impala") // "127.0.0.1:port"
//
// A program uses [Start] and [Proxy.Stop] with a directory of its own for
// the configuration file and the stats socket.
//
// # Configuration
//
// The configuration has the shape of the guide's example: mode tcp,
// "balance leastconn" (or "source"), servers with "check" (inter, fall and
// rise in the defaults section), "retries" and "option redispatch", and the
// connect, client and server timeouts. A Frontend may end TLS with a
// certificate bundle (the guide's "bind ... ssl crt", bridging and offload)
// and each Server may be reached over TLS with its certificate verified
// against a CA file and a host name (bridging). A Frontend with HTTP runs
// in "mode http" (HiveServer2 over HTTP), where HAProxy picks a server per
// request; StickyCookie ("cookie NAME insert indirect nocache") or
// PreferLastServer keep a client's requests on one server. [Proxy.Config]
// returns the text that was written.
//
// Listening sockets are opened by this package on 127.0.0.1 and handed to
// HAProxy as inherited file descriptors ("bind fd@N"), so ports are never
// guessed and never raced for. Start returns when HAProxy answers on its
// stats socket, which it opens after its listeners.
//
// # Counters
//
// [Proxy.Stats] reads "show stat" from the stats socket: per server the
// current and total sessions, connection errors, retries, redispatches and
// its UP/DOWN status. [Proxy.CPUTime] reads the process's user and system
// time from /proc, to compare the CPU cost of the proxy with that of a
// client-side balancer.
package haproxytest
