package tlsfiles

import "fmt"

// Error is a configuration field that is wrong, or the file it names that
// cannot be read or parsed. Package tlsconf reports it as a
// tlsconf.ConfigError.
type Error struct {
	// Field is the name of the field at fault, such as "CAFile".
	Field string
	// File is the file the field names, if any.
	File string
	// Err is the cause.
	Err error
}

// Error returns "<field> <file>: <cause>".
func (e *Error) Error() string {
	if e.File != "" {
		return fmt.Sprintf("%s %q: %v", e.Field, e.File, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Field, e.Err)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }
