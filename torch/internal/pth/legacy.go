package pth

import (
	"encoding/binary"
	"fmt"
	"math/big"
)

// legacyProtocolVersion is the PROTOCOL_VERSION torch's legacy writer stores.
const legacyProtocolVersion = 1001

// readLegacy reads the pre-zip stream: pickles of the magic number, the protocol version
// and sys_info; the data pickle; the sorted list of storage keys; then for each key an
// 8-byte little-endian element count and the storage's raw bytes.
func readLegacy(data []byte) (any, *storageTable, error) {
	next := func(what string, pos int, pl func(any) (any, error)) (any, int, error) {
		u := newUnpickler(data, pos, pl)
		v, err := u.load()
		if err != nil {
			return nil, 0, fmt.Errorf("legacy %s pickle: %w", what, err)
		}
		return v, u.pos, nil
	}
	magic, pos, err := next("magic number", 0, nil)
	if err != nil {
		return nil, nil, err
	}
	want, _ := new(big.Int).SetString("1950a86a20f9469cfc6c", 16)
	if m, ok := magic.(*big.Int); !ok || m.Cmp(want) != 0 {
		return nil, nil, fmt.Errorf("%w: not a PyTorch file (magic number %v)", ErrInvalid, magic)
	}
	version, pos, err := next("protocol version", pos, nil)
	if err != nil {
		return nil, nil, err
	}
	if v, ok := version.(int64); !ok || v != legacyProtocolVersion {
		return nil, nil, fmt.Errorf("%w: legacy protocol version %v, want %d", ErrUnsupported, version, legacyProtocolVersion)
	}
	sysInfo, pos, err := next("sys_info", pos, nil)
	if err != nil {
		return nil, nil, err
	}
	if d, ok := sysInfo.(*pyDict); ok {
		if i, ok := d.index["little_endian"]; ok {
			if le, ok := d.vals[i].(bool); ok && !le {
				return nil, nil, fmt.Errorf("%w: big-endian file", ErrUnsupported)
			}
		}
	}
	st := newStorageTable()
	root, pos, err := next("data", pos, func(pid any) (any, error) { return st.load(pid, true) })
	if err != nil {
		return nil, nil, err
	}
	keysV, pos, err := next("storage keys", pos, nil)
	if err != nil {
		return nil, nil, err
	}
	keys, ok := keysV.(*pyList)
	if !ok {
		return nil, nil, fmt.Errorf("%w: storage keys are a %s, want a list", ErrInvalid, typeName(keysV))
	}
	for _, kv := range keys.items {
		key, ok := asString(kv)
		if !ok {
			return nil, nil, fmt.Errorf("%w: storage key is a %s", ErrInvalid, typeName(kv))
		}
		rs := st.roots[key]
		if rs == nil {
			return nil, nil, fmt.Errorf("%w: storage %q is listed but never used", ErrInvalid, key)
		}
		if rs.located {
			return nil, nil, fmt.Errorf("%w: storage %q is listed twice", ErrInvalid, key)
		}
		if len(data)-pos < 8 {
			return nil, nil, fmt.Errorf("%w: storage %q: file ends before its element count", ErrInvalid, key)
		}
		n := int64(binary.LittleEndian.Uint64(data[pos:]))
		pos += 8
		if n != rs.numel {
			return nil, nil, fmt.Errorf("%w: storage %q: %d elements on disk, %d in the pickle", ErrInvalid, key, n, rs.numel)
		}
		nbytes := n * int64(rs.dtype.Size()) // checked for overflow by load
		if nbytes > int64(len(data)-pos) {
			return nil, nil, fmt.Errorf("%w: storage %q: %d bytes needed, file has %d left", ErrInvalid, key, nbytes, len(data)-pos)
		}
		rs.data = data[pos : pos+int(nbytes) : pos+int(nbytes)]
		rs.located = true
		pos += int(nbytes)
	}
	return root, st, nil
}
