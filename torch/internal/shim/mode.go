package shim

/*
#include "shim.h"
*/
import "C"

// Mode is the per-call flags word every op takes as its last argument (TT_MODE_* in
// shim.h): whether the op records autograd history, and whether it runs under CPU or CUDA
// autocast and to which dtype. The shim sets it for the length of the call and restores the
// thread's state after.
type Mode int32

// Mode bits, as in shim.h.
const (
	ModeGrad         Mode = C.TT_MODE_GRAD
	ModeAutocastCPU  Mode = C.TT_MODE_AUTOCAST_CPU
	ModeAutocastCUDA Mode = C.TT_MODE_AUTOCAST_CUDA
	modeDTypeShift        = C.TT_MODE_DTYPE_SHIFT
	// ModeCacheOn is set in a probe's answer if autocast ran with its cast cache on (it never should).
	ModeCacheOn Mode = 1 << 16
)

// GradMode is a Mode that records autograd history when on, without autocast.
func GradMode(on bool) Mode {
	if on {
		return ModeGrad
	}
	return 0
}

// WithAutocast returns m with autocast on for the CPU (cuda false) or CUDA, to the dtype
// with libtorch ScalarType code dtype.
func (m Mode) WithAutocast(cuda bool, dtype int) Mode {
	m &^= ModeAutocastCPU | ModeAutocastCUDA | 0xff<<modeDTypeShift
	if cuda {
		m |= ModeAutocastCUDA
	} else {
		m |= ModeAutocastCPU
	}
	return m | Mode(dtype&0xff)<<modeDTypeShift
}

// AutocastDType is the dtype code carried in m (meaningful when an autocast bit is set).
func (m Mode) AutocastDType() int { return int(m>>modeDTypeShift) & 0xff }

// ProbeMode runs an empty call under m and reports the mode seen inside it.
func ProbeMode(m Mode) (Mode, error) {
	v, err := st(C.tt_mode_probe(C.int(m)))
	return Mode(v), err
}
