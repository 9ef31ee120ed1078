//go:build impalalb_nounsafe_conn

package conn

// The helpers of unsafe.go without package unsafe, for measuring what it
// buys (-tags impalalb_nounsafe_conn).

// stringAt returns the k bytes of buf from at as a new string.
func stringAt(buf []byte, at, k int) string { return string(buf[at : at+k]) }

// bytesOf returns a copy of the bytes of s.
func bytesOf(s string) []byte { return []byte(s) }
