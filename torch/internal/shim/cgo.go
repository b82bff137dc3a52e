// Package shim is the only cgo package of prsmed-go: a small, hand-written C surface over
// libtorch (shim.h) and the Go declarations that call it. Package torch wraps it; nothing
// else imports it. It holds no tests, so that editing a test never recompiles the C++.
package shim

/*
#cgo CXXFLAGS: -O2 -Wno-deprecated-declarations
#cgo LDFLAGS: -ltorch -ltorch_cpu -lc10 -lstdc++ -ldl
#include <stdlib.h>
#include "shim.h"
*/
import "C"
