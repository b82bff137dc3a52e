package pth

import (
	"slices"
	"testing"

	"github.com/prsmed/prsmed-go/torch/internal/weighttest"
)

// The shared expected values and checks live in package weighttest.

var weightDir = weighttest.Dir

type expectedTensor = weighttest.Expected

func loadExpected(t *testing.T, file string) map[string]expectedTensor {
	t.Helper()
	return weighttest.LoadExpected(t, file)
}

func checkTensor(t *testing.T, name string, got Tensor, want expectedTensor) {
	t.Helper()
	if err := got.Validate(); err != nil {
		t.Errorf("%s: %v", name, err)
		return
	}
	weighttest.CheckTensor(t, name, weighttest.Raw{DType: string(got.DType), Shape: got.Shape, Strides: got.Strides, Offset: got.Offset, Data: got.Data}, want)
}

func equalShape(a, b []int64) bool { return slices.Equal(a, b) }

func sortedKeys[V any](m map[string]V) []string { return weighttest.SortedKeys(m) }

func equalStrings(a, b []string) bool { return slices.Equal(a, b) }
