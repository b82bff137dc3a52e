package train_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/prsmed/prsmed-go/prsmed/data/synth"
	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/torch/dist"
)

// TestOverlapMatchesAfterBackward: two ranks train stage 0 (CLIP's last layer unused) and
// stage 1 with two micro-batches per rank, once with the overlapping dist.Reducer (hooks
// off for the first micro-batch, DDP's no_sync; on for the last) and once averaging after
// backward (Config.DistNoOverlap). Both runs end with bit-identical parameters on both
// ranks: the reducer averages the same accumulated gradients in the same buckets.
func TestOverlapMatchesAfterBackward(t *testing.T) {
	if testing.Short() {
		t.Skip("starts four training processes")
	}
	if !dist.Gloo.Available() {
		t.Skip("this build has no Gloo backend")
	}
	root := filepath.Join(t.TempDir(), "posmed")
	if err := synth.Generate(root, synth.Config{N: 12, Size: 64, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	outs := map[string]string{}
	for _, name := range []string{"stage01acc", "stage01acc-nosync"} {
		outs[name] = t.TempDir()
		startRanks(t, ctx, ddpLaunch{world: 2}, name, root, outs[name])()
	}
	s := torch.NewScope(torch.CPU).Eval()
	defer s.Close()
	compared := 0
	for r := 0; r < 2; r++ {
		file := fmt.Sprintf("rank%d.safetensors", r)
		a, err := torch.OpenWeights(filepath.Join(outs["stage01acc"], file))
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		b, err := torch.OpenWeights(filepath.Join(outs["stage01acc-nosync"], file))
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		for _, n := range a.Names() {
			x, err := a.Load(s, n, torch.KeepDType)
			if err != nil {
				t.Fatal(err)
			}
			y, err := b.Load(s, n, torch.KeepDType)
			if err != nil {
				t.Fatal(err)
			}
			if d := maxAbsDiff(x.Float64s(), y.Float64s()); d != 0 {
				t.Errorf("rank %d %s: overlapped and after-backward reduction differ by %.3g (want bit-identical)", r, n, d)
			}
			compared++
		}
	}
	if compared == 0 {
		t.Fatal("no tensors compared")
	}
}
