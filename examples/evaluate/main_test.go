package main

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prsmed/prsmed-go/examples/internal/clitest"
)

// runTool runs the command with args and returns its exit code, stdout and stderr.
func runTool(args ...string) (int, string, string) { return clitest.Run(run, args...) }

// writeMask writes a w×h 8-bit grey PNG whose value at (x, y) is f(x, y).
func writeMask(t *testing.T, file string, w, h int, f func(x, y int) uint8) {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.SetGray(x, y, color.Gray{f(x, y)})
		}
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	writeFile(t, file, b.String())
}

func writeFile(t *testing.T, file, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// block returns a mask function that is 255 inside [x0,x1)×[y0,y1).
func block(x0, y0, x1, y1 int) func(x, y int) uint8 {
	return func(x, y int) uint8 {
		if x >= x0 && x < x1 && y >= y0 && y < y1 {
			return 255
		}
		return 0
	}
}

func oneLine(t *testing.T, stderr string) {
	t.Helper()
	if strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "evaluate: ") {
		t.Errorf("stderr is not one evaluate: line: %q", stderr)
	}
	if strings.Contains(stderr, "goroutine") || strings.Contains(stderr, "panic") {
		t.Errorf("stderr has a stack trace: %q", stderr)
	}
}

func TestHelp(t *testing.T) {
	for _, arg := range []string{"-h", "-help", "--help"} {
		code, out, errs := runTool(arg)
		if code != 0 || !strings.Contains(errs, "Usage: evaluate") || !strings.Contains(errs, "-allow-missing") || out != "" {
			t.Errorf("%s: code %d, stdout %q, stderr %q", arg, code, out, errs)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		args []string
		want string
	}{
		{nil, "-pred is required"},
		{[]string{"-pred", dir}, "-gt is required"},
		{[]string{"-bogus"}, "not defined"},
		{[]string{"-pred", dir, "-gt", dir, "extra"}, "unexpected argument"},
		{[]string{"-pred", dir, "-gt", dir, "-workers", "0"}, "-workers"},
		{[]string{"-pred", dir, "-gt", dir, "-split", ""}, "-split"},
	}
	for _, tt := range tests {
		code, out, errs := runTool(tt.args...)
		if code != 2 || out != "" || !strings.Contains(errs, tt.want) {
			t.Errorf("%q: code %d, stdout %q, stderr %q; want 2 and %q", tt.args, code, out, errs, tt.want)
		}
		oneLine(t, errs)
	}
}

// onePredictionOfTwo writes two 4×4 ground-truth masks, gt/a.png and gt/b.png, and the
// prediction pred/a.png (equal to its mask) in a temporary folder; it returns the folder,
// gt and pred.
func onePredictionOfTwo(t *testing.T) (dir, gt, pred string) {
	t.Helper()
	dir = t.TempDir()
	gt, pred = filepath.Join(dir, "gt"), filepath.Join(dir, "pred")
	writeMask(t, filepath.Join(gt, "a.png"), 4, 4, block(0, 0, 2, 2))
	writeMask(t, filepath.Join(gt, "b.png"), 4, 4, block(0, 0, 2, 2))
	writeMask(t, filepath.Join(pred, "a.png"), 4, 4, block(0, 0, 2, 2))
	return dir, gt, pred
}

func TestRuntimeErrors(t *testing.T) {
	dir, gt, pred := onePredictionOfTwo(t)
	writeFile(t, filepath.Join(pred, "b.png"), "not a png")
	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no pred folder", []string{"-pred", filepath.Join(dir, "nope"), "-gt", gt}, "-pred"},
		{"gt is a file", []string{"-pred", pred, "-gt", filepath.Join(gt, "a.png")}, "not a folder"},
		{"no masks", []string{"-pred", pred, "-gt", empty}, "no mask files"},
		{"bad prediction", []string{"-pred", pred, "-gt", gt}, "b.png"},
		{"missing prediction", []string{"-pred", empty, "-gt", gt}, "2 of 2 masks have no prediction"},
		{"no annotations", []string{"-pred", pred, "-gt", gt, "-annotations", empty}, "no PosMed annotation CSV"},
		{"bad answers", []string{"-pred", pred, "-gt", gt, "-answers", filepath.Join(dir, "x.txt")}, "x.txt"},
		{"unwritable json", []string{"-pred", pred, "-gt", filepath.Join(dir, "gt2"), "-json", filepath.Join(dir, "no", "such", "dir.json")}, "-json"},
	}
	writeMask(t, filepath.Join(dir, "gt2", "a.png"), 4, 4, block(0, 0, 2, 2))
	for _, tt := range tests {
		code, _, errs := runTool(tt.args...)
		if code != 1 || !strings.Contains(errs, tt.want) {
			t.Errorf("%s: code %d, stderr %q; want 1 and %q", tt.name, code, errs, tt.want)
		}
		oneLine(t, errs)
	}
}

func TestAllowMissing(t *testing.T) {
	dir, gt, pred := onePredictionOfTwo(t)
	code, out, errs := runTool("-pred", pred, "-gt", gt, "-allow-missing", "-json", filepath.Join(dir, "o.json"))
	if code != 0 || !strings.Contains(errs, "skipping 1 of 2") {
		t.Fatalf("code %d, stderr %q", code, errs)
	}
	if !strings.Contains(out, "all") || !strings.Contains(out, "1   1.0000   1.0000") {
		t.Errorf("table:\n%s", out)
	}
	var r report
	b, _ := os.ReadFile(filepath.Join(dir, "o.json"))
	if err := json.Unmarshal(b, &r); err != nil || r.Missing != 1 || r.Overall.Images != 1 || r.Overall.Dice05 != 1 {
		t.Errorf("json %s: %v", b, err)
	}
}

// TestGoldenFolder runs the tool on the Python reference cases laid out as
// a plain folder with one sub-folder per group and compares the JSON it
// writes with third_party/golden/metrics_ref.py's numbers.
func TestGoldenFolder(t *testing.T) {
	const golden = "../../testdata/metrics"
	b, err := os.ReadFile(filepath.Join(golden, "metrics_ref.json"))
	if err != nil {
		t.Fatal(err)
	}
	type stats struct {
		Images   int     `json:"images"`
		Dice05   float64 `json:"dice05"`
		IoU05    float64 `json:"iou05"`
		MeanDice float64 `json:"mean_dice"`
		MeanIoU  float64 `json:"mean_iou"`
		MaxDice  float64 `json:"max_dice"`
	}
	var ref struct {
		Cases []struct {
			Name, Group, Pred, GT string
		} `json:"cases"`
		Groups  map[string]stats `json:"groups"`
		Overall stats            `json:"overall"`
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, c := range ref.Cases {
		for _, f := range []struct{ src, dst string }{{c.GT, "gt"}, {c.Pred, "pred"}} {
			data, err := os.ReadFile(filepath.Join(golden, f.src))
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(dir, f.dst, c.Group, c.Name+".png"), string(data))
		}
	}
	out := filepath.Join(dir, "scores.json")
	code, table, errs := runTool("-pred", filepath.Join(dir, "pred"), "-gt", filepath.Join(dir, "gt"), "-json", out, "-workers", "3")
	if code != 0 || errs != "" {
		t.Fatalf("code %d, stderr %q", code, errs)
	}
	var got report
	b, err = os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.Mode != "folder" || len(got.Groups) != len(ref.Groups) {
		t.Fatalf("mode %q, %d groups; want folder, %d", got.Mode, len(got.Groups), len(ref.Groups))
	}
	check := func(name string, g struct {
		images                                    int
		dice05, iou05, meanDice, meanIoU, maxDice float64
	}, want stats) {
		if g.images != want.Images {
			t.Errorf("%s: %d images, want %d", name, g.images, want.Images)
		}
		for _, p := range [][2]float64{{g.dice05, want.Dice05}, {g.iou05, want.IoU05}, {g.meanDice, want.MeanDice}, {g.meanIoU, want.MeanIoU}, {g.maxDice, want.MaxDice}} {
			if math.Abs(p[0]-p[1]) > 1e-6 {
				t.Errorf("%s: got %v, reference %v", name, p[0], p[1])
			}
		}
	}
	type flat = struct {
		images                                    int
		dice05, iou05, meanDice, meanIoU, maxDice float64
	}
	for _, g := range got.Groups {
		check(g.Name, flat{g.Images, g.Dice05, g.IoU05, g.MeanDice, g.MeanIoU, g.MaxDice}, ref.Groups[g.Name])
		if !strings.Contains(table, g.Name) {
			t.Errorf("table lacks group %s:\n%s", g.Name, table)
		}
	}
	o := got.Overall
	check("overall", flat{o.Images, o.Dice05, o.IoU05, o.MeanDice, o.MeanIoU, o.MaxDice}, ref.Overall)
}
