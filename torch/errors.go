package torch

import (
	"errors"
	"fmt"
	"strings"

	"github.com/prsmed/prsmed-go/torch/internal/shim"
)

// Sentinel errors; a *Error matches them with errors.Is.
var (
	ErrOutOfMemory = errors.New("torch: out of memory")
	ErrShape       = errors.New("torch: shape mismatch")
	ErrDType       = errors.New("torch: wrong dtype")
	ErrIndex       = errors.New("torch: index out of range")
	ErrFreed       = errors.New("torch: use of a freed tensor")
	ErrDevice      = errors.New("torch: device not available")
	// ErrInvalid is an argument that a layer or model rejects before libtorch sees it (a
	// missing input, an option the code does not implement).
	ErrInvalid = errors.New("torch: invalid argument")
	// ErrNoMode is a mode-dependent layer (BatchNorm, Dropout, ...) run in a scope that
	// neither Train nor Eval opened (see Scope.Training).
	ErrNoMode = errors.New("torch: scope has no training mode")
)

// Error is an op that libtorch (or this package) rejected.
type Error struct {
	Op   string // the op's name, e.g. "matmul"
	Code int    // the shim's status code
	Msg  string // libtorch's message without its C++ backtrace
	kind error  // the sentinel it matches, if any
}

func (e *Error) Error() string { return fmt.Sprintf("torch: %s: %s", e.Op, e.Msg) }

// Is matches the sentinel errors.
func (e *Error) Is(target error) bool { return target != nil && e.kind == target }

// Unwrap gives the sentinel the error matches, if any.
func (e *Error) Unwrap() error { return e.kind }

func classify(code int, msg string) error {
	m := strings.ToLower(msg)
	switch {
	case code == shim.CodeOOM, strings.Contains(m, "not enough memory"), strings.Contains(m, "out of memory"):
		return ErrOutOfMemory
	case code == shim.CodeIndex, strings.Contains(m, "out of range"), strings.Contains(m, "bounds"):
		return ErrIndex
	case code == shim.CodeType, strings.Contains(m, "expected scalar type"), strings.Contains(m, "dtype"),
		strings.Contains(m, "not implemented for"):
		return ErrDType
	case strings.Contains(m, "shape"), strings.Contains(m, "size of tensor"), strings.Contains(m, "sizes"),
		strings.Contains(m, "dimension"), strings.Contains(m, "must match"), strings.Contains(m, "cannot be multiplied"),
		strings.Contains(m, "expected"):
		return ErrShape
	case strings.Contains(m, "cuda"):
		return ErrDevice
	}
	return nil
}

func newError(op string, err error) *Error {
	var se *shim.Error
	if errors.As(err, &se) {
		return &Error{Op: op, Code: se.Code, Msg: se.Msg, kind: classify(se.Code, se.Msg)}
	}
	return &Error{Op: op, Code: shim.CodeUnknown, Msg: err.Error()}
}

// fail panics with a *Error made in Go (a bad argument caught before libtorch sees it).
func fail(op string, kind error, format string, args ...any) {
	panic(Errorf(op, kind, format, args...))
}

// Errorf makes a *Error for a check made in Go, classified by kind (one of the sentinels
// above, or nil), so that errors.Is(err, kind) holds for the caller.
func Errorf(op string, kind error, format string, args ...any) *Error {
	return &Error{Op: op, Code: shim.CodeErr, Msg: fmt.Sprintf(format, args...), kind: kind}
}

// Fail is how code built on tensor ops (layers, models) rejects its input in the middle of
// a forward pass: it panics with Errorf(op, kind, …), which the public entry point turns
// into a returned error with Recover, as it does for libtorch's own errors.
func Fail(op string, kind error, format string, args ...any) {
	panic(Errorf(op, kind, format, args...))
}

// Recover turns a *Error panic into *err; any other panic goes on. Use it first in a
// function that runs tensor ops and returns an error:
//
//	func (m *Model) Forward(s *torch.Scope, x *torch.Tensor) (y *torch.Tensor, err error) {
//		defer torch.Recover(&err)
//		…
//	}
func Recover(err *error) {
	if r := recover(); r != nil {
		if te, ok := r.(*Error); ok {
			*err = te
			return
		}
		panic(r)
	}
}

// Try runs f and returns the *Error it panicked with, if any.
func Try(f func()) (err error) {
	defer Recover(&err)
	f()
	return nil
}
