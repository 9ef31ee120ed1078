// Package secret holds credentials — passwords, tokens — in a type that
// never prints them: whatever the fmt verb (%v %+v %#v %s %q %d %t %x
// ...), whatever holds it (an exported or unexported field, a map, a
// slice, a struct printed through a pointer), through log/slog's text and
// JSON handlers and encoding/json, and in a panic. Only [Value.Reveal]
// gives the secret, to the code that sends it.
//
// Every field of this module that holds a password or a token is a
// [Value]: impalalb.Config's Password, JWT and the values of its
// HTTPHeaders, conn.Options' Password and HTTPHeaders values (and what a
// conn.HTTPAuth or conn.TokenSource gives), kerberos.Config.Password,
// balancer.ImpalaWeb.Password. Build one with [New]:
//
//	cfg := impalalb.Config{Addrs: addrs, User: "etl", Password: secret.New(pw)}
//
// Why a type of its own and not a string with redacting String methods on
// the structs that hold it: fmt calls no method of a value it reaches
// through an unexported field, and a verb that does not fit a pointer
// (%s, %q, %t) makes it print the struct the pointer points to, fields
// and all, so a String method on every container still leaked under
// other verbs. A Value holds its secret behind a pointer to a string,
// which fmt prints as an address wherever it meets it, and its own
// methods redact where fmt does call them.
package secret

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"log/slog"
)

// Redacted is what a Value that holds a secret prints as.
const Redacted = "<redacted>"

// Value is a secret string that never prints. The zero Value holds no
// secret (and prints as the empty string); Values are compared with
// [Value.Equal], not ==.
type Value struct {
	// p is the secret. Behind a pointer to a string: fmt prints any
	// pointer it meets inside a value as an address, and one it is asked
	// to print with a verb that does not fit dereferences to a string,
	// which it then prints as an address too.
	p *string
}

// New returns a Value holding s; New("") is the zero Value.
func New(s string) Value {
	if s == "" {
		return Value{}
	}
	return Value{p: &s}
}

// Reveal returns the secret, "" for the zero Value. Call it only where
// the secret is sent or checked, never to print it.
func (v Value) Reveal() string {
	if v.p == nil {
		return ""
	}
	return *v.p
}

// IsZero reports whether v holds no secret.
func (v Value) IsZero() bool { return v.p == nil || *v.p == "" }

// Equal reports whether v and w hold the same secret, in time that does
// not depend on where they differ.
func (v Value) Equal(w Value) bool {
	return subtle.ConstantTimeCompare([]byte(v.Reveal()), []byte(w.Reveal())) == 1
}

// String returns [Redacted], or "" for the zero Value.
func (v Value) String() string {
	if v.IsZero() {
		return ""
	}
	return Redacted
}

// GoString is String, for %#v.
func (v Value) GoString() string { return v.String() }

// Format implements fmt.Formatter: every verb prints String (quoted for
// %q), never the secret.
func (v Value) Format(f fmt.State, verb rune) {
	s := v.String()
	if verb == 'q' {
		s = fmt.Sprintf("%q", s)
	}
	_, _ = f.Write([]byte(s))
}

// LogValue implements slog.LogValuer: slog's handlers log String.
func (v Value) LogValue() slog.Value { return slog.StringValue(v.String()) }

// MarshalJSON writes String as a JSON string: a Value never leaves
// through encoding/json.
func (v Value) MarshalJSON() ([]byte, error) { return json.Marshal(v.String()) }

// UnmarshalJSON reads a JSON string as the secret, so that a
// configuration can be loaded from JSON (it is not written back).
func (v *Value) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("secret: %w", err)
	}
	*v = New(s)
	return nil
}

// MarshalText writes String: encoders that use encoding.TextMarshaler
// (YAML, TOML, environment loaders) never see the secret.
func (v Value) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// UnmarshalText reads text as the secret (flag and environment loaders
// use it).
func (v *Value) UnmarshalText(b []byte) error {
	*v = New(string(b))
	return nil
}
