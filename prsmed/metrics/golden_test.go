package metrics

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/prsmed/prsmed-go/zones"
)

// golden mirrors testdata/metrics/metrics_ref.json, written by
// third_party/golden/metrics_ref.py.
type golden struct {
	Thresholds []float64 `json:"thresholds"`
	Cases      []struct {
		Name     string    `json:"name"`
		Group    string    `json:"group"`
		Pred     string    `json:"pred"`
		GT       string    `json:"gt"`
		Zone     *string   `json:"zone"`
		Near     *bool     `json:"near"`
		Dice05   float64   `json:"dice05"`
		IoU05    float64   `json:"iou05"`
		MeanDice float64   `json:"mean_dice"`
		MeanIoU  float64   `json:"mean_iou"`
		MaxDice  float64   `json:"max_dice"`
		Dice     []float64 `json:"dice"`
		IoU      []float64 `json:"iou"`
	} `json:"cases"`
	Groups  map[string]goldenStats `json:"groups"`
	Overall goldenStats            `json:"overall"`
}

type goldenStats struct {
	Images   int     `json:"images"`
	Dice05   float64 `json:"dice05"`
	IoU05    float64 `json:"iou05"`
	MeanDice float64 `json:"mean_dice"`
	MeanIoU  float64 `json:"mean_iou"`
	MaxDice  float64 `json:"max_dice"`
	MaxIoU   float64 `json:"max_iou"`
}

const goldenDir = "../../testdata/metrics"

// tol is the largest absolute difference accepted from the Python reference.
const tol = 1e-6

func loadGolden(t *testing.T) golden {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(goldenDir, "metrics_ref.json"))
	if err != nil {
		t.Fatalf("%v (regenerate with /usr/bin/python3 third_party/golden/metrics_ref.py)", err)
	}
	var g golden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Cases) < 10 {
		t.Fatalf("golden file has only %d cases", len(g.Cases))
	}
	return g
}

func near(t *testing.T, what string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > tol {
		t.Errorf("%s = %.17g, want %.17g (|Δ| = %.3g)", what, got, want, math.Abs(got-want))
	}
}

func TestGoldenThresholds(t *testing.T) {
	g := loadGolden(t)
	ts := Thresholds()
	if len(g.Thresholds) != len(ts) {
		t.Fatalf("%d golden thresholds, want %d", len(g.Thresholds), len(ts))
	}
	for j, want := range g.Thresholds {
		if ts[j] != want { // numpy's linspace, bit for bit
			t.Errorf("threshold %d = %.17g, numpy gives %.17g", j, ts[j], want)
		}
	}
}

func TestGoldenPerImageAndAggregate(t *testing.T) {
	g := loadGolden(t)
	var acc Accumulator
	for _, c := range g.Cases {
		pred, err := LoadProb(filepath.Join(goldenDir, c.Pred))
		if err != nil {
			t.Fatal(err)
		}
		img, err := LoadImage(filepath.Join(goldenDir, c.GT))
		if err != nil {
			t.Fatal(err)
		}
		r, err := Evaluate(pred, MaskFromImage(img))
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		near(t, c.Name+" Dice@0.5", r.Dice05, c.Dice05)
		near(t, c.Name+" IoU@0.5", r.IoU05, c.IoU05)
		near(t, c.Name+" mean Dice", r.MeanDice(), c.MeanDice)
		near(t, c.Name+" mean IoU", r.MeanIoU(), c.MeanIoU)
		near(t, c.Name+" max Dice", r.MaxDice(), c.MaxDice)
		for j := range c.Dice {
			// Counts are integers: any threshold tie handled differently
			// from numpy shows up here.
			if r.Dice[j] != c.Dice[j] || r.IoU[j] != c.IoU[j] {
				t.Errorf("%s threshold %d: Dice %v IoU %v, want %v %v", c.Name, j, r.Dice[j], r.IoU[j], c.Dice[j], c.IoU[j])
			}
		}
		acc.Add(c.Group, &r)

		loc, err := zones.Locate(img)
		switch {
		case c.Zone == nil:
			if err == nil {
				t.Errorf("%s: zone %v, reference has an empty mask", c.Name, loc.Zone)
			}
		case err != nil:
			t.Errorf("%s: %v, want zone %s", c.Name, err, *c.Zone)
		case loc.Zone.String() != *c.Zone || loc.Near != *c.Near:
			t.Errorf("%s: zone %v near %v, want %s near %v", c.Name, loc.Zone, loc.Near, *c.Zone, *c.Near)
		}
	}
	s := acc.Summary()
	if len(s.Groups) != len(g.Groups) {
		t.Fatalf("%d groups, want %d", len(s.Groups), len(g.Groups))
	}
	check := func(got Stats, want goldenStats) {
		if got.Images != want.Images {
			t.Errorf("%s: %d images, want %d", got.Name, got.Images, want.Images)
		}
		near(t, got.Name+" Dice@0.5", got.Dice05, want.Dice05)
		near(t, got.Name+" IoU@0.5", got.IoU05, want.IoU05)
		near(t, got.Name+" mDice", got.MeanDice, want.MeanDice)
		near(t, got.Name+" mIoU", got.MeanIoU, want.MeanIoU)
		near(t, got.Name+" maxDice", got.MaxDice, want.MaxDice)
		near(t, got.Name+" maxIoU", got.MaxIoU, want.MaxIoU)
	}
	for _, st := range s.Groups {
		want, ok := g.Groups[st.Name]
		if !ok {
			t.Errorf("unexpected group %q", st.Name)
			continue
		}
		check(st, want)
	}
	check(s.Overall, g.Overall)
}
