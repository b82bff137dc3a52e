//go:build !torchenv

package shim

// Debian 12's libtorch-dev (1.13, CPU): ATen and c10 headers are on the default include
// path; only the C++ API headers (torch/version.h) need this directory.

// #cgo CXXFLAGS: -I/usr/include/torch/csrc/api/include
import "C"
