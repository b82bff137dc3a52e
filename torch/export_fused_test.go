package torch

// ClipGradNormPerTensor exposes the per-tensor path of ClipGradNormTensor to the tests.
func ClipGradNormPerTensor(s *Scope, params []*Tensor, maxNorm, normType float64) *Tensor {
	return clipGradNorm(s, params, maxNorm, normType, false)
}
