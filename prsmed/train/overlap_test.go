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

	"github.com/prsmed/prsmed-go/torch/torchtest"
)

// TestOverlapMatchesAfterBackward: two ranks train stage 0 (CLIP's last layer unused) and
// stage 1 with two micro-batches per rank, with the overlapping dist.Reducer (hooks off for
// the first micro-batch, DDP's no_sync; on for the last) and averaging after backward
// (Config.DistNoOverlap), each with 25 MiB buckets (the tiny model's gradients fit one) and
// with 64 KiB buckets (the hooks start most during backward). Every run ends with
// parameters bit-identical to the after-backward run with 25 MiB buckets, on both ranks:
// the same accumulated gradients are summed (two ranks: one addition, whichever bucket).
func TestOverlapMatchesAfterBackward(t *testing.T) {
	needGloo(t, "starts four training processes")
	root := distData(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	ref := "stage01acc-nosync"
	outs := map[string]string{}
	for _, name := range []string{ref, "stage01acc", "stage01acc-64k", "stage01acc-64k-nosync"} {
		outs[name] = t.TempDir()
		startRanks(t, ctx, ddpLaunch{world: 2}, name, root, outs[name])()
	}
	// With 64 KiB buckets the hooks must have started buckets during the last backward.
	raw, err := os.ReadFile(filepath.Join(outs["stage01acc-64k"], "rank0.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep ddpReport
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	t.Logf("64 KiB buckets: %d buckets, %d started during the last backward", rep.Buckets, rep.Overlapped)
	if rep.Buckets < 2 || rep.Overlapped < 1 {
		t.Errorf("64 KiB buckets: %d buckets, %d started during backward: no overlap", rep.Buckets, rep.Overlapped)
	}
	compared := 0
	for name, dir := range outs {
		if name == ref {
			continue
		}
		for r := 0; r < 2; r++ {
			file := fmt.Sprintf("rank%d.safetensors", r)
			torchtest.WeightPairs(t, filepath.Join(dir, file), filepath.Join(outs[ref], file), func(n string, x, y []float64) {
				if d := maxAbsDiff(x, y); d != 0 {
					t.Errorf("%s rank %d %s: differs from %s by %.3g (want bit-identical)", name, r, n, ref, d)
				}
				compared++
			})
		}
	}
	if compared == 0 {
		t.Fatal("no tensors compared")
	}
}

// BenchmarkOverlapTiming measures, over PRSMED_BENCH_OVERLAP rounds (default 5), the
// step time of two ranks (Gloo on 127.0.0.1, one thread each) training stage 0 then stage 1
// of the tiny preset with two micro-batches per rank, with the overlapping reducer and
// with the after-backward all-reduce, alternating the two in each round. It logs the median
// and range of the mean step time of rank 0 over the rounds, for 25 MiB buckets (one bucket)
// and 64 KiB buckets; with PRSMED_BENCH_VETH set, also the 25 MiB overlapped run with the
// two ranks on two hosts (network namespaces joined by veth and a bridge, needs root).
//
//	PRSMED_BENCH_OVERLAP=5 PRSMED_BENCH_VETH=1 go test -count=1 -v -run ^$ -bench BenchmarkOverlapTiming -benchtime 1x ./prsmed/train/
//
// It is a benchmark, not a test, so that the suite never runs it (it reports times, checks
// nothing).
func BenchmarkOverlapTiming(b *testing.B) {
	b.StopTimer()
	overlapTiming(b)
}

func overlapTiming(t testing.TB) {
	rounds, _ := strconv.Atoi(os.Getenv("PRSMED_BENCH_OVERLAP"))
	if rounds <= 0 {
		rounds = 5
	}
	root := distData(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	names := []string{"stage01acc", "stage01acc-nosync", "stage01acc-64k", "stage01acc-64k-nosync"}
	launches := map[string]ddpLaunch{}
	if os.Getenv("PRSMED_BENCH_VETH") != "" {
		// The default configuration again, over veth between two namespaces.
		names = append(names, "veth")
		launches["veth"] = netnsHosts(t, 2, 1)
	}
	times := map[string][]float64{}
	for r := 0; r < rounds; r++ {
		order := slices.Clone(names)
		if r%2 == 1 {
			slices.Reverse(order)
		}
		for _, name := range order {
			out := t.TempDir()
			l, c := ddpLaunch{world: 2}, name
			if name == "veth" {
				l, c = launches[name], "stage01acc"
			}
			startRanks(t, ctx, l, c, root, out)()
			raw, err := os.ReadFile(filepath.Join(out, "rank0.json"))
			if err != nil {
				t.Fatal(err)
			}
			var rep ddpReport
			if err := json.Unmarshal(raw, &rep); err != nil {
				t.Fatal(err)
			}
			var secs float64
			steps := 0
			for _, e := range rep.History {
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
