package cli

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestWalkFiles: regular files whose name is kept, in lexical order, relative with
// slashes; hidden files and folders and the skip folder (the output inside the input) are
// passed over.
func TestWalkFiles(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{"b.png", "a/c.png", "a/d.txt", ".hidden.png", ".git/e.png", "out/f.png", "a/out/g.png"} {
		p := filepath.Join(root, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	err := WalkFiles(root, filepath.Join(root, "out"), func(name string) bool { return strings.HasSuffix(name, ".png") },
		func(path, rel string) error {
			if path != filepath.Join(root, filepath.FromSlash(rel)) {
				t.Errorf("path %s for %s", path, rel)
			}
			got = append(got, rel)
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a/c.png", "a/out/g.png", "b.png"}; !slices.Equal(got, want) {
		t.Errorf("visited %q, want %q", got, want)
	}
}
