package impalad

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/apache/thrift/lib/go/thrift"
	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/conn/sasl"
	"github.com/impalalb/impalalb/internal/thrift/gen/impala"
	"github.com/impalalb/impalalb/internal/thrift/gen/tcli"
)

func TestConcurrentSessions(t *testing.T) {
	co := startCoord(t, Config{})
	const clients, each = 32, 10
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if r := recover(); r != nil {
					errs <- fmt.Errorf("client %d: %v", i, r)
				}
			}()
			if i%4 == 3 {
				b := dialBeeswax(t, co.BeeswaxAddr())
				for j := range each {
					_, rows := b.query(fmt.Sprintf("select %d", j))
					if len(rows) != 1 || rows[0] != fmt.Sprint(j) {
						errs <- fmt.Errorf("beeswax client %d got %v", i, rows)
						return
					}
				}
				return
			}
			h := dialHS2(t, co.HS2Addr())
			h.mustOpen()
			for j := range each {
				_, rows := h.query(fmt.Sprintf("select %d, 'c%d'", j, i))
				if len(rows) != 1 || rows[0][1] != fmt.Sprintf("c%d", i) {
					errs <- fmt.Errorf("client %d got %v", i, rows)
					return
				}
			}
			h.closeSession()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	st := co.Stats()
	require.Equal(t, int64(clients*each), st.StatementsExecuted)
	ids := map[string]bool{}
	for _, s := range co.Statements() {
		require.False(t, ids[s.ID], "duplicate id %s", s.ID)
		ids[s.ID] = true
	}
	require.Len(t, ids, clients*each)
}

func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	co, err := Start(Config{})
	require.NoError(t, err)
	// Leave work in every state: an idle session, a running statement with
	// a waiting fetch, a hung new connection, a beeswax connection.
	c1, tr1 := rawDial(t, co.HS2Addr())
	h := newHS2Client(t, c1, tr1)
	h.mustOpen()
	op := h.mustExec("select sleep(600000)")
	fetchDone := make(chan struct{})
	go func() {
		defer close(fetchDone)
		h.c.FetchResults(context.Background(), &tcli.TFetchResultsReq{OperationHandle: op, MaxRows: 1})
	}()
	bc, btr := rawDial(t, co.BeeswaxAddr())
	btr.Open()
	co.Faults().Hang(true)
	hc, _ := rawDial(t, co.HS2Addr())
	co.Faults().SetIdleConnectionTimeout(time.Hour)
	require.NoError(t, co.Close())
	<-fetchDone
	for _, c := range []net.Conn{c1, bc, hc} {
		c.Close()
	}
	eventually(t, "goroutines to end", func() bool { return runtime.NumGoroutine() <= before })
}

func rawDial(t *testing.T, addr string) (net.Conn, thrift.TTransport) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	return c, thrift.NewTBufferedTransport(thrift.NewTSocketFromConnConf(c, testConf), 4096)
}

// TestGarbageInput sends random and hostile bytes to every port, plain and
// SASL; the coordinator must survive and keep serving.
func TestGarbageInput(t *testing.T) {
	plain := startCoord(t, Config{})
	secured := startCoord(t, Config{Users: map[string]string{"u": "p"}})
	rng := mrand.New(mrand.NewPCG(1, 2))
	hostile := [][]byte{
		{0x80, 0x01, 0x00, 0x01, 0x7f, 0xff, 0xff, 0xff},                                                               // call with a 2 GiB name
		{0x80, 0x01, 0x00, 0x01, 0, 0, 0, 4, 'P', 'i', 'n', 'g', 0, 0, 0, 1, 0x0f, 0, 1, 0x0c, 0x7f, 0xff, 0xff, 0xff}, // list of 2G structs
		{0x7f, 0xff, 0xff, 0xff, 0x01},                                                                                 // non-strict 2 GiB
		{0x01, 0x7f, 0xff, 0xff, 0xff, 'P'},                                                                            // SASL START with a 2 GiB payload
		{0x05, 0, 0, 0, 0, 0, 0, 0, 8, 1, 2, 3},                                                                        // SASL COMPLETE out of turn
		[]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
	}
	for i := range 40 {
		hostile = append(hostile, randBytes(rng, 1+rng.IntN(300)))
		_ = i
	}
	// Valid start of a call, then garbage.
	callHead := []byte{0x80, 0x01, 0x00, 0x01, 0, 0, 0, 11}
	callHead = append(callHead, "OpenSession"...)
	callHead = binary.BigEndian.AppendUint32(callHead, 1)
	for range 20 {
		hostile = append(hostile, append(append([]byte(nil), callHead...), randBytes(rng, 1+rng.IntN(200))...))
	}
	var addrs []string
	for _, co := range []*Coordinator{plain, secured} {
		addrs = append(addrs, co.HS2Addr(), co.BeeswaxAddr())
	}
	var wg sync.WaitGroup
	for _, addr := range addrs {
		for _, payload := range hostile {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := net.DialTimeout("tcp", addr, 5*time.Second)
				if err != nil {
					return
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(300 * time.Millisecond))
				c.Write(payload)
				buf := make([]byte, 512)
				c.Read(buf)
			}()
		}
	}
	wg.Wait()
	h := dialHS2(t, plain.HS2Addr())
	h.mustOpen()
	_, rows := h.query("select 1")
	require.Equal(t, [][]any{{int8(1)}}, rows)
	_, brows := dialBeeswax(t, plain.BeeswaxAddr()).query("select 1")
	require.Equal(t, []string{"1"}, brows)
	s := dialSASL(t, secured.HS2Addr(), nil, "u", "p")
	s.mustOpen()
}

func randBytes(rng *mrand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// dialSASL connects with SASL PLAIN (over TLS when tlsCfg is set).
func dialSASL(t testing.TB, addr string, tlsCfg *tls.Config, user, password string) *hs2Client {
	t.Helper()
	h, err := trySASL(t, addr, tlsCfg, user, password)
	require.NoError(t, err)
	return h
}

func trySASL(t testing.TB, addr string, tlsCfg *tls.Config, user, password string) (*hs2Client, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	if tlsCfg != nil {
		tc := tls.Client(c, tlsCfg)
		if err := tc.HandshakeContext(context.Background()); err != nil {
			return nil, err
		}
		c = tc
	}
	tr, err := sasl.NewClient(c, sasl.NewPlain(user, password), sasl.Config{})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tr.Handshake(ctx, "localhost"); err != nil {
		return nil, err
	}
	return newHS2Client(t, c, tr), nil
}

func TestSASLPlain(t *testing.T) {
	co := startCoord(t, Config{Users: map[string]string{"alice": "s3cret"}})
	h := dialSASL(t, co.HS2Addr(), nil, "alice", "s3cret")
	h.mustOpen()
	_, rows := h.query("select 'plain'")
	require.Equal(t, [][]any{{"plain"}}, rows)
	require.Equal(t, "alice", co.Statements()[0].User)

	_, err := trySASL(t, co.HS2Addr(), nil, "alice", "wrong")
	require.ErrorIs(t, err, sasl.ErrRejected)
	require.NotContains(t, err.Error(), "wrong")

	// A NOSASL client cannot talk to a SASL coordinator.
	plain := dialHS2(t, co.HS2Addr())
	_, err = plain.c.OpenSession(context.Background(), &tcli.TOpenSessionReq{})
	require.Error(t, err)

	// Beeswax speaks SASL too.
	bh, err := trySASL(t, co.BeeswaxAddr(), nil, "alice", "s3cret")
	require.NoError(t, err)
	_ = bh
}

func selfSigned(t *testing.T) (*tls.Config, *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server := &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	client := &tls.Config{RootCAs: pool, ServerName: "localhost"}
	return server, client
}

func TestTLS(t *testing.T) {
	srv, cli := selfSigned(t)
	co := startCoord(t, Config{TLS: srv})
	c, err := tls.Dial("tcp", co.HS2Addr(), cli)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	h := newHS2Client(t, c, thrift.NewTBufferedTransport(thrift.NewTSocketFromConnConf(c, testConf), 4096))
	h.mustOpen()
	_, rows := h.query("select 'tls'")
	require.Equal(t, [][]any{{"tls"}}, rows)

	// TLS with PLAIN, as Impala with LDAP.
	co2 := startCoord(t, Config{TLS: srv, Users: map[string]string{"bob": "pw"}})
	h2 := dialSASL(t, co2.HS2Addr(), cli, "bob", "pw")
	h2.mustOpen()
	_, rows = h2.query("select 2")
	require.Equal(t, [][]any{{int8(2)}}, rows)
}

func TestBeeswaxOverSASL(t *testing.T) {
	co := startCoord(t, Config{Users: map[string]string{"carol": "pw"}})
	c, err := net.DialTimeout("tcp", co.BeeswaxAddr(), 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	tr, err := sasl.NewClient(c, sasl.NewPlain("carol", "pw"), sasl.Config{})
	require.NoError(t, err)
	require.NoError(t, tr.Handshake(context.Background(), "localhost"))
	b := &bzClient{t: t, conn: c, c: impala.NewImpalaServiceClientFactory(tr, thrift.NewTBinaryProtocolFactoryConf(testConf))}
	_, rows := b.query("select 'over sasl', 2")
	require.Equal(t, []string{"over sasl\t2"}, rows)
	require.Equal(t, "carol", co.Statements()[0].User)
}
