package kerberos_test

import (
	"context"
	"fmt"

	"github.com/impalalb/impalalb/kerberos"
)

// A client behind a load balancer: whichever coordinator is dialed, the
// ticket is for impala/impala-lb.example.com@EXAMPLE.COM, which every
// coordinator's keytab holds.
func Example() {
	c, err := kerberos.NewClient(kerberos.Config{
		Principal: "etl@EXAMPLE.COM",
		Keytab:    "etl.keytab",
		HostFQDN:  "impala-lb.example.com",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	fmt.Println(c.ServicePrincipal("coordinator-7.example.com"))
	// conn dials with c.MechanismFactory(); a handshake by hand:
	m := c.Mechanism()
	if _, err := m.Start(context.Background(), "coordinator-7.example.com"); err != nil {
		fmt.Println(err)
	}
}
