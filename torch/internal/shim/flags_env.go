//go:build torchenv

package shim

// With the torchenv tag the include and library paths come from CGO_CXXFLAGS and
// CGO_LDFLAGS, as printed by third_party/libtorch/torchenv.sh for an installed PyTorch 2.x,
// the C++ standard (-std=c++17 or -std=c++20, as that libtorch's headers require) included.
