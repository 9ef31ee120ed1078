package testenv

import (
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"testing"

	"github.com/impalalb/impalalb/internal/certtest"
	"github.com/impalalb/impalalb/internal/impalad"
)

// LoopbackCluster is a cluster of test coordinators as discovery sees a real
// one: one host each (127.0.0.2, 127.0.0.3, ...: every 127.0.0.0/8 address
// is loopback), all on the same HS2 port and the same web server port, as
// Impala's coordinators share their --hs2_port and --webserver_port.
type LoopbackCluster struct {
	// Cluster is the catalog (and membership) they share.
	Cluster *impalad.Cluster
	// Coords are the coordinators started so far, in order.
	Coords []*impalad.Coordinator
	// HS2Port and WebPort are every coordinator's ports.
	HS2Port, WebPort int

	cfg impalad.Config
	t   testing.TB
}

// Host returns the loopback address of coordinator i (from 0).
func Host(i int) string { return "127.0.0." + strconv.Itoa(2+i) }

// StartLoopbackCluster starts n coordinators with cfg (HS2Addr, WebAddr,
// BeeswaxAddr and Cluster are set here; beeswax is off), closed in
// t.Cleanup. Each runs on Host(i) with the same two ports.
func StartLoopbackCluster(t testing.TB, n int, cfg impalad.Config) *LoopbackCluster {
	t.Helper()
	lc := &LoopbackCluster{Cluster: impalad.NewCluster(0), cfg: cfg, t: t}
	var err error
	for range 10 { // another process may hold one of the ports on another address
		if err = lc.start(n); err == nil {
			return lc
		}
		for _, co := range lc.Coords {
			_ = co.Close() // a failed start: err says why
		}
		lc.Coords = nil
	}
	t.Fatalf("testenv: loopback cluster: %v", err)
	return nil
}

func (lc *LoopbackCluster) start(n int) error {
	first, err := lc.startOn(0, "0", "0")
	if err != nil {
		return err
	}
	_, hp, _ := net.SplitHostPort(first.HS2Addr())
	_, wp, _ := net.SplitHostPort(first.WebAddr())
	lc.HS2Port, _ = strconv.Atoi(hp)
	lc.WebPort, _ = strconv.Atoi(wp)
	for i := 1; i < n; i++ {
		if _, err := lc.startOn(i, hp, wp); err != nil {
			return err
		}
	}
	return nil
}

func (lc *LoopbackCluster) startOn(i int, hs2Port, webPort string) (*impalad.Coordinator, error) {
	c := lc.cfg
	c.HS2Addr = net.JoinHostPort(Host(i), hs2Port)
	c.WebAddr = net.JoinHostPort(Host(i), webPort)
	c.BeeswaxAddr = "-"
	c.Cluster = lc.Cluster
	co, err := impalad.Start(c)
	if err != nil {
		return nil, fmt.Errorf("coordinator %d: %w", i, err)
	}
	lc.Coords = append(lc.Coords, co)
	lc.t.Cleanup(func() { _ = co.Close() }) // the test's verdict is in already
	return co, nil
}

// Add starts one more coordinator on the next host: it joins the cluster.
func (lc *LoopbackCluster) Add() *impalad.Coordinator {
	lc.t.Helper()
	co, err := lc.startOn(len(lc.Coords), strconv.Itoa(lc.HS2Port), strconv.Itoa(lc.WebPort))
	if err != nil {
		lc.t.Fatalf("testenv: add a coordinator: %v", err)
	}
	return co
}

// Addr returns the HS2 address of coordinator i.
func (lc *LoopbackCluster) Addr(i int) string {
	return net.JoinHostPort(Host(i), strconv.Itoa(lc.HS2Port))
}

// WebTLS makes a CA and a certificate for hosts: the TLS configuration of
// the coordinators' web servers (impalad.Config.WebTLS), a client's that
// trusts the CA, and the CA's PEM file (in a directory of t's) for what
// takes a file (a DSN's ca_cert, the shell's --ca_cert).
func WebTLS(t testing.TB, hosts ...string) (server, client *tls.Config, caFile string) {
	t.Helper()
	ca, err := certtest.NewCA("impalalb web CA")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Server(hosts...)
	if err != nil {
		t.Fatal(err)
	}
	if caFile, err = ca.WriteCertFile(t.TempDir(), "ca.pem"); err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert.TLSCertificate()}, MinVersion: tls.VersionTLS12},
		&tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}, caFile
}
