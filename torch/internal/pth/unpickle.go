package pth

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// Python values built by the restricted unpickler. Only data and a handful of known,
// inert objects exist: nothing is ever imported or called.
type (
	// pyTuple is a Python tuple.
	pyTuple []any
	// pyList is a Python list (mutable, so a pointer).
	pyList struct{ items []any }
	// pyDict is a Python dict or OrderedDict, insertion-ordered.
	pyDict struct {
		keys  []any
		vals  []any
		index map[any]int // hashable key → position
	}
	// pyGlobal is an allowed global (a class or function) named by GLOBAL/STACK_GLOBAL.
	pyGlobal struct {
		kind globalKind
		name string // module.name, for messages
		// dtype of a storage class
		dtype DType
	}
	// storageRef is a storage named by a persistent id; its bytes are found later.
	storageRef struct {
		key      string
		dtype    DType
		typeName string
		numel    int64
		// legacy storage views: the storage is elements [viewOffset, viewOffset+viewNumel)
		// of the root storage named key.
		viewOffset int64
		viewNumel  int64 // -1: the whole storage
	}
	// tensorRef is a tensor rebuilt by _rebuild_tensor_v2 (or a Parameter around one).
	tensorRef struct {
		storage *storageRef
		offset  int64
		shape   []int64
		strides []int64
	}
)

// pyNone stands for Python's None (a distinct type so that nil never appears on the stack).
type pyNone struct{}

func newDict() *pyDict { return &pyDict{index: map[any]int{}} }

// set inserts or replaces key like a Python dict.
func (d *pyDict) set(key, val any) error {
	h, ok := hashKey(key)
	if !ok {
		return fmt.Errorf("unsupported dict key of type %s", typeName(key))
	}
	if i, ok := d.index[h]; ok {
		d.vals[i] = val
		return nil
	}
	d.index[h] = len(d.keys)
	d.keys = append(d.keys, key)
	d.vals = append(d.vals, val)
	return nil
}

type bigKey string

// hashKey maps the scalar key types a checkpoint uses to comparable Go values. Containers
// are refused on purpose: hashing them could cost time exponential in the input size.
func hashKey(k any) (any, bool) {
	switch v := k.(type) {
	case string:
		return v, true
	case int64:
		return v, true
	case bool: // True == 1 in Python
		if v {
			return int64(1), true
		}
		return int64(0), true
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1<<62 {
			return int64(v), true
		}
		return v, true
	case *big.Int:
		return bigKey(v.String()), true
	case pyNone:
		return v, true
	}
	return nil, false
}

func typeName(v any) string {
	switch v := v.(type) {
	case pyNone:
		return "None"
	case bool:
		return "bool"
	case int64, *big.Int:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case []byte:
		return "bytes"
	case pyTuple:
		return "tuple"
	case *pyList:
		return "list"
	case *pyDict:
		return "dict"
	case *pyGlobal:
		return v.name
	case *storageRef:
		return "storage"
	case *tensorRef:
		return "tensor"
	}
	return fmt.Sprintf("%T", v)
}

// Limits that keep a hostile pickle from taking unbounded memory or time. Every value the
// machine builds costs at least one input byte, so memory is linear in the input, and these
// caps bound it further.
const (
	maxPickleSize = 256 << 20 // data.pkl
	maxStack      = 1 << 20
	maxMarks      = 1 << 16
	maxMemo       = 1 << 20
	maxBigIntLen  = 1 << 10 // bytes of a LONG1/LONG4 integer
)

// errPickle is wrapped by malformed-pickle errors (and so matches ErrInvalid).
var errPickle = fmt.Errorf("%w: bad pickle", ErrInvalid)

// unpickler runs one pickle program from data[pos:] until STOP.
type unpickler struct {
	data  []byte
	pos   int
	stack []any
	marks []int
	memo  map[uint32]any
	// persistentLoad turns a persistent id into a value (a storageRef).
	persistentLoad func(pid any) (any, error)
}

func newUnpickler(data []byte, pos int, persistentLoad func(pid any) (any, error)) *unpickler {
	return &unpickler{data: data, pos: pos, memo: map[uint32]any{}, persistentLoad: persistentLoad}
}

// load runs the program and returns the value left by STOP.
func (u *unpickler) load() (result any, err error) {
	for {
		if u.pos >= len(u.data) {
			return nil, fmt.Errorf("%w: unexpected end of data at offset %d (no STOP)", errPickle, u.pos)
		}
		opPos := u.pos
		op := u.data[u.pos]
		u.pos++
		done, err := u.step(op)
		if err != nil {
			if errors.Is(err, ErrForbiddenGlobal) || errors.Is(err, ErrUnsupported) {
				return nil, err
			}
			return nil, fmt.Errorf("offset %d, opcode 0x%02x: %w", opPos, op, err)
		}
		if done {
			if len(u.stack) != 1 || len(u.marks) != 0 {
				return nil, fmt.Errorf("%w: STOP with %d values and %d marks on the stack", errPickle, len(u.stack), len(u.marks))
			}
			return u.stack[0], nil
		}
	}
}

func (u *unpickler) read(n int) ([]byte, error) {
	if n < 0 || n > len(u.data)-u.pos {
		return nil, fmt.Errorf("%w: %d bytes wanted at offset %d, %d left", errPickle, n, u.pos, len(u.data)-u.pos)
	}
	b := u.data[u.pos : u.pos+n]
	u.pos += n
	return b, nil
}

func (u *unpickler) readLine() (string, error) {
	for i := u.pos; i < len(u.data); i++ {
		if u.data[i] == '\n' {
			s := string(u.data[u.pos:i])
			u.pos = i + 1
			return s, nil
		}
	}
	return "", fmt.Errorf("%w: unterminated line at offset %d", errPickle, u.pos)
}

func (u *unpickler) readUint(n int) (uint64, error) {
	b, err := u.read(n)
	if err != nil {
		return 0, err
	}
	var v uint64
	for i := n - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v, nil
}

// readSized reads a length field of n bytes, then that many bytes.
func (u *unpickler) readSized(n int) ([]byte, error) {
	l, err := u.readUint(n)
	if err != nil {
		return nil, err
	}
	if l > uint64(len(u.data)-u.pos) {
		return nil, fmt.Errorf("%w: length %d at offset %d exceeds the %d bytes left", errPickle, l, u.pos, len(u.data)-u.pos)
	}
	return u.read(int(l))
}

func (u *unpickler) push(v any) error {
	if len(u.stack) >= maxStack {
		return fmt.Errorf("%w: stack deeper than %d", errPickle, maxStack)
	}
	u.stack = append(u.stack, v)
	return nil
}

func (u *unpickler) pop() (any, error) {
	base := 0
	if len(u.marks) > 0 {
		base = u.marks[len(u.marks)-1]
	}
	if len(u.stack) <= base {
		return nil, fmt.Errorf("%w: stack underflow", errPickle)
	}
	v := u.stack[len(u.stack)-1]
	u.stack = u.stack[:len(u.stack)-1]
	return v, nil
}

func (u *unpickler) top() (any, error) {
	base := 0
	if len(u.marks) > 0 {
		base = u.marks[len(u.marks)-1]
	}
	if len(u.stack) <= base {
		return nil, fmt.Errorf("%w: stack underflow", errPickle)
	}
	return u.stack[len(u.stack)-1], nil
}

// popMark pops everything above the last mark, and the mark.
func (u *unpickler) popMark() ([]any, error) {
	if len(u.marks) == 0 {
		return nil, fmt.Errorf("%w: no MARK", errPickle)
	}
	m := u.marks[len(u.marks)-1]
	u.marks = u.marks[:len(u.marks)-1]
	items := append([]any(nil), u.stack[m:]...)
	u.stack = u.stack[:m]
	return items, nil
}

func (u *unpickler) memoPut(idx uint64) error {
	v, err := u.top()
	if err != nil {
		return err
	}
	if idx > math.MaxUint32 {
		return fmt.Errorf("%w: memo index %d", errPickle, idx)
	}
	if _, ok := u.memo[uint32(idx)]; !ok && len(u.memo) >= maxMemo {
		return fmt.Errorf("%w: more than %d memo entries", errPickle, maxMemo)
	}
	u.memo[uint32(idx)] = v
	return nil
}

func (u *unpickler) memoGet(idx uint64) error {
	v, ok := u.memo[uint32(idx)]
	if !ok || idx > math.MaxUint32 {
		return fmt.Errorf("%w: memo index %d not set", errPickle, idx)
	}
	return u.push(v)
}

// decodeLong decodes a little-endian two's-complement integer (LONG1/LONG4).
func decodeLong(b []byte) any {
	if len(b) == 0 {
		return int64(0)
	}
	if len(b) <= 8 {
		var v uint64
		for i := len(b) - 1; i >= 0; i-- {
			v = v<<8 | uint64(b[i])
		}
		shift := uint(64 - 8*len(b))
		return int64(v<<shift) >> shift // sign-extend
	}
	be := make([]byte, len(b))
	for i := range b {
		be[len(b)-1-i] = b[i]
	}
	n := new(big.Int).SetBytes(be)
	if b[len(b)-1]&0x80 != 0 {
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	if n.IsInt64() {
		return n.Int64()
	}
	return n
}

// lengthFieldSize is the size of the length field of a string or bytes opcode.
func lengthFieldSize(op byte) int {
	switch op {
	case 0x8c, 'U', 'C': // SHORT_BINUNICODE, SHORT_BINSTRING, SHORT_BINBYTES
		return 1
	case 0x8d, 0x8e: // BINUNICODE8, BINBYTES8
		return 8
	}
	return 4 // BINUNICODE, BINSTRING, BINBYTES
}

// step executes one opcode. done is true after STOP.
func (u *unpickler) step(op byte) (done bool, err error) {
	switch op {
	case 0x80: // PROTO
		v, err := u.readUint(1)
		if err != nil {
			return false, err
		}
		if v > 5 {
			return false, fmt.Errorf("%w: pickle protocol %d", ErrUnsupported, v)
		}
	case 0x95: // FRAME: framing is only a buffering hint
		if _, err := u.readUint(8); err != nil {
			return false, err
		}
	case '.': // STOP
		return true, nil
	case '(': // MARK
		if len(u.marks) >= maxMarks {
			return false, fmt.Errorf("%w: more than %d nested marks", errPickle, maxMarks)
		}
		u.marks = append(u.marks, len(u.stack))
	case '0': // POP
		_, err = u.pop()
	case '1': // POP_MARK
		_, err = u.popMark()
	case '2': // DUP
		var v any
		if v, err = u.top(); err == nil {
			err = u.push(v)
		}
	case 'N': // NONE
		err = u.push(pyNone{})
	case 0x88: // NEWTRUE
		err = u.push(true)
	case 0x89: // NEWFALSE
		err = u.push(false)
	case 'J': // BININT
		var v uint64
		if v, err = u.readUint(4); err == nil {
			err = u.push(int64(int32(uint32(v))))
		}
	case 'K': // BININT1
		var v uint64
		if v, err = u.readUint(1); err == nil {
			err = u.push(int64(v))
		}
	case 'M': // BININT2
		var v uint64
		if v, err = u.readUint(2); err == nil {
			err = u.push(int64(v))
		}
	case 0x8a, 0x8b: // LONG1, LONG4
		n := 1
		if op == 0x8b {
			n = 4
		}
		var l uint64
		if l, err = u.readUint(n); err != nil {
			return false, err
		}
		if l > maxBigIntLen {
			return false, fmt.Errorf("%w: integer of %d bytes", errPickle, l)
		}
		var b []byte
		if b, err = u.read(int(l)); err == nil {
			err = u.push(decodeLong(b))
		}
	case 'G': // BINFLOAT (big-endian)
		var b []byte
		if b, err = u.read(8); err == nil {
			err = u.push(math.Float64frombits(binary.BigEndian.Uint64(b)))
		}
	case 'X', 0x8c, 0x8d, 'T', 'U': // BINUNICODE, SHORT_BINUNICODE, BINUNICODE8, BINSTRING, SHORT_BINSTRING
		n := lengthFieldSize(op)
		var b []byte
		if b, err = u.readSized(n); err == nil {
			err = u.push(string(b))
		}
	case 'B', 'C', 0x8e: // BINBYTES, SHORT_BINBYTES, BINBYTES8
		n := lengthFieldSize(op)
		var b []byte
		if b, err = u.readSized(n); err == nil {
			err = u.push(append([]byte(nil), b...))
		}
	case ')': // EMPTY_TUPLE
		err = u.push(pyTuple{})
	case 't': // TUPLE
		var items []any
		if items, err = u.popMark(); err == nil {
			err = u.push(pyTuple(items))
		}
	case 0x85, 0x86, 0x87: // TUPLE1, TUPLE2, TUPLE3
		n := int(op-0x85) + 1
		items := make(pyTuple, n)
		for i := n - 1; i >= 0; i-- {
			if items[i], err = u.pop(); err != nil {
				return false, err
			}
		}
		err = u.push(items)
	case ']': // EMPTY_LIST
		err = u.push(&pyList{})
	case 'l': // LIST
		var items []any
		if items, err = u.popMark(); err == nil {
			err = u.push(&pyList{items: items})
		}
	case 'a', 'e': // APPEND, APPENDS
		var items []any
		if op == 'a' {
			var v any
			if v, err = u.pop(); err != nil {
				return false, err
			}
			items = []any{v}
		} else if items, err = u.popMark(); err != nil {
			return false, err
		}
		var t any
		if t, err = u.top(); err != nil {
			return false, err
		}
		l, ok := t.(*pyList)
		if !ok {
			return false, fmt.Errorf("%w: APPEND to a %s", errPickle, typeName(t))
		}
		l.items = append(l.items, items...)
	case '}': // EMPTY_DICT
		err = u.push(newDict())
	case 'd', 's', 'u': // DICT, SETITEM, SETITEMS
		var items []any
		switch op {
		case 's':
			var k, v any
			if v, err = u.pop(); err == nil {
				k, err = u.pop()
			}
			items = []any{k, v}
		default:
			items, err = u.popMark()
		}
		if err != nil {
			return false, err
		}
		if len(items)%2 != 0 {
			return false, fmt.Errorf("%w: odd number of dict items", errPickle)
		}
		var d *pyDict
		if op == 'd' {
			d = newDict()
			if err = u.push(d); err != nil {
				return false, err
			}
		} else {
			var t any
			if t, err = u.top(); err != nil {
				return false, err
			}
			var ok bool
			if d, ok = t.(*pyDict); !ok {
				return false, fmt.Errorf("%w: SETITEM on a %s", errPickle, typeName(t))
			}
		}
		for i := 0; i < len(items); i += 2 {
			if err = d.set(items[i], items[i+1]); err != nil {
				return false, fmt.Errorf("%w: %v", errPickle, err)
			}
		}
	case 'c': // GLOBAL module\nname\n
		var mod, name string
		if mod, err = u.readLine(); err != nil {
			return false, err
		}
		if name, err = u.readLine(); err != nil {
			return false, err
		}
		var g *pyGlobal
		if g, err = lookupGlobal(mod, name); err == nil {
			err = u.push(g)
		}
	case 0x93: // STACK_GLOBAL
		var m, n any
		if n, err = u.pop(); err == nil {
			m, err = u.pop()
		}
		if err != nil {
			return false, err
		}
		mod, ok1 := m.(string)
		name, ok2 := n.(string)
		if !ok1 || !ok2 {
			return false, fmt.Errorf("%w: STACK_GLOBAL needs two strings", errPickle)
		}
		var g *pyGlobal
		if g, err = lookupGlobal(mod, name); err == nil {
			err = u.push(g)
		}
	case 'i': // INST module\nname\n: refuse, naming the class
		var mod, name string
		if mod, err = u.readLine(); err != nil {
			return false, err
		}
		if name, err = u.readLine(); err != nil {
			return false, err
		}
		if _, err = lookupGlobal(mod, name); err != nil {
			return false, err
		}
		return false, fmt.Errorf("%w: opcode INST", ErrUnsupported)
	case 'R': // REDUCE
		var f, args any
		if args, err = u.pop(); err == nil {
			f, err = u.pop()
		}
		if err != nil {
			return false, err
		}
		g, ok := f.(*pyGlobal)
		if !ok {
			return false, fmt.Errorf("%w: REDUCE calls a %s", errPickle, typeName(f))
		}
		a, ok := args.(pyTuple)
		if !ok {
			return false, fmt.Errorf("%w: REDUCE arguments are a %s", errPickle, typeName(args))
		}
		var v any
		if v, err = call(g, a); err == nil {
			err = u.push(v)
		}
	case 0x81, 0x92: // NEWOBJ, NEWOBJ_EX
		var cls, args any
		if op == 0x92 {
			if _, err = u.pop(); err != nil { // kwargs
				return false, err
			}
		}
		if args, err = u.pop(); err == nil {
			cls, err = u.pop()
		}
		if err != nil {
			return false, err
		}
		g, ok := cls.(*pyGlobal)
		if !ok || g.kind != globalOrderedDict {
			return false, fmt.Errorf("%w: NEWOBJ of a %s", errPickle, typeName(cls))
		}
		if a, ok := args.(pyTuple); !ok || len(a) != 0 {
			return false, fmt.Errorf("%w: NEWOBJ OrderedDict with arguments", errPickle)
		}
		err = u.push(newDict())
	case 'b': // BUILD: attribute state is not needed by a state dict
		var state, obj any
		if state, err = u.pop(); err == nil {
			obj, err = u.top()
		}
		if err != nil {
			return false, err
		}
		_ = state
		switch obj.(type) {
		case *pyDict, *tensorRef:
			// OrderedDict._metadata of a module state dict; Parameter state.
		default:
			return false, fmt.Errorf("%w: BUILD on a %s", errPickle, typeName(obj))
		}
	case 'Q': // BINPERSID
		var pid any
		if pid, err = u.pop(); err != nil {
			return false, err
		}
		if u.persistentLoad == nil {
			return false, fmt.Errorf("%w: persistent id without a storage table", errPickle)
		}
		var v any
		if v, err = u.persistentLoad(pid); err == nil {
			err = u.push(v)
		}
	case 'q': // BINPUT
		var i uint64
		if i, err = u.readUint(1); err == nil {
			err = u.memoPut(i)
		}
	case 'r': // LONG_BINPUT
		var i uint64
		if i, err = u.readUint(4); err == nil {
			err = u.memoPut(i)
		}
	case 0x94: // MEMOIZE
		err = u.memoPut(uint64(len(u.memo)))
	case 'h': // BINGET
		var i uint64
		if i, err = u.readUint(1); err == nil {
			err = u.memoGet(i)
		}
	case 'j': // LONG_BINGET
		var i uint64
		if i, err = u.readUint(4); err == nil {
			err = u.memoGet(i)
		}
	default:
		return false, fmt.Errorf("%w: unsupported opcode 0x%02x (%s)", errPickle, op, strconv.QuoteRune(rune(op)))
	}
	return false, err
}

// globalKind says what an allowed global is.
type globalKind int

const (
	globalOrderedDict globalKind = iota + 1
	globalRebuildTensorV2
	globalRebuildParameter
	globalRebuildParameterWithState
	globalStorage
	globalRebuildFromTypeV2
	globalTensorClass
)

// lookupGlobal is the allowlist: the only globals a state dict needs. Anything else is
// refused with ErrForbiddenGlobal (or ErrUnsupported for tensor kinds this reader cannot
// represent), before anything could be called.
func lookupGlobal(module, name string) (*pyGlobal, error) {
	full := module + "." + name
	g := &pyGlobal{name: full}
	switch full {
	case "collections.OrderedDict":
		g.kind = globalOrderedDict
	case "torch._utils._rebuild_tensor_v2":
		g.kind = globalRebuildTensorV2
	case "torch._utils._rebuild_parameter":
		g.kind = globalRebuildParameter
	case "torch._utils._rebuild_parameter_with_state":
		g.kind = globalRebuildParameterWithState
	case "torch._tensor._rebuild_from_type_v2":
		g.kind = globalRebuildFromTypeV2
	case "torch.Tensor", "torch.nn.parameter.Parameter":
		g.kind = globalTensorClass // only as _rebuild_from_type_v2's new_type
	default:
		if dt := storageDType(module, name); dt != "" {
			g.kind = globalStorage
			g.dtype = dt
			return g, nil
		}
		if module == "torch" && strings.HasSuffix(name, "Storage") ||
			module == "torch._utils" && strings.HasPrefix(name, "_rebuild_") ||
			module == "torch._tensor" && strings.HasPrefix(name, "_rebuild_") {
			return nil, fmt.Errorf("%w: global %s (complex, quantized, sparse and other special tensors are not supported)", ErrUnsupported, full)
		}
		return nil, fmt.Errorf("%w %s", ErrForbiddenGlobal, full)
	}
	return g, nil
}

// storageDType maps a torch storage class to its element type.
func storageDType(module, name string) DType {
	if module != "torch" {
		return ""
	}
	switch name {
	case "DoubleStorage":
		return F64
	case "FloatStorage":
		return F32
	case "HalfStorage":
		return F16
	case "BFloat16Storage":
		return BF16
	case "LongStorage":
		return I64
	case "IntStorage":
		return I32
	case "ShortStorage":
		return I16
	case "CharStorage":
		return I8
	case "ByteStorage", "UntypedStorage":
		return U8
	case "BoolStorage":
		return BOOL
	}
	return ""
}

// call applies an allowed global to its arguments (REDUCE).
func call(g *pyGlobal, args pyTuple) (any, error) {
	switch g.kind {
	case globalOrderedDict:
		if len(args) != 0 {
			return nil, fmt.Errorf("%w: OrderedDict with %d arguments", errPickle, len(args))
		}
		return newDict(), nil
	case globalRebuildTensorV2:
		// (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
		if len(args) != 6 && len(args) != 7 {
			return nil, fmt.Errorf("%w: _rebuild_tensor_v2 with %d arguments", errPickle, len(args))
		}
		st, ok := args[0].(*storageRef)
		if !ok {
			return nil, fmt.Errorf("%w: _rebuild_tensor_v2 storage is a %s", errPickle, typeName(args[0]))
		}
		off, ok := args[1].(int64)
		if !ok || off < 0 {
			return nil, fmt.Errorf("%w: _rebuild_tensor_v2 storage offset %v", errPickle, args[1])
		}
		shape, err := intTuple(args[2])
		if err != nil {
			return nil, fmt.Errorf("%w: _rebuild_tensor_v2 size: %v", errPickle, err)
		}
		strides, err := intTuple(args[3])
		if err != nil {
			return nil, fmt.Errorf("%w: _rebuild_tensor_v2 stride: %v", errPickle, err)
		}
		if len(shape) != len(strides) {
			return nil, fmt.Errorf("%w: _rebuild_tensor_v2 size %v and stride %v differ in rank", errPickle, shape, strides)
		}
		return &tensorRef{storage: st, offset: off, shape: shape, strides: strides}, nil
	case globalRebuildParameter, globalRebuildParameterWithState:
		// (data, requires_grad, backward_hooks[, state])
		want := 3
		if g.kind == globalRebuildParameterWithState {
			want = 4
		}
		if len(args) != want {
			return nil, fmt.Errorf("%w: %s with %d arguments", errPickle, g.name, len(args))
		}
		t, ok := args[0].(*tensorRef)
		if !ok {
			return nil, fmt.Errorf("%w: %s of a %s", errPickle, g.name, typeName(args[0]))
		}
		return t, nil
	case globalRebuildFromTypeV2:
		// (func, new_type, args, state): torch 2.x uses it for a tensor carrying Python
		// attributes; the attributes (state) are dropped.
		if len(args) != 4 {
			return nil, fmt.Errorf("%w: %s with %d arguments", errPickle, g.name, len(args))
		}
		fn, ok := args[0].(*pyGlobal)
		if !ok || fn.kind == globalRebuildFromTypeV2 || fn.kind == globalOrderedDict {
			return nil, fmt.Errorf("%w: %s of a %s", errPickle, g.name, typeName(args[0]))
		}
		if cls, ok := args[1].(*pyGlobal); !ok || cls.kind != globalTensorClass {
			return nil, fmt.Errorf("%w: %s to type %s", errPickle, g.name, typeName(args[1]))
		}
		inner, ok := args[2].(pyTuple)
		if !ok {
			return nil, fmt.Errorf("%w: %s arguments are a %s", errPickle, g.name, typeName(args[2]))
		}
		t, err := call(fn, inner)
		if err != nil {
			return nil, err
		}
		if _, ok := t.(*tensorRef); !ok {
			return nil, fmt.Errorf("%w: %s did not rebuild a tensor", errPickle, g.name)
		}
		return t, nil
	}
	return nil, fmt.Errorf("%w: %s is not callable", errPickle, g.name)
}

// intTuple converts a tuple (or list) of Python ints to []int64.
func intTuple(v any) ([]int64, error) {
	var items []any
	switch t := v.(type) {
	case pyTuple:
		items = t
	case *pyList:
		items = t.items
	default:
		return nil, fmt.Errorf("a %s, want a tuple of ints", typeName(v))
	}
	out := make([]int64, len(items))
	for i, it := range items {
		n, ok := it.(int64)
		if !ok {
			return nil, fmt.Errorf("element %d is a %s, want an int", i, typeName(it))
		}
		out[i] = n
	}
	return out, nil
}
