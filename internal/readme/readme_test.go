package readme

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSnippetsCompile keeps README.md's Go code compiled: each ```go block
// of README.md is a file of this package (snippet1.go, ...), built and
// vetted with the rest of the module. The test fails when a file differs
// from its block; IMPALALB_UPDATE_README=1 rewrites them.
func TestSnippetsCompile(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	blocks := goBlocks(string(readme))
	require.NotEmpty(t, blocks, "README.md has Go snippets")
	update := os.Getenv("IMPALALB_UPDATE_README") == "1"
	want := map[string]bool{}
	for i, b := range blocks {
		require.True(t, strings.HasPrefix(b, "import"), "README.md's Go block %d must be a whole file after its package clause (start with its imports), so that it compiles as it reads:\n%s", i+1, b)
		name := fmt.Sprintf("snippet%d.go", i+1)
		want[name] = true
		content := []byte("// Code generated from README.md by TestSnippetsCompile; DO NOT EDIT.\n\npackage readme\n\n" + b)
		if update {
			require.NoError(t, os.WriteFile(name, content, 0o644))
			continue
		}
		got, err := os.ReadFile(name)
		require.NoError(t, err, "run IMPALALB_UPDATE_README=1 go test ./internal/readme/")
		require.True(t, bytes.Equal(content, got), "%s differs from README.md's Go block %d: run IMPALALB_UPDATE_README=1 go test ./internal/readme/", name, i+1)
	}
	files, err := filepath.Glob("snippet*.go")
	require.NoError(t, err)
	for _, f := range files {
		if !want[f] {
			if update {
				require.NoError(t, os.Remove(f))
				continue
			}
			t.Errorf("%s has no block in README.md any more: run IMPALALB_UPDATE_README=1 go test ./internal/readme/", f)
		}
	}
}

// goBlocks returns the contents of the ```go fences of a Markdown text.
func goBlocks(md string) []string {
	var out []string
	lines := strings.Split(md, "\n")
	for i := 0; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != "```go" {
			continue
		}
		var b strings.Builder
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
			b.WriteString(lines[i])
			b.WriteByte('\n')
		}
		out = append(out, b.String())
	}
	return out
}
