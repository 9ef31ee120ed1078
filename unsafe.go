//go:build !impalalb_nounsafe_driver

package impalalb

import (
	"database/sql/driver"
	"time"
	"unsafe"
)

// This file holds every use of package unsafe in the driver: rows.Next
// hands database/sql the values of a batch as interfaces without the
// allocation the compiler's boxing makes for each of them (8 bytes for an
// int64 or float64 past 255, 16 for a string, 24 for a time.Time): the
// interface points at the value in the batch's column instead of at a copy
// on the heap. Values in an interface cannot be modified through it, so
// what each use needs is that the column is never written while an
// interface may point into it; an interface a caller keeps (a *any
// destination) keeps the column's array alive, as a kept string keeps its
// buffer. BINARY values are copies and never boxed here (a []byte can be
// written through). Building with -tags impalalb_nounsafe_driver swaps in
// unsafe_off.go, which boxes as the compiler does: BENCHMARKS.md ("unsafe:
// what each use buys") measures one against the other.

// eface is the layout of an empty interface: its type, and a pointer to
// its value for types that are not pointer-shaped.
type eface struct {
	typ  unsafe.Pointer
	data unsafe.Pointer
}

func typeWord(v any) unsafe.Pointer { return (*eface)(unsafe.Pointer(&v)).typ }

var (
	int64Type   = typeWord(int64(0))
	float64Type = typeWord(float64(0))
	stringType  = typeWord("")
	timeType    = typeWord(time.Time{})
)

// boxAt returns the interface of type typ whose value is *p, without
// copying *p to the heap: what the compiler does when it boxes a value,
// minus the allocation. *p must never change afterwards.
func boxAt(typ, p unsafe.Pointer) (v driver.Value) {
	e := (*eface)(unsafe.Pointer(&v))
	e.typ = typ
	e.data = p
	return v
}

// boxInt64 is *p as a driver.Value. Safe: p is in colView.i64, a batch's
// []int64 (conn.Batch.Int64s) or the []int64 viewOf widened a narrower
// column into; the batch belongs to the rows alone, conn never writes a
// batch it returned, and viewOf writes the widened slice only before Next
// sees it.
func boxInt64(p *int64) driver.Value { return boxAt(int64Type, unsafe.Pointer(p)) }

// boxFloat64 is *p as a driver.Value. Safe: p is in colView.f64, a batch's
// []float64 (conn.Batch.Float64s), which conn never writes once returned.
func boxFloat64(p *float64) driver.Value { return boxAt(float64Type, unsafe.Pointer(p)) }

// boxString is *p as a driver.Value. Safe: p is in colView.str, a batch's
// []string (conn.Batch.Strings), which conn never writes once returned;
// the string's bytes are immutable as any string's.
func boxString(p *string) driver.Value { return boxAt(stringType, unsafe.Pointer(p)) }

// boxTime is *p as a driver.Value. Safe: p is in colView.tm, a batch's
// []time.Time (conn.Batch.Times) or the one parseTimes filled before Next
// sees it, never written afterwards.
func boxTime(p *time.Time) driver.Value { return boxAt(timeType, unsafe.Pointer(p)) }
