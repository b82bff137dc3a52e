//go:build !torchenv

package shim

// Debian 12's libtorch-dev (1.13, CPU): ATen and c10 headers are on the default include
// path; only the C++ API headers (torch/version.h) need this directory. The C++ standard is
// set here because it depends on the libtorch (2.10 and later need C++20; torchenv.sh picks it).

// #cgo CXXFLAGS: -std=c++17 -I/usr/include/torch/csrc/api/include
import "C"
