package balancer_test

import (
	"context"
	"fmt"
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
