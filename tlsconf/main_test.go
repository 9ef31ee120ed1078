package tlsconf_test

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestMain fails the run when a goroutine started by the package or its
// tests outlives the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if err := checkGoroutines(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// checkGoroutines looks for goroutines running code of this package,
// giving those that are on their way out a bounded time to finish (a
// goroutine's exit cannot be waited for from outside).
func checkGoroutines() error {
	var leaked []string
	buf := make([]byte, 1<<20)
	for attempt := range 20 {
		leaked = leaked[:0]
		n := runtime.Stack(buf, true)
		for _, g := range strings.Split(string(buf[:n]), "\n\n") {
			if strings.Contains(g, "impalalb/tlsconf") && !strings.Contains(g, "checkGoroutines") {
				leaked = append(leaked, g)
			}
		}
		if len(leaked) == 0 {
			return nil
		}
		time.Sleep(time.Duration(attempt+1) * 5 * time.Millisecond)
	}
	return fmt.Errorf("tlsconf tests: %d goroutine(s) leaked:\n%s", len(leaked), strings.Join(leaked, "\n\n"))
}
