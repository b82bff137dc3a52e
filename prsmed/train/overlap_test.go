package train_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/prsmed/prsmed-go/prsmed/data/synth"
	"github.com/prsmed/prsmed-go/prsmed/train"
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

// TestOverlapTiming measures, when PRSMED_BENCH_OVERLAP is set to a number of rounds, the
// step time of two ranks (Gloo on 127.0.0.1, one thread each) training stage 0 then stage 1
// of the tiny preset with two micro-batches per rank, with the overlapping reducer and
// with the after-backward all-reduce, alternating the two in each round. It logs the median
// and range of the mean step time of rank 0 over the rounds.
//
//	PRSMED_BENCH_OVERLAP=5 go test -count=1 -v -run TestOverlapTiming ./prsmed/train/
func TestOverlapTiming(t *testing.T) {
	rounds, _ := strconv.Atoi(os.Getenv("PRSMED_BENCH_OVERLAP"))
	if rounds <= 0 {
		t.Skip("set PRSMED_BENCH_OVERLAP to a number of rounds to measure")
	}
	root := filepath.Join(t.TempDir(), "posmed")
	if err := synth.Generate(root, synth.Config{N: 12, Size: 64, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	names := []string{"stage01acc", "stage01acc-nosync"}
	times := map[string][]float64{}
	for r := 0; r < rounds; r++ {
		order := names
		if r%2 == 1 {
			order = []string{names[1], names[0]}
		}
		for _, name := range order {
			out := t.TempDir()
			startRanks(t, ctx, ddpLaunch{world: 2}, name, root, out)()
			raw, err := os.ReadFile(filepath.Join(out, "rank0.json"))
			if err != nil {
				t.Fatal(err)
			}
			var h []train.EpochStats
			if err := json.Unmarshal(raw, &h); err != nil {
				t.Fatal(err)
			}
			var secs float64
			steps := 0
			for _, e := range h {
				secs += e.Seconds
				steps += e.Steps
			}
			times[name] = append(times[name], secs/float64(steps)*1000)
		}
	}
	for _, name := range names {
		v := slices.Clone(times[name])
		slices.Sort(v)
		t.Logf("%s: step %.0f ms median, %.0f–%.0f ms over %d rounds (%v)", name, v[len(v)/2], v[0], v[len(v)-1], len(v), times[name])
	}
}
