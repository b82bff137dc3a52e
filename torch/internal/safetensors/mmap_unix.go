//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package safetensors

import (
	"fmt"
	"os"
	"syscall"
)

// MapFile maps the whole file read-only. The returned function unmaps it. An empty file
// yields an empty slice and no mapping.
func MapFile(f *os.File) ([]byte, func() error, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	size := st.Size()
	if size == 0 {
		return []byte{}, func() error { return nil }, nil
	}
	if size < 0 || int64(int(size)) != size {
		return nil, nil, fmt.Errorf("file size %d cannot be mapped", size)
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, fmt.Errorf("mmap: %w", err)
	}
	return data, func() error { return syscall.Munmap(data) }, nil
}
