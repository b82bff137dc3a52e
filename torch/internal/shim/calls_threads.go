package shim

/*
#include "shim.h"
*/
import "C"

// SetThreadNumThreads sets the calling OS thread's own intra-op thread count (0: the
// process-wide count).
func SetThreadNumThreads(n int) { C.tt_set_thread_num_threads(C.int(n)) }
