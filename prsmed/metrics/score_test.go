package metrics

import (
	"errors"
	"math"
	"testing"
)

// probOf builds a Prob from rows of probabilities.
func probOf(rows ...[]float64) Prob {
	p := NewProb(len(rows[0]), len(rows))
	for y, r := range rows {
		copy(p.Pix[y*p.W:], r)
	}
	return p
}

// maskOf builds a Mask from rows of '#' (foreground) and '.'.
func maskOf(rows ...string) Mask {
	m := NewMask(len(rows[0]), len(rows))
	for y, r := range rows {
		for x, c := range r {
			m.Pix[y*m.W+x] = c == '#'
		}
	}
	return m
}

func TestThresholds(t *testing.T) {
	ts := Thresholds()
	if ts[0] != 1 || ts[NumThresholds-1] != 0 {
		t.Fatalf("ends are %v and %v, want 1 and 0", ts[0], ts[NumThresholds-1])
	}
	for j := 1; j < NumThresholds; j++ {
		if !(ts[j] < ts[j-1]) {
			t.Fatalf("thresholds not strictly decreasing at %d", j)
		}
		if math.Abs(ts[j]-(1-float64(j)/255)) > 1e-15 {
			t.Fatalf("threshold %d = %v, far from 1-%d/255", j, ts[j], j)
		}
	}
}

func TestCounts(t *testing.T) {
	tests := []struct {
		name      string
		c         Counts
		dice, iou float64
	}{
		{"perfect", Counts{TP: 5, Pred: 5, Truth: 5}, 1, 1},
		{"half overlap", Counts{TP: 2, Pred: 4, Truth: 4}, 0.5, 1.0 / 3},
		{"empty prediction", Counts{TP: 0, Pred: 0, Truth: 7}, 0, 0},
		{"empty truth", Counts{TP: 0, Pred: 3, Truth: 0}, 0, 0},
		{"both empty", Counts{}, 0, 0},
		{"one pixel", Counts{TP: 1, Pred: 1, Truth: 1}, 1, 1},
		{"one pixel of two", Counts{TP: 1, Pred: 2, Truth: 1}, 2.0 / 3, 0.5},
	}
	for _, tt := range tests {
		if d, i := tt.c.Dice(), tt.c.IoU(); d != tt.dice || i != tt.iou {
			t.Errorf("%s: Dice, IoU = %v, %v; want %v, %v", tt.name, d, i, tt.dice, tt.iou)
		}
	}
}

func TestEvaluateEdgeCases(t *testing.T) {
	type want struct {
		dice05, iou05 float64
		// at the first threshold (1), at 128/255 and at the last (0).
		diceAt1, diceMid, diceAt0 float64
	}
	mid := 127 // Thresholds()[127] = 128/255
	tests := []struct {
		name string
		pred Prob
		gt   Mask
		want want
	}{
		{
			"empty prediction",
			probOf([]float64{0, 0}, []float64{0, 0}),
			maskOf("#.", ".."),
			// Only threshold 0 marks every pixel: Dice 2·1/(4+1).
			want{0, 0, 0, 0, 0.4},
		},
		{
			"empty ground truth",
			probOf([]float64{1, 0.6}, []float64{0.2, 0}),
			maskOf("..", ".."),
			want{0, 0, 0, 0, 0},
		},
		{
			"both empty",
			probOf([]float64{0, 0}, []float64{0, 0}),
			maskOf("..", ".."),
			want{0, 0, 0, 0, 0},
		},
		{
			"full image",
			probOf([]float64{1, 1}, []float64{1, 1}),
			maskOf("##", "##"),
			want{1, 1, 1, 1, 1},
		},
		{
			"one-pixel lesion hit",
			probOf([]float64{0, 0, 0}, []float64{0, 0.9, 0}, []float64{0, 0, 0}),
			maskOf("...", ".#.", "..."),
			// At 0 all 9 pixels are predicted: Dice 2/(9+1).
			want{1, 1, 0, 1, 0.2},
		},
		{
			"one-pixel lesion missed",
			probOf([]float64{0.9, 0, 0}, []float64{0, 0, 0}, []float64{0, 0, 0}),
			maskOf("...", ".#.", "..."),
			want{0, 0, 0, 0, 0.2},
		},
		{
			"exactly at 0.5 counts",
			probOf([]float64{0.5, 0.49}),
			maskOf("##"),
			want{2.0 / 3, 0.5, 0, 0, 1},
		},
		{
			"NaN never predicted",
			probOf([]float64{math.NaN(), 1}),
			maskOf("##"),
			want{2.0 / 3, 0.5, 2.0 / 3, 2.0 / 3, 2.0 / 3},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Evaluate(tt.pred, tt.gt)
			if err != nil {
				t.Fatal(err)
			}
			got := want{r.Dice05, r.IoU05, r.Dice[0], r.Dice[mid], r.Dice[NumThresholds-1]}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestEvaluateMatchesCountAt checks the one-pass sweep against 256
// separate threshold comparisons, on values that sit exactly on the
// thresholds (k/255) and between them.
func TestEvaluateMatchesCountAt(t *testing.T) {
	const w, h = 37, 29
	pred, gt := NewProb(w, h), NewMask(w, h)
	for i := range pred.Pix {
		switch i % 3 {
		case 0:
			pred.Pix[i] = float64((i*7919)%256) / 255
		case 1:
			pred.Pix[i] = float64((i*104729)%1000) / 999
		default:
			pred.Pix[i] = float64(float32(float64((i*31)%256) / 255))
		}
		gt.Pix[i] = (i*13)%5 < 2
	}
	r, err := Evaluate(pred, gt)
	if err != nil {
		t.Fatal(err)
	}
	for j, th := range Thresholds() {
		c, err := CountAt(pred, gt, th)
		if err != nil {
			t.Fatal(err)
		}
		if r.Dice[j] != c.Dice() || r.IoU[j] != c.IoU() {
			t.Fatalf("threshold %d: sweep gives %v/%v, direct count %v/%v", j, r.Dice[j], r.IoU[j], c.Dice(), c.IoU())
		}
	}
	c, _ := CountAt(pred, gt, 0.5)
	if r.Dice05 != c.Dice() || r.IoU05 != c.IoU() {
		t.Errorf("at 0.5: %v/%v vs %v/%v", r.Dice05, r.IoU05, c.Dice(), c.IoU())
	}
	if r.MeanDice() <= 0 || r.MeanDice() > r.MaxDice() || r.MeanIoU() > r.MeanDice() {
		t.Errorf("implausible summary: mean %v max %v IoU %v", r.MeanDice(), r.MaxDice(), r.MeanIoU())
	}
}

func TestEvaluateResizesPrediction(t *testing.T) {
	// A 2×2 prediction upsampled to the 4×4 truth: each value covers a 2×2
	// block, top-left quadrant on.
	pred := probOf([]float64{1, 0}, []float64{0, 0})
	gt := maskOf("##..", "##..", "....", "....")
	r, err := Evaluate(pred, gt)
	if err != nil {
		t.Fatal(err)
	}
	if r.Dice05 != 1 || r.IoU05 != 1 {
		t.Errorf("Dice, IoU at 0.5 = %v, %v; want 1, 1", r.Dice05, r.IoU05)
	}
	// Downsampling 4×4 → 2×2 reads source pixels 0 and 2 on each axis.
	big := probOf([]float64{1, 0, 0, 0}, []float64{0, 0, 0, 0}, []float64{0, 0, 1, 0}, []float64{0, 0, 0, 0})
	r, err = Evaluate(big, maskOf("#.", ".#"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Dice05 != 1 {
		t.Errorf("downsampled Dice@0.5 = %v, want 1", r.Dice05)
	}
}

func TestShapeErrors(t *testing.T) {
	good := NewMask(2, 2)
	tests := []struct {
		name string
		pred Prob
		gt   Mask
	}{
		{"short prediction", Prob{W: 2, H: 2, Pix: make([]float64, 3)}, good},
		{"zero-size prediction", Prob{}, good},
		{"long truth", NewProb(2, 2), Mask{W: 2, H: 2, Pix: make([]bool, 5)}},
		{"negative truth", NewProb(2, 2), Mask{W: -2, H: -2, Pix: make([]bool, 4)}},
	}
	for _, tt := range tests {
		if _, err := Evaluate(tt.pred, tt.gt); !errors.Is(err, ErrShape) {
			t.Errorf("%s: Evaluate error = %v, want ErrShape", tt.name, err)
		}
		if _, err := CountAt(tt.pred, tt.gt, 0.5); !errors.Is(err, ErrShape) {
			t.Errorf("%s: CountAt error = %v, want ErrShape", tt.name, err)
		}
	}
	if _, err := ProbFromFloat32(3, 3, make([]float32, 8)); !errors.Is(err, ErrShape) {
		t.Errorf("ProbFromFloat32 with 8 values for 3×3: %v", err)
	}
}

func TestProbFromFloat32(t *testing.T) {
	p, err := ProbFromFloat32(2, 1, []float32{0.25, 1})
	if err != nil {
		t.Fatal(err)
	}
	if p.W != 2 || p.H != 1 || p.Pix[0] != 0.25 || p.Pix[1] != 1 {
		t.Errorf("got %+v", p)
	}
}

func BenchmarkEvaluate1024(b *testing.B) {
	pred, gt := NewProb(1024, 1024), NewMask(512, 512)
	for i := range pred.Pix {
		pred.Pix[i] = float64(i%256) / 255
	}
	for i := range gt.Pix {
		gt.Pix[i] = i%3 == 0
	}
	for b.Loop() {
		if _, err := Evaluate(pred, gt); err != nil {
			b.Fatal(err)
		}
	}
}
