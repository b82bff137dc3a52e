// Package shim is the only cgo package of prsmed-go: a small, hand-written C surface over
// libtorch (shim.h) and the Go declarations that call it. Package torch wraps it; nothing
// else imports it. It holds no tests, so that editing a test never recompiles the C++.
package shim

// -g1 after cgo's default -g keeps line tables (backtraces and profiles name the shim's
// functions and lines) without full debug information, which half the C++ compile time
// went into (building this package with an empty cache, 2 cores: 43.7 s wall and 76 s of CPU
// with -g, 23.7 s and 41 s with -g1; 2026-12-07).

/*
#cgo CXXFLAGS: -O2 -g1 -Wno-deprecated-declarations
#cgo LDFLAGS: -ltorch -ltorch_cpu -lc10 -lstdc++ -ldl
#include <stdlib.h>
#include "shim.h"
*/
import "C"
