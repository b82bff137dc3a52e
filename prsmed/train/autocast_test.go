package train_test

import (
	"math"
	"testing"

	"github.com/prsmed/prsmed-go/prsmed"
	"github.com/prsmed/prsmed-go/prsmed/prsmedtest"
	"github.com/prsmed/prsmed-go/torch"
)

// TestAutocastTraining: the trainer's Autocast setting reaches the training step. Two
// stage-1 epochs run under bfloat16 autocast keep float32 parameters, and each epoch's loss
// is within 1% of the float32 run's and differs from it. With one intra-op thread a float32
// run repeats bit for bit (checked), so a difference can only come from the bfloat16 matmuls
// and convolutions: if the setting were ignored the losses would be equal and the test fails.
func TestAutocastTraining(t *testing.T) {
	oneThread(t)
	set := synthSet(t, 6).Samples("train")
	type run struct {
		m    *prsmed.Model
		loss []float64
	}
	train := func(dt torch.DType) run {
		m := prsmedtest.TinyModel(t, 2)
		tc := trainCfg("", 2, 0)
		tc.Autocast = dt
		var r run
		r.m = m
		for _, e := range trainOn(t, m, set, tc) {
			r.loss = append(r.loss, e.Loss)
		}
		return r
	}
	plain, again, bf := train(0), train(0), train(torch.BFloat16)
	for _, r := range []run{plain, again, bf} {
		defer r.m.Close()
	}
	for name, x := range bf.m.Store.Tensors() {
		if e, _ := bf.m.Store.Get(name); e.Trainable && x.DType() != torch.Float32 {
			t.Fatalf("%s is %s after autocast training, want float32", name, x.DType())
		}
	}
	if d, at := maxDiff(plain.m, again.m); d != 0 {
		t.Fatalf("two float32 runs differ by %g in %s: the comparison below says nothing", d, at)
	}
	if len(bf.loss) != 2 || len(plain.loss) != 2 {
		t.Fatalf("epochs: %d with autocast, %d without, want 2", len(bf.loss), len(plain.loss))
	}
	d, at := maxDiff(plain.m, bf.m)
	t.Logf("epoch losses %v (float32) vs %v (bf16 autocast); parameters differ by up to %.3g (in %s)", plain.loss, bf.loss, d, at)
	for i := range plain.loss {
		rel := math.Abs(bf.loss[i]-plain.loss[i]) / math.Abs(plain.loss[i])
		if rel == 0 {
			t.Errorf("epoch %d: the autocast loss equals the float32 loss exactly: autocast was not applied", i+1)
		}
		// bfloat16 keeps 8 significant bits (relative rounding 2^-9 ≈ 2e-3 per value);
		// the loss passes through a few such roundings, and one Adam step on bf16
		// gradients in between, so 1% (as in prsmed's one-step test) is the bound.
		if rel > 1e-2 {
			t.Errorf("epoch %d: autocast loss %.6f is %.2g (relative) from float32's %.6f", i+1, bf.loss[i], rel, plain.loss[i])
		}
	}
}
