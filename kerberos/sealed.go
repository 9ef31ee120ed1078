package kerberos

// sealed holds a value that no fmt verb may print, wherever the struct
// holding it is reached from: tickets, session keys, authenticators and
// security contexts. fmt prints a pointer it meets inside a value as an
// address, and dereferences one only to print a struct, slice, array or
// map it was asked to print with a verb that does not fit a pointer (%s,
// %q, %t): never a pointer to a pointer. A Client or a Mechanism (and the
// tickets they point to) thus prints with its sealed fields as addresses,
// whatever the verb. Package secret's Value does the same for strings.
type sealed[T any] struct{ p **T }

// seal returns v sealed.
func seal[T any](v T) sealed[T] {
	q := &v
	return sealed[T]{p: &q}
}

// get returns the sealed value, the zero T when none was sealed.
func (s sealed[T]) get() T {
	if s.p == nil {
		var zero T
		return zero
	}
	return **s.p
}
