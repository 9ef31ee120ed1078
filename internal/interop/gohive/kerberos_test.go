//go:build kerberos

package gohive

import (
	"context"
	"net"
	"path/filepath"
	"testing"

	"github.com/beltran/gohive"
	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/internal/impalad"
	"github.com/impalalb/impalalb/internal/kdctest"
	"github.com/impalalb/impalalb/internal/krbacceptor"
	"github.com/impalalb/impalalb/internal/saslserver"
)

// TestKerberos connects with gohive's GSSAPI (MIT's library, through cgo)
// asking for a ticket for the load balancer's name; gohive's DialContext
// sends the connection to the coordinator's loopback address, so no name
// has to resolve.
func TestKerberos(t *testing.T) {
	const host = "coord1.impalalb.test"
	k := kdctest.Start(t, kdctest.Options{Hosts: []string{host}})
	acc, err := krbacceptor.New(krbacceptor.Config{KeytabPath: k.Keytab(host)})
	require.NoError(t, err)
	co := start(t, impalad.Config{Mechanisms: map[string]saslserver.MechanismFactory{"GSSAPI": acc.Factory()}})
	ccache := filepath.Join(t.TempDir(), "ccache")
	k.Kinit(t, ccache)
	t.Setenv("KRB5_CONFIG", k.Krb5Conf)
	t.Setenv("KRB5CCNAME", "FILE:"+ccache)

	_, p := hostPort(t, co.HS2Addr())
	gc := gohive.NewConnectConfiguration()
	gc.Service = "impala"
	gc.Username = k.User
	gc.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, co.HS2Addr())
	}
	c, err := gohive.Connect(k.LBHost, p, "KERBEROS", gc)
	require.NoError(t, err)
	defer c.Close()
	checkGen(t, c, 1030)
}
