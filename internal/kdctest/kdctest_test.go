package kdctest_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/impalalb/impalalb/internal/kdctest"
)

func TestStartKinitStopRestart(t *testing.T) {
	k := kdctest.Start(t, kdctest.Options{Hosts: []string{"coord1.impalalb.test"}})
	require.Equal(t, "impala/lb.impalalb.test@IMPALALB.TEST", k.LBPrincipal())
	for _, p := range []string{k.Krb5Conf, k.UserKeytab, k.Keytab("coord1.impalalb.test")} {
		st, err := os.Stat(p)
		require.NoError(t, err)
		require.NotZero(t, st.Size())
	}
	cc := filepath.Join(t.TempDir(), "cc")
	k.Kinit(t, cc)
	k.Stop(t)
	require.False(t, k.Running())
	k.Restart(t)
	require.True(t, k.Running())
	k.Kinit(t, cc)
}
