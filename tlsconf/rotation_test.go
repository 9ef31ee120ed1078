package tlsconf_test

import (
	"bytes"
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/internal/certtest"
	"github.com/impalalb/impalalb/internal/tlsserver"
	"github.com/impalalb/impalalb/tlsconf"
)

// TestRotation replaces the CA and every certificate on disk while a
// connection is open: new connections use the new files on both sides, the
// open connection keeps working.
func TestRotation(t *testing.T) {
	p := newPKI(t, "CA 1")
	srvCert, srvKey, srv1 := p.server(t, "server", lbName)
	cliCert, cliKey, cli1 := p.client(t, "client", "alice")
	log, logs := newLogger()
	s := startEcho(t, serverTLS(t, tlsserver.Config{CertFile: srvCert, KeyFile: srvKey, ClientCAFile: p.caFile, Logger: log}))
	cl, err := tlsconf.NewClient(tlsconf.Config{CAFile: p.caFile, ServerName: lbName, CertFile: cliCert, KeyFile: cliKey, Logger: log})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()

	old, err := cl.DialContext(ctx, "tcp", s.addr)
	require.NoError(t, err)
	defer old.Close()
	require.NoError(t, roundTrip(old, "before"))
	require.Equal(t, serialOf(srv1.Leaf), serialOf(old.ConnectionState().PeerCertificates[0]))
	require.Equal(t, serialOf(cli1.Leaf), serialOf(nextState(t, s).PeerCertificates[0]))

	// Rotate everything to a new CA, in place.
	ca2, err := certtest.NewCA("CA 2")
	require.NoError(t, err)
	srv2, err := ca2.Server(lbName)
	require.NoError(t, err)
	cli2, err := ca2.Client("alice")
	require.NoError(t, err)
	_, err = ca2.WriteCertFile(p.dir, "ca.pem")
	require.NoError(t, err)
	_, _, err = srv2.WriteFiles(p.dir, "server")
	require.NoError(t, err)
	_, _, err = cli2.WriteFiles(p.dir, "client")
	require.NoError(t, err)

	fresh, err := cl.DialContext(ctx, "tcp", s.addr)
	require.NoError(t, err)
	defer fresh.Close()
	require.NoError(t, roundTrip(fresh, "after"))
	require.Equal(t, serialOf(srv2.Leaf), serialOf(fresh.ConnectionState().PeerCertificates[0]), "server presents the new certificate")
	require.Equal(t, serialOf(cli2.Leaf), serialOf(nextState(t, s).PeerCertificates[0]), "client presents the new certificate")

	// The connection opened before the rotation is untouched.
	require.NoError(t, roundTrip(old, "still here"))
	require.Equal(t, serialOf(srv1.Leaf), serialOf(old.ConnectionState().PeerCertificates[0]))

	// A client that still trusts only the old CA is refused now: the server
	// really moved to the new certificate.
	stale, err := tlsconf.NewClient(tlsconf.Config{CAPEM: p.ca.CertPEM(), ServerName: lbName, CertFile: cliCert, KeyFile: cliKey})
	require.NoError(t, err)
	_, err = stale.DialContext(ctx, "tcp", s.addr)
	var ua *tlsconf.UnknownAuthorityError
	require.ErrorAs(t, err, &ua)

	require.Contains(t, logs.String(), "tlsconf: reloaded")
	require.NotContains(t, logs.String(), "reload failed")
}

// TestRotationUnderLoad rotates the way cluster tools do (add the new CA to
// the bundle, switch the certificates, drop the old CA) while clients keep
// handshaking: no handshake fails, even though the certificate and key
// files are replaced one after the other.
func TestRotationUnderLoad(t *testing.T) {
	p := newPKI(t, "CA 1")
	srvCert, srvKey, _ := p.server(t, "server", lbName)
	cliCert, cliKey, _ := p.client(t, "client", "alice")
	s := startEcho(t, serverTLS(t, tlsserver.Config{CertFile: srvCert, KeyFile: srvKey, ClientCAFile: p.caFile}))
	cl, err := tlsconf.NewClient(tlsconf.Config{CAFile: p.caFile, ServerName: lbName, CertFile: cliCert, KeyFile: cliKey})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()

	// A handshake must not span two rotation steps (the server picks its
	// certificate at ClientHello, the client checks it later against the
	// bundle of that moment); in a cluster steps are minutes apart. So each
	// step waits until every worker has finished a handshake that began
	// after the step.
	const (
		workers = 4
		maxEach = 400 // bounds the test if the rotator stalls
	)
	type report struct {
		worker int
		step   int64 // the rotation step when the handshake began
	}
	var (
		wg       sync.WaitGroup
		ok       atomic.Int64
		step     atomic.Int64
		failures = make(chan error, workers*maxEach)
		progress = make(chan report, workers*maxEach)
		stop     = make(chan struct{})
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range maxEach {
				select {
				case <-stop:
					return
				default:
				}
				began := step.Load()
				c, err := cl.DialContext(ctx, "tcp", s.addr)
				if err == nil {
					err = roundTrip(c, "load")
					c.Close()
				}
				if err != nil {
					failures <- err
				} else {
					ok.Add(1)
				}
				progress <- report{worker: w, step: began}
			}
		}()
	}
	t.Cleanup(func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	})
	// nextStep marks a rotation step done and waits until every worker has
	// finished a handshake begun after it.
	nextStep := func() {
		cur := step.Add(1)
		seen := map[int]bool{}
		for len(seen) < workers {
			select {
			case r := <-progress:
				if r.step >= cur {
					seen[r.worker] = true
				}
			case <-time.After(testTimeout):
				t.Fatal("handshakes stalled")
			}
		}
	}

	ca2, err := certtest.NewCA("CA 2")
	require.NoError(t, err)
	srv2, err := ca2.Server(lbName)
	require.NoError(t, err)
	cli2, err := ca2.Client("alice")
	require.NoError(t, err)

	nextStep() // handshakes with the first files
	// Step 1: trust both CAs.
	require.NoError(t, certtest.WriteFile(p.caFile, bytes.Join([][]byte{p.ca.CertPEM(), ca2.CertPEM()}, nil), 0o644))
	nextStep()
	// Step 2: new certificates (each file replaced on its own).
	_, _, err = srv2.WriteFiles(p.dir, "server")
	require.NoError(t, err)
	_, _, err = cli2.WriteFiles(p.dir, "client")
	require.NoError(t, err)
	nextStep()
	// Step 3: drop the old CA.
	_, err = ca2.WriteCertFile(p.dir, "ca.pem")
	require.NoError(t, err)
	nextStep()
	close(stop)
	wg.Wait()
	close(failures)
	for err := range failures {
		require.NoError(t, err)
	}
	require.GreaterOrEqual(t, ok.Load(), int64(4*workers))

	c, err := cl.DialContext(ctx, "tcp", s.addr)
	require.NoError(t, err)
	defer c.Close()
	require.Equal(t, serialOf(srv2.Leaf), serialOf(c.ConnectionState().PeerCertificates[0]))
}
