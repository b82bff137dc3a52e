package train

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prsmed/prsmed-go/prsmed/data/synth"

	"github.com/prsmed/prsmed-go/prsmed"
	"github.com/prsmed/prsmed-go/prsmed/data"
)

// procKB reads a field (VmRSS, VmHWM) of /proc/self/status in KiB.
func procKB(field string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			v, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return v
		}
	}
	return -1
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// BenchmarkPipelinePaper1024 runs the data pipeline alone over synthetic 1024-pixel samples
// with the paper preset's preprocessing (TinyViT input bilinear to 1024, CLIP pad and
// bicubic to 336, 1024 mask), batch 8, no cache, and reports samples/s, the CPU time per
// sample and the resident memory after 100 samples and at the end (and its peak).
// PRSMED_BENCH_DATA names a data root to use (else PRSMED_BENCH_N samples, default 100,
// are generated first); PRSMED_BENCH_WORKERS the workers (default 1,2).
//
//	PRSMED_BENCH_DATA=/tmp/posmed1024 go test -run - -bench PipelinePaper1024 -benchtime 1x ./prsmed/train/
func BenchmarkPipelinePaper1024(b *testing.B) {
	root := os.Getenv("PRSMED_BENCH_DATA")
	if root == "" {
		n := 100
		if v, err := strconv.Atoi(os.Getenv("PRSMED_BENCH_N")); err == nil {
			n = v
		}
		root = filepath.Join(b.TempDir(), "posmed")
		if err := synth.Generate(root, synth.Config{N: (n + 5) / 6, Size: 1024, Seed: 1}); err != nil {
			b.Fatal(err)
		}
	}
	ds, err := data.Open(root)
	if err != nil {
		b.Fatal(err)
	}
	set := ds.Samples("")
	m := &prsmed.Model{Config: prsmed.Paper()} // preprocessing reads only the configuration
	workers := []int{1, 2}
	if v := os.Getenv("PRSMED_BENCH_WORKERS"); v != "" {
		workers = nil
		for _, f := range strings.Split(v, ",") {
			w, _ := strconv.Atoi(f)
			workers = append(workers, w)
		}
	}
	for _, w := range workers {
		b.Run(fmt.Sprintf("workers=%d", w), func(b *testing.B) {
			for range b.N {
				smp, _ := data.NewSampler(len(set), data.SamplerConfig{Seed: 1, Shuffle: true, BatchSize: 8})
				p := startPipeline(context.Background(), m, set, nil, smp.Batches(0), pipelineConfig{workers: w, depth: depthOf(0, w, 8)})
				start, cpu0 := time.Now(), cpuSeconds()
				n, rss100 := 0, int64(0)
				for range smp.NumBatches() {
					bt, err := p.next()
					if err != nil {
						b.Fatal(err)
					}
					if bt.err != nil || len(bt.skipped) > 0 {
						b.Fatal(bt.err, bt.skipped)
					}
					n += bt.n
					bt.free()
					if rss100 == 0 && n >= 100 {
						rss100 = procKB("VmRSS")
					}
				}
				el, cpu := time.Since(start).Seconds(), cpuSeconds()-cpu0
				p.close()
				b.ReportMetric(float64(n)/el, "samples/s")
				b.ReportMetric(1000*cpu/float64(n), "cpu-ms/sample")
				b.ReportMetric(float64(rss100)/1024, "rss-MiB@100")
				b.ReportMetric(float64(procKB("VmRSS"))/1024, "rss-MiB@end")
				b.ReportMetric(float64(procKB("VmHWM"))/1024, "peak-rss-MiB")
				b.ReportMetric(float64(n), "samples")
			}
		})
	}
}
