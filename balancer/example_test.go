package balancer_test

import (
	"context"
	"crypto/tls"
	"fmt"

	"github.com/impalalb/impalalb/balancer"
	"github.com/impalalb/impalalb/secret"
)

// exampleDialer opens sessions that always answer.
type exampleDialer struct{}

type exampleSession struct{ addr string }

func (exampleDialer) Dial(_ context.Context, addr string) (*exampleSession, error) {
	return &exampleSession{addr: addr}, nil
}

func (*exampleSession) Ping(context.Context) error { return nil }
func (*exampleSession) Close() error               { return nil }

func Example() {
	cfg := balancer.Config{Coordinators: []string{"impalad1:21050", "impalad2:21050", "impalad3:21050"}}
	// A Pool[*exampleSession]: leases hand out *exampleSession values.
	pool, err := balancer.New(cfg, exampleDialer{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pool.Close()
	ctx := context.Background()

	// Leastconn: three concurrent sessions land on three coordinators.
	seen := map[string]bool{}
	var leases []*balancer.Lease[*exampleSession]
	for range 3 {
		l, err := pool.Acquire(ctx, "")
		if err != nil {
			fmt.Println(err)
			return
		}
		seen[l.Coordinator()] = true
		leases = append(leases, l)
	}
	fmt.Println("coordinators used:", len(seen))
	for _, l := range leases {
		l.Release()
	}

	// Affinity: a key keeps its coordinator.
	a, _ := pool.Acquire(ctx, "alice")
	first := a.Coordinator()
	a.Release()
	b, _ := pool.Acquire(ctx, "alice")
	fmt.Println("alice stays:", b.Coordinator() == first)
	b.Release()

	st := pool.Stats()
	fmt.Println("open:", st.Open, "idle:", st.Idle, "in use:", st.InUse)
	// Output:
	// coordinators used: 3
	// alice stays: true
	// open: 3 idle: 3 in use: 0
}

// Discovery from Impala's own membership and cluster-wide leastconn, both
// through the coordinators' web servers (HTTPS, Basic credentials sent
// only to a web server that asks): one seed, the rest found in
// /backends?json.
func ExampleImpalaMembership() {
	web := &balancer.ImpalaWeb{TLS: &tls.Config{MinVersion: tls.VersionTLS12}, User: "etl", Password: secret.New("etl-password")}
	cfg := balancer.Config{
		Coordinators: []string{"impalad1.example.com:21050"},
		Discovery:    []balancer.Discoverer{&balancer.ImpalaMembership{Web: web, Port: 21050}},
		ClusterLoad:  &balancer.ImpalaLoad{Web: web},
	}
	fmt.Println(cfg.Validate())
	// Output: <nil>
}
