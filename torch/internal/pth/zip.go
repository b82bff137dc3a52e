package pth

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// readZip unpickles <prefix>/data.pkl of a torch ≥ 1.6 archive and locates the storages
// it names in <prefix>/data/<key>.
func readZip(data []byte) (any, *storageTable, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) { // names are looked up, never extracted
		return nil, nil, fmt.Errorf("%w: zip: %v", ErrInvalid, err)
	}
	entries := make(map[string]*zip.File, len(zr.File))
	prefix := ""
	for _, e := range zr.File {
		if _, dup := entries[e.Name]; dup {
			return nil, nil, fmt.Errorf("%w: zip: duplicate entry %q", ErrInvalid, e.Name)
		}
		entries[e.Name] = e
		if dir, ok := strings.CutSuffix(e.Name, "/data.pkl"); ok && dir != "" && !strings.Contains(dir, "/") {
			if prefix != "" {
				return nil, nil, fmt.Errorf("%w: zip: several data.pkl records (%s/ and %s/)", ErrInvalid, prefix, dir)
			}
			prefix = dir
		}
	}
	if prefix == "" {
		return nil, nil, fmt.Errorf("%w: zip archive without <name>/data.pkl (not written by torch.save?)", ErrInvalid)
	}
	prefix += "/"
	if entries[prefix+"constants.pkl"] != nil {
		return nil, nil, fmt.Errorf("%w: TorchScript archive (torch.jit.save); save a state_dict with torch.save instead", ErrUnsupported)
	}
	if e := entries[prefix+"byteorder"]; e != nil {
		b, err := readEntry(data, e, 16)
		if err != nil {
			return nil, nil, fmt.Errorf("%sbyteorder: %w", prefix, err)
		}
		switch string(bytes.TrimSpace(b)) {
		case "little":
		case "big":
			return nil, nil, fmt.Errorf("%w: big-endian file", ErrUnsupported)
		default:
			return nil, nil, fmt.Errorf("%w: byteorder %q", ErrInvalid, b)
		}
	}
	pkl, err := readEntry(data, entries[prefix+"data.pkl"], maxPickleSize)
	if err != nil {
		return nil, nil, fmt.Errorf("%sdata.pkl: %w", prefix, err)
	}
	st := newStorageTable()
	u := newUnpickler(pkl, 0, func(pid any) (any, error) { return st.load(pid, false) })
	root, err := u.load()
	if err != nil {
		return nil, nil, fmt.Errorf("%sdata.pkl: %w", prefix, err)
	}
	for _, key := range st.order {
		rs := st.roots[key]
		name := prefix + "data/" + key
		e := entries[name]
		if e == nil {
			return nil, nil, fmt.Errorf("%w: storage %q: no record %s", ErrInvalid, key, name)
		}
		want := rs.numel * int64(rs.dtype.Size()) // checked for overflow by load
		if e.UncompressedSize64 != uint64(want) {
			return nil, nil, fmt.Errorf("%w: storage %q: record %s holds %d bytes, %s of %d elements needs %d",
				ErrInvalid, key, name, e.UncompressedSize64, rs.typeName, rs.numel, want)
		}
		b, err := readEntry(data, e, want)
		if err != nil {
			return nil, nil, fmt.Errorf("storage %q: %s: %w", key, name, err)
		}
		rs.data, rs.located = b, true
	}
	return root, st, nil
}

// readEntry returns a record's bytes: a slice of data when it is stored uncompressed,
// else its inflated content (at most limit bytes).
func readEntry(data []byte, e *zip.File, limit int64) ([]byte, error) {
	if e.UncompressedSize64 > uint64(limit) {
		return nil, fmt.Errorf("%w: record of %d bytes exceeds %d", ErrInvalid, e.UncompressedSize64, limit)
	}
	size := int64(e.UncompressedSize64)
	if e.Method == zip.Store {
		if e.CompressedSize64 != e.UncompressedSize64 {
			return nil, fmt.Errorf("%w: stored record with compressed size %d ≠ size %d", ErrInvalid, e.CompressedSize64, e.UncompressedSize64)
		}
		off, err := e.DataOffset()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		if off < 0 || off > int64(len(data)) || size > int64(len(data))-off {
			return nil, fmt.Errorf("%w: record [%d, +%d) runs past the end of the %d-byte file", ErrInvalid, off, size, len(data))
		}
		return data[off : off+size : off+size], nil
	}
	rc, err := e.Open()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	defer rc.Close()
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(rc, size+1))
	if err != nil {
		return nil, fmt.Errorf("%w: inflate: %v", ErrInvalid, err)
	}
	if n != size {
		return nil, fmt.Errorf("%w: record inflates to %d bytes, header says %d", ErrInvalid, n, size)
	}
	return buf.Bytes(), nil
}
