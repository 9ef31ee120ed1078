package balancer_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/impalalb/impalalb/balancer"
)

func BenchmarkPick(b *testing.B) {
	for _, policy := range []balancer.Policy{balancer.LeastConn, balancer.Affinity, balancer.RoundRobin} {
		for _, n := range []int{3, 16, 64, 256} {
			b.Run(fmt.Sprintf("%v/%d", policy, n), func(b *testing.B) {
				cl, addrs := newCluster(n)
				p := newPool(b, testConfig(cl, addrs), balancer.TestOptions{})
				key := ""
				if policy == balancer.Affinity {
					key = "tenant-42"
				}
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					if p.Pick(policy, key) == "" {
						b.Fatal("no pick")
					}
				}
			})
		}
	}
}

// BenchmarkPickSticky measures affinity's pick against the sticky table: a
// key already in it (the usual case: 0 allocations), a new key each time
// (placement and insertion; at the table's size, an eviction too), and a
// lookup among a million keys.
func BenchmarkPickSticky(b *testing.B) {
	for _, n := range []int{3, 64} {
		b.Run(fmt.Sprintf("warm/%d", n), func(b *testing.B) {
			cl, addrs := newCluster(n)
			p := newPool(b, testConfig(cl, addrs), balancer.TestOptions{NoLoop: true})
			p.Pick(balancer.Affinity, "tenant-42")
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if p.Pick(balancer.Affinity, "tenant-42") == "" {
					b.Fatal("no pick")
				}
			}
		})
		b.Run(fmt.Sprintf("newkey/%d", n), func(b *testing.B) {
			cl, addrs := newCluster(n)
			p := newPool(b, testConfig(cl, addrs), balancer.TestOptions{NoLoop: true})
			keys := make([]string, b.N)
			for i := range keys {
				keys[i] = fmt.Sprintf("tenant-%d", i)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				p.Pick(balancer.Affinity, keys[i])
			}
		})
	}
	b.Run("1M-keys/3", func(b *testing.B) {
		cl, addrs := newCluster(3)
		cfg := testConfig(cl, addrs)
		cfg.StickyTableSize = 1 << 20
		p := newPool(b, cfg, balancer.TestOptions{NoLoop: true})
		keys := make([]string, 1<<20)
		for i := range keys {
			keys[i] = fmt.Sprintf("tenant-%d", i)
		}
		// The table's memory: the heap in use before and after the keys
		// went in (the keys' own strings are counted before).
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for _, k := range keys {
			p.Pick(balancer.Affinity, k)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if st := p.Stats(); st.Keys != len(keys) {
			b.Fatalf("%d keys in the table", st.Keys)
		}
		perKey := float64(after.HeapAlloc-before.HeapAlloc) / float64(len(keys))
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			p.Pick(balancer.Affinity, keys[(i*7919)&(len(keys)-1)])
		}
		b.ReportMetric(perKey, "table-B/key")
	})
}

func BenchmarkAcquireRelease(b *testing.B) {
	for _, key := range []string{"", "tenant-42"} {
		name := "leastconn"
		if key != "" {
			name = "affinity"
		}
		b.Run(name+"/serial", func(b *testing.B) {
			cl, addrs := newCluster(3)
			p := newPool(b, testConfig(cl, addrs), balancer.TestOptions{})
			ctx := context.Background()
			l, err := p.Acquire(ctx, key)
			if err != nil {
				b.Fatal(err)
			}
			l.Release()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				l, err := p.Acquire(ctx, key)
				if err != nil {
					b.Fatal(err)
				}
				l.Release()
			}
		})
		b.Run(name+"/parallel", func(b *testing.B) {
			cl, addrs := newCluster(3)
			cfg := testConfig(cl, addrs)
			cfg.MaxIdlePerCoordinator = 64
			p := newPool(b, cfg, balancer.TestOptions{})
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					l, err := p.Acquire(ctx, key)
					if err != nil {
						b.Error(err)
						return
					}
					l.Release()
				}
			})
		})
	}
}
