package shim

/*
#include "shim.h"
*/
import "C"

// RetainHostMemory sets glibc malloc's mmap threshold, trim threshold and top pad, in
// bytes: 1 when set, 0 when mallopt refused a value, -1 when the C library is not glibc.
func RetainHostMemory(mmapThreshold, trimThreshold, topPad int64) int {
	return int(C.tt_retain_host_memory(C.longlong(mmapThreshold), C.longlong(trimThreshold), C.longlong(topPad)))
}
