// Package atomicfile writes files so that a crash never leaves a half-written one: the
// bytes go to a temporary file beside the target, which is synced and renamed over it.
// Every file the project writes that a later run reads (checkpoints, configs, manifests,
// adapters, logs) goes through it.
package atomicfile

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
)

// Write writes data to path atomically (see WriteFunc).
func Write(path string, data []byte) error {
	return WriteFunc(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteFunc writes path through body: into a temporary file in the same folder (buffered),
// which is synced, made readable (0644), renamed over path, and the folder synced so the
// rename persists. On any error the temporary file is removed and path is untouched.
func WriteFunc(path string, body func(w io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	if err = body(bw); err != nil {
		return err
	}
	if err = bw.Flush(); err != nil {
		return err
	}
	if err = f.Chmod(0o644); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	if d, derr := os.Open(dir); derr == nil { // best effort: persist the rename
		_ = d.Sync()
		d.Close()
	}
	return nil
}
