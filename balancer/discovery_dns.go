package balancer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
)

// DNSDiscovery is a [Discoverer] that resolves a name: each A and AAAA
// record is a coordinator on Port. It suits a Kubernetes headless service
// (one record per ready pod) and round-robin DNS. It is resolved anew at
// every poll (no cache of its own); the resolver's own cache, if any,
// applies.
//
// The coordinators it yields are IP addresses: with TLS, set the name the
// certificates hold (server_name); with Kerberos, the service principal's
// host (kerberos_host_fqdn), as in the proxy models of Impala's guide.
type DNSDiscovery struct {
	// Name is the name to resolve ("impala-coord.impala.svc.cluster.local").
	// Required.
	Name string
	// Port is every coordinator's port (its HS2 or beeswax port). Required.
	Port int
	// Resolver resolves Name. Nil means net.DefaultResolver.
	Resolver *net.Resolver
}

var _ Discoverer = (*DNSDiscovery)(nil)

// Discover looks Name up and returns one member per address.
func (d *DNSDiscovery) Discover(ctx context.Context, _ []string) ([]Member, error) {
	if d.Name == "" || d.Port < 1 || d.Port > 65535 {
		return nil, errors.New("balancer: DNSDiscovery needs a Name and a Port from 1 to 65535")
	}
	r := d.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	ips, err := r.LookupNetIP(ctx, "ip", d.Name)
	if err != nil {
		return nil, err
	}
	out := make([]Member, 0, len(ips))
	port := strconv.Itoa(d.Port)
	for _, ip := range ips {
		out = append(out, Member{Addr: net.JoinHostPort(ip.Unmap().WithZone("").String(), port)})
	}
	return out, nil
}

// String names the source: "dns NAME port PORT".
func (d *DNSDiscovery) String() string { return fmt.Sprintf("dns %s port %d", d.Name, d.Port) }
