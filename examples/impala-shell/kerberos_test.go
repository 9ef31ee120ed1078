package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/internal/impalad"
	"github.com/impalalb/impalalb/internal/kdctest"
	"github.com/impalalb/impalalb/internal/krbacceptor"
	"github.com/impalalb/impalalb/internal/saslserver"
)

// TestKerberos runs -k -b against coordinators whose keytabs hold the load
// balancer's principal, with a TGT from MIT kinit in a credential cache.
func TestKerberos(t *testing.T) {
	hosts := []string{"coord1.impalalb.test", "coord2.impalalb.test"}
	k := kdctest.Start(t, kdctest.Options{Hosts: hosts})
	ccache := filepath.Join(t.TempDir(), "ccache")
	k.Kinit(t, ccache)
	t.Setenv("KRB5_CONFIG", k.Krb5Conf)
	t.Setenv("KRB5CCNAME", "FILE:"+ccache)

	cluster := impalad.NewCluster(0)
	var addrs []string
	for _, h := range hosts {
		acc, err := krbacceptor.New(krbacceptor.Config{KeytabPath: k.Keytab(h)})
		require.NoError(t, err)
		co, err := impalad.Start(impalad.Config{
			Cluster:    cluster,
			Mechanisms: map[string]saslserver.MechanismFactory{"GSSAPI": acc.Factory()},
		})
		require.NoError(t, err)
		t.Cleanup(func() { _ = co.Close() })
		addrs = append(addrs, co.HS2Addr())
	}
	list := strings.Join(addrs, ",")

	code, out, errs := runShell(t, "-i", list, "-k", "-b", k.LBHost, "-B", "-q", "select 'kerberized'")
	require.Equal(t, 0, code, errs)
	require.Equal(t, "kerberized\n", out)

	// Without -b the client asks for impala/127.0.0.1, which no keytab holds.
	code, _, errs = runShell(t, "-i", list, "-k", "-q", "select 1")
	require.Equal(t, 1, code)
	require.Contains(t, errs, "[Exception] Error connecting sasl ")
	require.Contains(t, errs, "Not connected to Impala, could not execute queries.")
}
