package balancer_test

import (
	"context"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/impalalb/impalalb/balancer"
)

// BenchmarkAcquireWaiting: 64 goroutines share 24 sessions (3 coordinators,
// MaxPerCoordinator 8), each holding its session for one round trip to a
// loopback echo server (its "statement"), so most acquires wait. Besides the time per acquire it reports how long
// acquires waited (p50, p99, max) and how evenly the goroutines were
// served: min-share is the fewest acquires one goroutine got over the mean
// (1 when all got the same; near 0 when one starved).
//
//	go test -run '^$' -bench AcquireWaiting -benchtime 20000x ./balancer/
func BenchmarkAcquireWaiting(b *testing.B) {
	cl, addrs := newCluster(3)
	cfg := testConfig(cl, addrs)
	cfg.MaxPerCoordinator = 8
	cfg.MaxIdlePerCoordinator = 8
	p := newPool(b, cfg, balancer.TestOptions{})
	ctx := context.Background()
	const workers = 64
	echo := startEcho(b)
	conns := make([]net.Conn, workers)
	for w := range conns {
		c, err := net.Dial("tcp", echo)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		conns[w] = c
	}
	var next atomic.Int64
	waits := make([][]time.Duration, workers)
	counts := make([]int, workers)
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				t0 := time.Now()
				l, err := p.Acquire(ctx, "")
				if err != nil {
					b.Error(err)
					return
				}
				waits[w] = append(waits[w], time.Since(t0))
				counts[w]++
				if err := roundTrip(conns[w]); err != nil { // the statement
					b.Error(err)
					l.Release()
					return
				}
				l.Release()
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	var all []time.Duration
	total := 0
	for w := range workers {
		all = append(all, waits[w]...)
		total += counts[w]
	}
	if len(all) == 0 {
		return
	}
	slices.Sort(all)
	at := func(q float64) float64 {
		return float64(all[min(len(all)-1, int(q*float64(len(all))))]) / float64(time.Microsecond)
	}
	b.ReportMetric(at(0.5), "p50-wait-µs")
	b.ReportMetric(at(0.99), "p99-wait-µs")
	b.ReportMetric(float64(all[len(all)-1])/float64(time.Microsecond), "max-wait-µs")
	b.ReportMetric(float64(slices.Min(counts))*workers/float64(total), "min-share")
}

// startEcho starts a loopback server that echoes every byte back, stopped
// at cleanup, and returns its address.
func startEcho(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

func roundTrip(c net.Conn) error {
	var buf [1]byte
	if _, err := c.Write(buf[:]); err != nil {
		return err
	}
	_, err := io.ReadFull(c, buf[:])
	return err
}
