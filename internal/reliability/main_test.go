package reliability

import (
	"os"
	"sync"
	"testing"
)

var (
	tmpMu  sync.Mutex
	tmpDir string // removed by TestMain
)

// osTempDir returns a directory for the package's test binaries, removed
// when the tests end.
func osTempDir() (string, error) {
	tmpMu.Lock()
	defer tmpMu.Unlock()
	if tmpDir == "" {
		d, err := os.MkdirTemp("", "impalalb-reliability-")
		if err != nil {
			return "", err
		}
		tmpDir = d
	}
	return tmpDir, nil
}

func TestMain(m *testing.M) {
	code := m.Run()
	tmpMu.Lock()
	if tmpDir != "" {
		_ = os.RemoveAll(tmpDir)
	}
	tmpMu.Unlock()
	os.Exit(code)
}
