package safetensors

import (
	"testing"

	"github.com/prsmed/prsmed-go/torch/internal/weighttest"
)

// checkTensor validates a tensor and compares it with the expected values that
// third_party/golden/weightfiles.py wrote (package weighttest holds the check).
func checkTensor(t *testing.T, name string, got Tensor, want weighttest.Expected) {
	t.Helper()
	weighttest.CheckTensor(t, name, weighttest.Raw{Invalid: got.Validate(), DType: string(got.DType), Shape: got.Shape, Strides: got.Strides, Offset: got.Offset, Data: got.Data}, want)
}
