package kerberos

import (
	"fmt"
	"log/slog"
)

// String describes the client by its principal. A Client's tickets and
// counters change under its own goroutines (renewal, KDC exchanges):
// printing them through fmt's reflection would read them without the
// client's lock. (Its secrets print as addresses anyway: see sealed.)
func (c *Client) String() string { return "kerberos.Client{" + c.Principal() + "}" }

// Format prints String whatever the verb (fmt.Formatter).
func (c *Client) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(c.String())) }

// LogValue implements slog.LogValuer with String.
func (c *Client) LogValue() slog.Value { return slog.StringValue(c.String()) }

// String describes the mechanism by the service principal it asked a
// ticket for (empty before Start).
func (m *Mechanism) String() string { return "kerberos.Mechanism{GSSAPI " + m.spn + "}" }

// Format prints String whatever the verb (fmt.Formatter).
func (m *Mechanism) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(m.String())) }

// LogValue implements slog.LogValuer with String.
func (m *Mechanism) LogValue() slog.Value { return slog.StringValue(m.String()) }
