package prsmed_test

import (
	"context"
	"errors"
	"image"
	"path/filepath"
	"sync"
	"testing"

	"github.com/prsmed/prsmed-go/prsmed/prsmedtest"

	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/prsmed"
	"github.com/prsmed/prsmed-go/prsmed/imageio"
	"github.com/prsmed/prsmed-go/torch"
)

func testImages(t *testing.T) []image.Image {
	t.Helper()
	var imgs []image.Image
	for _, n := range []string{"gray.png", "rgb.png"} {
		img, err := imageio.Load(filepath.Join("../testdata/prsmed", n))
		if err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, img)
	}
	return imgs
}

// TestPredictConcurrent: many goroutines predicting on one model at once get exactly the
// answers and masks of one goroutine predicting alone, and the model's parameters and
// buffers are untouched (prediction holds its state in its own scope). Run under -race
// (.ci/run does) it also shows that no shared state is written.
func TestPredictConcurrent(t *testing.T) {
	m := prsmedtest.TinyModel(t, 11)
	imgs := testImages(t)
	qs := []string{"Where is the lesion?", "Where is the tumour in this image?"}
	ctx := context.Background()
	before := snapshot(m.Store)
	want, err := m.PredictBatch(ctx, imgs, qs)
	if err != nil {
		t.Fatal(err)
	}
	const workers = 4
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	got := make([][]*prsmed.Prediction, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ps, err := m.PredictBatch(ctx, imgs, qs)
			if err != nil {
				errs <- err
				return
			}
			got[w] = ps
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for w := range got {
		for i, p := range got[w] {
			if p.Answer != want[i].Answer {
				t.Errorf("worker %d image %d: answer %q, alone %q", w, i, p.Answer, want[i].Answer)
			}
			for j := range p.Prob {
				if p.Prob[j] != want[i].Prob[j] {
					t.Fatalf("worker %d image %d: probability %d is %v, alone %v", w, i, j, p.Prob[j], want[i].Prob[j])
				}
			}
		}
	}
	after := snapshot(m.Store)
	for name, v := range before {
		for i := range v {
			if after[name][i] != v[i] {
				t.Fatalf("prediction changed %s[%d]: %v → %v", name, i, v[i], after[name][i])
			}
		}
	}
}

// TestPredictBadInput: mismatched lengths, an empty image and a cancelled context are
// returned errors.
func TestPredictBadInput(t *testing.T) {
	m := prsmedtest.TinyModel(t, 12)
	ctx := context.Background()
	img := image.NewGray(image.Rect(0, 0, 8, 8))
	if _, err := m.PredictBatch(ctx, []image.Image{img}, nil); err == nil {
		t.Error("one image and no question: no error")
	}
	if _, err := m.Predict(ctx, image.NewGray(image.Rect(0, 0, 0, 0)), "where?"); err == nil {
		t.Error("empty image: no error")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := m.Predict(cctx, img, "where?"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}

// TestPredictBFloat16: a bfloat16 model predicts from the same images (inputs are cast to
// the parameters' dtype) and its masks are close to the float32 model's.
func TestPredictBFloat16(t *testing.T) {
	m := prsmedtest.TinyModel(t, 13)
	imgs := testImages(t)[:1]
	ctx := context.Background()
	want, err := m.PredictBatch(ctx, imgs, []string{"Where is the lesion?"})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Store.To(torch.CPU, torch.BFloat16); err != nil {
		t.Fatal(err)
	}
	got, err := m.PredictBatch(ctx, imgs, []string{"Where is the lesion?"})
	if err != nil {
		t.Fatal(err)
	}
	var worst float64
	for j := range got[0].Prob {
		d := float64(got[0].Prob[j] - want[0].Prob[j])
		if d < 0 {
			d = -d
		}
		worst = max(worst, d)
	}
	t.Logf("bf16 vs f32 mask probabilities: max |Δ| %.3g", worst)
	// Probabilities lie in [0, 1]; bfloat16 keeps 8 bits of mantissa through a few dozen
	// layers, so a few hundredths is its precision, not a bug.
	if worst > 0.05 {
		t.Errorf("bf16 mask differs from f32 by %.3g (> 0.05)", worst)
	}
}

func snapshot(st *nn.Store) map[string][]float64 {
	out := map[string][]float64{}
	for name, t := range st.Tensors() {
		out[name] = t.Float64s()
	}
	return out
}
