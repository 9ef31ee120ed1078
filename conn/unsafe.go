//go:build !impalalb_nounsafe_conn

package conn

import "unsafe"

// This file holds every use of package unsafe in conn, each in a helper
// that says why it is safe. Building with -tags impalalb_nounsafe_conn
// swaps in unsafe_off.go, where each helper does the same with a copy:
// BENCHMARKS.md ("unsafe: what each use buys") measures one against the
// other.

// stringAt returns the k bytes of buf from at (k > 0) as a string that
// shares them: the fast reader (fastread.go) makes the strings of a batch
// with no allocation per cell. It is safe because buf is an arena block,
// a column's buffer or a long value's buffer of that reader, which only
// ever appends past the bytes it has handed out and never writes them
// again, and never hands them out as a []byte (BINARY values have
// buffers of their own, see readBinaryList); the string keeps buf alive.
func stringAt(buf []byte, at, k int) string { return unsafe.String(&buf[at], k) }

// bytesOf returns the bytes of s (not empty) as a []byte capped at its
// length, sharing them: the fast reader reads the values of a BINARY
// column as strings into arena blocks of their own (readBytes) and hands
// out these slices instead. It is safe because the strings are dropped
// at once: nothing reads those bytes as a string, so the caller may even
// modify them (the blocks hold no other column's values).
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
