//go:build !kerberos

package gohive

import "testing"

// TestKerberos needs gohive's GSSAPI, which gosasl builds only with the
// kerberos build tag (cgo and Debian's libkrb5-dev).
func TestKerberos(t *testing.T) {
	t.Fatal("gohive: run these tests with -tags kerberos (gosasl's GSSAPI needs it; cgo and libkrb5-dev)")
}
