//go:build impalalb_nounsafe

package impalad

// The helper of unsafe.go without package unsafe, for measuring what it
// buys (-tags impalalb_nounsafe).

// sharedString returns the bytes of buf as a new string.
func sharedString(buf []byte) string { return string(buf) }
