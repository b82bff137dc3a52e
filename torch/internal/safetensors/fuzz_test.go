package safetensors

import (
	"testing"

	"github.com/prsmed/prsmed-go/torch/internal/weighttest"
)

// FuzzOpen writes each input to a file and opens it: no input may panic, and whatever
// opens must hand out only valid, in-bounds tensors.
func FuzzOpen(f *testing.F) {
	f.Add(file(`{}`, nil))
	f.Add(file(`{"__metadata__":{"a":"b"},"x":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}`, make([]byte, 4)))
	seeds := []string{
		"dtypes.safetensors",
		"sharded/model-00001-of-00002.safetensors",
		"sharded/model-00002-of-00002.safetensors",
	}
	weighttest.FuzzFiles(f, ".safetensors", seeds, func(t *testing.T, p string) {
		sf, err := Open(p)
		if err != nil {
			return
		}
		defer sf.Close()
		weighttest.ValidListed(t, sf, func(n string, tn Tensor) {
			b, ok := tn.Bytes()
			if !ok || len(b) != len(tn.Data) {
				t.Fatalf("%q: Bytes() = %d bytes, %v", n, len(b), ok)
			}
			if len(b) > 0 {
				_ = b[0] + b[len(b)-1] // touch the mapping at both ends
			}
		})
	})
}
