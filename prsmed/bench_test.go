package prsmed_test

import (
	"context"
	"image"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/prsmed"
	"github.com/prsmed/prsmed-go/prsmed/imageio"
	"github.com/prsmed/prsmed-go/prsmed/llava"
	"github.com/prsmed/prsmed-go/prsmed/prsmedtest"
	"github.com/prsmed/prsmed-go/prsmed/tinyvit"
	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/torch/torchtest"
)

// benchSetup builds the tiny model with the parity test's weights and a batch of 8 (the
// two parity images four times), as third_party/bench/prsmed_bench.py does.
//
// The benchmarks keep their goroutine on one OS thread (as train.Trainer.Run does): OpenMP
// keeps a team of worker threads per calling thread, and a loop that hopped between
// threads would leave several teams competing for the cores.
func benchSetup(b *testing.B) (*prsmed.Model, *torch.Scope, prsmed.Inputs) {
	torch.SetNumThreads(torchtest.BenchThreads(2))
	m := prsmedtest.TinyModelWith(b, 0, func(c *prsmed.Config) { c.LoRA.Dropout = 0 })
	if _, err := m.Store.Load(filepath.Join("../testdata/prsmed", "weights.safetensors"), nn.LoadOptions{}); err != nil {
		b.Fatal(err)
	}
	var imgs []image.Image
	var smps []llava.Sample
	var masks []*torch.Tensor
	s := torch.NewScope(torch.CPU).Eval()
	for i := 0; i < 4; i++ {
		for _, k := range []string{"rgb", "gray"} {
			img, err := imageio.Load(filepath.Join("../testdata/prsmed", k+".png"))
			if err != nil {
				b.Fatal(err)
			}
			mk, err := imageio.Load(filepath.Join("../testdata/prsmed", "mask_"+k+".png"))
			if err != nil {
				b.Fatal(err)
			}
			imgs = append(imgs, img)
			masks = append(masks, tinyvit.MaskTensor(s, mk, m.Config.MaskSize))
			smps = append(smps, llava.Sample{Question: "Where is the tumour in this image?", Answer: "The tumour is in the top left of the image."})
		}
	}
	sam, clipIn, err := m.PreprocessBatch(s, imgs)
	if err != nil {
		b.Fatal(err)
	}
	return m, s, prsmed.Inputs{SAM: sam, CLIP: clipIn, Samples: smps, Masks: torch.Cat(s, 0, masks...)}
}

// BenchmarkTrainStep times one stage-2 training step (forward, backward, clip, AdamW) on a
// batch of 8 with BENCH_THREADS intra-op threads (default 2); samples/s = 8 / time.
func BenchmarkTrainStep(b *testing.B) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	m, s, in := benchSetup(b)
	defer m.Close()
	defer s.Close()
	m.SetStage(prsmed.Stage2)
	opt := torch.NewAdamW(m.Store.ParamGroups(1e-4, 1e-5, nil), torch.AdamWConfig{LR: 1e-4, Beta1: 0.9, Beta2: 0.999, Eps: 1e-6, WeightDecay: 1e-5})
	defer opt.Close()
	done := torchtest.CPUPerOp(b)
	for i := 0; i < b.N; i++ {
		c := s.Train(nil)
		out, err := m.Forward(c, in)
		if err != nil {
			b.Fatal(err)
		}
		opt.ZeroGrad()
		out.Loss.Total.Backward()
		torch.ClipGradNorm(m.Store.Trainable(), 1, 2)
		opt.Step()
		c.Close()
	}
	done()
	b.ReportMetric(8*float64(b.N)/b.Elapsed().Seconds(), "samples/s")
}

// BenchmarkPredictForward times the inference forward of one sample without generation:
// TinyViT, CLIP, the language model over the prompt, fusion and decoder.
func BenchmarkPredictForward(b *testing.B) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	m, s, in := benchSetup(b)
	defer m.Close()
	defer s.Close()
	one := prsmed.Inputs{SAM: in.SAM.Narrow(s, 0, 0, 1), CLIP: in.CLIP.Narrow(s, 0, 0, 1), Samples: []llava.Sample{{Question: in.Samples[0].Question}}}
	done := torchtest.CPUPerOp(b)
	for i := 0; i < b.N; i++ {
		c := s.NoGrad()
		if _, err := m.Forward(c, one); err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
	done()
}

// BenchmarkPredictBatch times PredictBatch (preprocessing, both encoders, the language
// model's prefill and greedy answer, fusion, decoder, resize) on batches of 1, 2, 4 and 8
// of the parity images, and reports the time per image: batching pays when it falls with
// the batch.
func BenchmarkPredictBatch(b *testing.B) {
	m, s, _ := benchSetup(b)
	defer m.Close()
	defer s.Close()
	var imgs []image.Image
	for _, k := range []string{"rgb", "gray"} {
		img, err := imageio.Load(filepath.Join("../testdata/prsmed", k+".png"))
		if err != nil {
			b.Fatal(err)
		}
		imgs = append(imgs, img)
	}
	for _, n := range []int{1, 2, 4, 8} {
		b.Run("batch"+strconv.Itoa(n), func(b *testing.B) {
			batch := make([]image.Image, n)
			qs := make([]string, n)
			for i := range batch {
				batch[i] = imgs[i%len(imgs)]
				qs[i] = "Where is the tumour in this image?"
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				ps, err := m.PredictBatch(context.Background(), batch, qs)
				if err != nil || len(ps) != n {
					b.Fatal(err, len(ps))
				}
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N*n), "ms/image")
		})
	}
}
