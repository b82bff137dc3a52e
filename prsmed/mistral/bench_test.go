package mistral_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/prsmed/mistral"
	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/torch/torchtest"
)

// benchConfigs are the sizes of BENCHMARKS.md: the tiny test model and a ~100M-parameter
// model (hidden 768, 12 layers, 12 heads / 4 KV heads, MLP 2048, vocab 32000); compare with
// third_party/bench/mistral_bench.py at the same thread count (BENCH_THREADS, default 2;
// third_party/bench/interleave_models.py runs the two alternately).
var benchConfigs = map[string]mistral.Config{
	"tiny": {VocabSize: 97, HiddenSize: 64, IntermediateSize: 128, NumHiddenLayers: 2, NumAttentionHeads: 4,
		NumKeyValueHeads: 2, RMSNormEps: 1e-6, RopeTheta: 10000, MaxPositions: 4096, EOSTokenID: 2, HiddenAct: "silu"},
	"100M": {VocabSize: 32000, HiddenSize: 768, IntermediateSize: 2048, NumHiddenLayers: 12, NumAttentionHeads: 12,
		NumKeyValueHeads: 4, RMSNormEps: 1e-5, RopeTheta: 1e6, MaxPositions: 4096, EOSTokenID: 2, HiddenAct: "silu"},
}

// benchModel locks the benchmark to its OS thread (one OpenMP team, see prsmed's
// benchmarks), builds the named model with N(0, 0.02) weights and returns it with an
// eval-mode no-grad scope; both are closed when the benchmark ends.
func benchModel(b *testing.B, name string) (*mistral.Model, *torch.Scope) {
	runtime.LockOSThread()
	b.Cleanup(runtime.UnlockOSThread)
	torch.SetNumThreads(torchtest.BenchThreads(2))
	st := nn.NewStore(torch.CPU)
	b.Cleanup(st.Close)
	m, err := mistral.New(st.Root(), benchConfigs[name])
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range st.Entries() {
		e.Tensor.NormalFill(0, 0.02, nil)
	}
	s := torch.NewScope(torch.CPU).Eval().NoGrad()
	b.Cleanup(s.Close)
	return m, s
}

// BenchmarkPrefill times a forward over a 128-token prompt (tokens/s = 128 / time).
func BenchmarkPrefill(b *testing.B) {
	for _, name := range []string{"tiny", "100M"} {
		b.Run(name, func(b *testing.B) {
			m, s := benchModel(b, name)
			ids := torch.Randint(s, nil, 3, 90, 1, 128)
			m.Forward(s, mistral.Input{IDs: ids, Logits: mistral.LogitsLast}) // untimed, as the PyTorch side
			done := torchtest.CPUPerOp(b)
			for i := 0; i < b.N; i++ {
				c := s.Child()
				m.Forward(c, mistral.Input{IDs: ids, Logits: mistral.LogitsLast})
				c.Close()
			}
			done()
			b.ReportMetric(128*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}

// BenchmarkDecode times greedy generation of 32 tokens after a 16-token prompt with the
// KV cache (tokens/s = 32 / time).
func BenchmarkDecode(b *testing.B) {
	for _, name := range []string{"tiny", "100M"} {
		b.Run(name, func(b *testing.B) {
			m, s := benchModel(b, name)
			ids := torch.Randint(s, nil, 3, 90, 1, 16)
			gen := func() {
				out, err := m.Generate(context.Background(), s, mistral.Prompt{IDs: ids}, mistral.GenerateOptions{MaxNewTokens: 32, EOS: -1})
				if err != nil || len(out[0]) != 32 {
					b.Fatal(err, fmt.Sprint(len(out[0])))
				}
			}
			gen() // untimed (the PyTorch side times its decoding after its prefill runs)
			done := torchtest.CPUPerOp(b)
			for i := 0; i < b.N; i++ {
				gen()
			}
			done()
			b.ReportMetric(32*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}
