package torch

// KeyedMasks exposes keyed dropout's two mask computations to the tests: the host pass the
// CPU uses and the tensor ops other devices use, for the same row keys and draw.
func KeyedMasks(s *Scope, keys []uint64, n, call int64, p float64) (host, ops *Tensor) {
	return keyedMaskHost(s, keys, n, call, p), keyedMaskOps(s, keys, n, FromSlice(s, []int64{call}), p, CPU)
}
