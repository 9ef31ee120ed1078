package tlsconf_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/impalalb/impalalb/internal/certtest"
	"github.com/impalalb/impalalb/tlsconf"
)

// A coordinator holding the load balancer's certificate (the passthrough
// model), reached directly: with Config.ServerName set to the load
// balancer's name the certificate checks out; without it the error says
// which name was expected and which names the certificate holds.
func Example_passthrough() {
	dir, err := os.MkdirTemp("", "tlsconf-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	// A throwaway CA and a coordinator certificate for the LB's name.
	ca, _ := certtest.NewCA("example CA")
	caFile, _ := ca.WriteCertFile(dir, "ca.pem")
	leaf, _ := ca.Server("lb.impala.test")
	certFile, keyFile, _ := leaf.WriteFiles(dir, "coordinator")

	// The coordinator: a TLS listener on loopback.
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		panic(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pair}})
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	addr := ln.Addr().String()
	ctx := context.Background()

	client, err := tlsconf.NewClient(tlsconf.Config{CAFile: caFile, ServerName: "lb.impala.test"})
	if err != nil {
		panic(err)
	}
	conn, err := client.DialContext(ctx, "tcp", addr)
	if err != nil {
		panic(err)
	}
	fmt.Println("verified as", conn.ConnectionState().PeerCertificates[0].DNSNames[0])
	conn.Close()

	noOverride, _ := tlsconf.NewClient(tlsconf.Config{CAFile: caFile})
	_, err = noOverride.DialContext(ctx, "tcp", addr)
	var mismatch *tlsconf.NameMismatchError
	if errors.As(err, &mismatch) {
		host, _, _ := net.SplitHostPort(mismatch.Addr)
		fmt.Printf("dialed %s, expected %q, certificate holds %q\n", host, mismatch.Expected, mismatch.DNSNames)
	}
	// Output:
	// verified as lb.impala.test
	// dialed 127.0.0.1, expected "127.0.0.1", certificate holds ["lb.impala.test"]
}
