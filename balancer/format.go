package balancer

import (
	"fmt"
	"log/slog"
	"strings"
)

// String describes the pool: its coordinators and their states. A Pool's
// fields change under its own goroutines; printing them through fmt's
// reflection would read them without the pool's locks (a data race), and
// would show nothing useful.
func (p *Pool[S]) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b strings.Builder
	b.WriteString("balancer.Pool{")
	for i, c := range p.coords {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c.addr + " " + c.getState().String())
	}
	b.WriteByte('}')
	return b.String()
}

// Format prints String whatever the verb (fmt.Formatter).
func (p *Pool[S]) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(p.String())) }

// LogValue implements slog.LogValuer with String.
func (p *Pool[S]) LogValue() slog.Value { return slog.StringValue(p.String()) }

// String describes the lease by its session's coordinator.
func (l *Lease[S]) String() string { return "balancer.Lease{" + l.Coordinator() + "}" }

// Format prints String whatever the verb (fmt.Formatter): a lease points
// to its pool, which fmt's reflection would read without its locks.
func (l *Lease[S]) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(l.String())) }

// LogValue implements slog.LogValuer with String.
func (l *Lease[S]) LogValue() slog.Value { return slog.StringValue(l.String()) }

// Format prints String whatever the verb (fmt.Formatter): an ImpalaWeb
// learns web servers and keeps its HTTP client under its discovery's
// goroutines, which fmt's reflection would race with.
func (w *ImpalaWeb) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(w.String())) }

// LogValue implements slog.LogValuer with String.
func (w *ImpalaWeb) LogValue() slog.Value { return slog.StringValue(w.String()) }

// Format prints String whatever the verb (fmt.Formatter), as ImpalaWeb's.
func (m *ImpalaMembership) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(m.String())) }

// LogValue implements slog.LogValuer with String.
func (m *ImpalaMembership) LogValue() slog.Value { return slog.StringValue(m.String()) }

// Format prints String whatever the verb (fmt.Formatter), as ImpalaWeb's.
func (l *ImpalaLoad) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(l.String())) }

// LogValue implements slog.LogValuer with String.
func (l *ImpalaLoad) LogValue() slog.Value { return slog.StringValue(l.String()) }
