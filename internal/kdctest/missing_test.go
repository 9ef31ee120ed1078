package kdctest

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMissingBinariesNamePackages(t *testing.T) {
	saved := searchDirs
	t.Cleanup(func() { searchDirs = saved })
	searchDirs = nil
	t.Setenv("PATH", t.TempDir())
	err := Available()
	require.Error(t, err)
	for _, want := range []string{"krb5kdc (Debian package krb5-kdc)", "kadmin.local (Debian package krb5-admin-server)",
		"kinit (Debian package krb5-user)", "apt-get install -y krb5-kdc krb5-admin-server krb5-user"} {
		require.Contains(t, err.Error(), want)
	}
}
