//go:build impalalb_nounsafe_impalad

package impalad

// The helper of unsafe.go without package unsafe, for measuring what it
// buys (-tags impalalb_nounsafe_impalad).

// sharedString returns the bytes of buf as a new string.
func sharedString(buf []byte) string { return string(buf) }
