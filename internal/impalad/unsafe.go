//go:build !impalalb_nounsafe_impalad

package impalad

import "unsafe"

// This file holds the test coordinator's one use of package unsafe.
// Building with -tags impalalb_nounsafe_impalad swaps in unsafe_off.go,
// which copies instead: BENCHMARKS.md ("unsafe: what each use buys")
// measures one against the other.

// sharedString returns the bytes of buf as a string that shares them, so
// that the texts of a generated column (genTextColumn) are substrings of
// one string without copying the column's text. Safe: buf is the
// column's own buffer, filled before the call and never written, appended
// to or handed out afterwards; the strings keep it alive.
func sharedString(buf []byte) string { return unsafe.String(unsafe.SliceData(buf), len(buf)) }
