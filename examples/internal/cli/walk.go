package cli

import (
	"io/fs"
	"path/filepath"
	"strings"
)

// WalkFiles calls visit, in lexical order, with the path of every regular file under root
// whose name keep accepts and with that path relative to root, slash-separated. It skips
// hidden entries (names starting with ".", root itself excepted) and the folder skip (the
// program's output, when it lies inside root).
func WalkFiles(root, skip string, keep func(name string) bool, visit func(path, rel string) error) error {
	skipAbs, _ := filepath.Abs(skip)
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != root && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if abs, _ := filepath.Abs(p); p != root && abs == skipAbs {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !keep(d.Name()) {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		return visit(p, filepath.ToSlash(rel))
	})
}
