package tinyvit_test

import (
	"testing"

	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/prsmed/tinyvit"
	"github.com/prsmed/prsmed-go/torch"
)

// BenchmarkForward1024 times one eval-mode vit_t forward of a 1024×1024 image on the CPU
// with 2 intra-op threads (compare: third_party/bench/tinyvit_bench.py).
func BenchmarkForward1024(b *testing.B) {
	torch.SetNumThreads(2)
	st := nn.NewStore(torch.CPU)
	defer st.Close()
	enc, err := tinyvit.New(st.Root(), tinyvit.VitT())
	if err != nil {
		b.Fatal(err)
	}
	in := torch.NewScope(torch.CPU)
	defer in.Close()
	x := torch.Randn(in, nil, torch.Float32, 1, 3, 1024, 1024)
	for i := 0; i < b.N; i++ {
		s := torch.NewScope(torch.CPU).NoGrad()
		enc.Forward(s, x)
		s.Close()
	}
}
