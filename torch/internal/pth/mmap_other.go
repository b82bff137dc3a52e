//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package pth

import (
	"io"
	"os"
)

// mapFile reads the whole file into memory where mmap is not wired up.
func mapFile(f *os.File) ([]byte, func() error, error) {
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, nil, err
	}
	return data, func() error { return nil }, nil
}
