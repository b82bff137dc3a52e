package torch

import "github.com/prsmed/prsmed-go/torch/internal/shim"

// ClipGradNormTensor scales the gradients of params so that their global normType-norm (2
// for the Euclidean norm, math.Inf(1) for the max) is at most maxNorm, as
// torch.nn.utils.clip_grad_norm_, entirely on the device: the total norm, the coefficient
// clamp(maxNorm/(total+1e-6), max=1) and the scaling never come back to the host, so the
// call does not wait for the device. It returns the norm before clipping as a 0-d tensor
// in s, on the device of the first gradient, with the gradients' dtype; nil when no
// parameter has a gradient. The per-tensor norms and the scaling use libtorch's
// multi-tensor (_foreach_*) kernels.
func ClipGradNormTensor(s *Scope, params []*Tensor, maxNorm, normType float64) *Tensor {
	return clipGradNorm(s, params, maxNorm, normType, true)
}

func clipGradNorm(s *Scope, params []*Tensor, maxNorm, normType float64, foreach bool) *Tensor {
	if normType == 0 {
		normType = 2
	}
	h, err := shim.ClipGradNormTensor(handles("clip_grad_norm", params), maxNorm, normType, foreach)
	if err != nil {
		panic(newError("clip_grad_norm", err))
	}
	if h.IsNil() {
		return nil
	}
	return s.adopt(h)
}
