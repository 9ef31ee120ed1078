package conn

import (
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
)

// String describes o for logs and errors with the password redacted and
// hooks shown only as set or not; %v, %+v and %#v all print it.
func (o Options) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "conn.Options{Protocol:%s User:%q", o.Protocol, o.User)
	if !o.Password.IsZero() {
		b.WriteString(" Password:<redacted>")
	}
	if o.Database != "" {
		fmt.Fprintf(&b, " Database:%q", o.Database)
	}
	if len(o.SessionOptions) > 0 {
		b.WriteString(" SessionOptions:{")
		for i, k := range slices.Sorted(maps.Keys(o.SessionOptions)) {
			if i > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprintf(&b, "%s:%q", k, o.SessionOptions[k])
		}
		b.WriteByte('}')
	}
	fmt.Fprintf(&b, " TLS:%t SASL:%t", o.TLS != nil || o.TLSHandshake != nil, o.Mechanism != nil)
	if o.Protocol == HS2HTTP || o.HTTPAuth != nil || o.HTTPPath != "" || len(o.HTTPHeaders) > 0 {
		fmt.Fprintf(&b, " HTTPAuth:%t", o.HTTPAuth != nil)
		if o.HTTPPath != "" {
			fmt.Fprintf(&b, " HTTPPath:%q", o.HTTPPath)
		}
		if len(o.HTTPHeaders) > 0 {
			// Names only: a header may carry a proxy's key.
			fmt.Fprintf(&b, " HTTPHeaders:%q", slices.Sorted(maps.Keys(o.HTTPHeaders)))
		}
	}
	if o.DialContext != nil {
		b.WriteString(" DialContext:set")
	}
	if o.ConnectTimeout != 0 {
		fmt.Fprintf(&b, " ConnectTimeout:%s", o.ConnectTimeout)
	}
	if o.FetchSize != 0 {
		fmt.Fprintf(&b, " FetchSize:%d", o.FetchSize)
	}
	b.WriteByte('}')
	return b.String()
}

// GoString is String, so that %#v redacts the password too.
func (o Options) GoString() string { return o.String() }

// LogValue implements slog.LogValuer with the redacted String.
func (o Options) LogValue() slog.Value { return slog.StringValue(o.String()) }
