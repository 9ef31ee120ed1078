package conn_test

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestMain fails the run if goroutines started by package conn outlive
// the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if leaked := waitLeaks(5 * time.Second); leaked != "" {
			fmt.Fprintf(os.Stderr, "goroutines of package conn left behind:\n%s\n", leaked)
			code = 1
		}
	}
	os.Exit(code)
}

func waitLeaks(max time.Duration) string {
	deadline := time.Now().Add(max)
	for {
		leaked := connGoroutines()
		if leaked == "" || time.Now().After(deadline) {
			return leaked
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func connGoroutines() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "impalalb/conn.") && !strings.Contains(g, "conn_test.TestMain") && !strings.Contains(g, "conn_test.connGoroutines") {
			out = append(out, g)
		}
	}
	return strings.Join(out, "\n\n")
}
