package volumeset

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prsmed/prsmed-go/prsmed/data"
	"github.com/prsmed/prsmed-go/prsmed/imageio/volume"
	"github.com/prsmed/prsmed-go/prsmed/imageio/window"
	"github.com/prsmed/prsmed-go/zones"
)

// synthSubject builds an LPS-ordered volume (DICOM's voxel order: i towards the patient's
// left, j posterior, k superior) of nx×ny×nz with three labelled boxes:
//
//	1 "left kidney":  i in [nx-8, nx-3), j in [ny-10, ny-4) (patient's left, posterior), k in [2, 8)
//	2 "right kidney": i in [3, 8),       j in [ny-10, ny-4) (patient's right, posterior), k in [3, 9)
//	3 "liver":        i in [2, 12),      j in [2, 9)        (patient's right, anterior), k in [6, 11)
//
// The liver overlaps the right kidney's slices but not its voxels; label 4 (unnamed) marks
// one voxel. The image holds 100·label + i, so windows can be checked.
func synthSubject(t *testing.T, name string, nx, ny, nz int) Subject {
	t.Helper()
	aff := [4][4]float64{{-0.8, 0, 0, 20}, {0, -0.8, 0, 30}, {0, 0, 2.5, -40}, {0, 0, 0, 1}}
	img, err := volume.New([3]int{nx, ny, nz}, aff)
	if err != nil {
		t.Fatal(err)
	}
	lab, err := volume.New([3]int{nx, ny, nz}, aff)
	if err != nil {
		t.Fatal(err)
	}
	box := func(v float32, i0, i1, j0, j1, k0, k1 int) {
		for k := k0; k < k1; k++ {
			for j := j0; j < j1; j++ {
				for i := i0; i < i1; i++ {
					lab.Data[lab.Index(i, j, k)] = v
				}
			}
		}
	}
	box(1, nx-8, nx-3, ny-10, ny-4, 2, 8)
	box(2, 3, 8, ny-10, ny-4, 3, 9)
	box(3, 2, 12, 2, 9, 6, 11)
	lab.Data[lab.Index(nx/2, ny/2, 0)] = 4
	for i := range img.Data {
		img.Data[i] = 100*lab.Data[i] + float32(i%nx)
	}
	return Subject{Name: name, Image: img, Labels: lab}
}

var table = []Label{{1, "left kidney"}, {2, "right kidney"}, {3, "liver"}}

func TestBuildOneSubject(t *testing.T) {
	root := t.TempDir()
	s := synthSubject(t, "case01", 32, 24, 12)
	cfg := Config{Plane: volume.Axial, MinPixels: 10, Window: window.CenterWidth(150, 400), Seed: 3, BlockSlices: 3}
	sum, err := Build(context.Background(), root, []Subject{s}, table, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("summary %+v", sum)
	if len(sum.Unnamed) != 1 || sum.Unnamed[0] != 4 {
		t.Errorf("unnamed %v, want [4]", sum.Unnamed)
	}
	ds, err := data.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	// Expected (slice, label) rows before guards: label 1 on k 2..7, 2 on 3..8, 3 on 6..10.
	want := map[[2]int]bool{}
	for k := 2; k < 8; k++ {
		want[[2]int{k, 1}] = true
	}
	for k := 3; k < 9; k++ {
		want[[2]int{k, 2}] = true
	}
	for k := 6; k < 11; k++ {
		want[[2]int{k, 3}] = true
	}
	splitOf := map[int]string{}
	got := 0
	for _, smp := range ds.Samples("") {
		var k, v int
		base := filepath.Base(smp.MaskPath)
		if _, err := fmtSscanf(base, &k, &v); err != nil {
			t.Fatalf("mask name %s: %v", base, err)
		}
		if !want[[2]int{k, v}] {
			t.Fatalf("unexpected row slice %d label %d", k, v)
		}
		got++
		if sp, ok := splitOf[k]; ok && sp != smp.Split {
			t.Fatalf("slice %d in %s and %s", k, sp, smp.Split)
		}
		splitOf[k] = smp.Split
		name := table[v-1].Name
		if z, ok := zones.Parse(smp.Answer); !ok || z != smp.Zone {
			t.Fatalf("answer %q parses to %v, position says %v", smp.Answer, z, smp.Zone)
		}
		if !strings.Contains(smp.Question, name) || !strings.Contains(smp.Answer, name) {
			t.Fatalf("slice %d label %d: question %q / answer %q do not name %q", k, v, smp.Question, smp.Answer, name)
		}
		img, mask, err := data.LoadSample(smp)
		if err != nil {
			t.Fatal(err)
		}
		// Radiological display: the patient's left kidney is in the image's right half,
		// the right kidney and the liver in its left half; the kidneys (posterior) at the
		// bottom, the liver (anterior) at the top.
		wantZone := map[int]zones.Zone{1: zones.BottomRight, 2: zones.BottomLeft, 3: zones.TopLeft}[v]
		loc, err := zones.Locate(mask)
		if err != nil || loc.Zone != wantZone {
			t.Fatalf("slice %d label %d: zone %v (%v), want %v", k, v, loc.Zone, err, wantZone)
		}
		if z, ok := zones.Parse(smp.Position); !ok || z != wantZone || smp.Zone != wantZone {
			t.Fatalf("position %q parses to %v", smp.Position, z)
		}
		// The mask is exactly the label's box in display orientation, and the image is
		// the windowed slice: 100·label + i through centre 150, width 400.
		checkSlice(t, s, k, v, img, mask)
	}
	if got+guardRows(sum, want, splitOf) != len(want) {
		t.Fatalf("%d rows + guards, want %d", got, len(want))
	}
	// Neighbouring slices never straddle splits.
	for k, sp := range splitOf {
		if sp2, ok := splitOf[k+1]; ok && sp2 != sp {
			t.Fatalf("slices %d (%s) and %d (%s) are neighbours in different splits", k, sp, k+1, sp2)
		}
	}
	// "left kidney", "right kidney" and "liver" are anatomy to zones.Parse: every answer
	// parses back to its zone.
	if len(sum.UnparsedAnswers) != 0 {
		t.Fatalf("unparsed answers %v", sum.UnparsedAnswers)
	}
	if len(sum.Rows) < 2 {
		t.Fatalf("rows per split %v: want at least two splits from 9 slices in blocks of 3", sum.Rows)
	}
}

// guardRows counts the expected rows of slices that Build dropped as guards.
func guardRows(sum *Summary, want map[[2]int]bool, kept map[int]string) int {
	n := 0
	for kv := range want {
		if _, ok := kept[kv[0]]; !ok {
			n++
		}
	}
	if sum.Guards == 0 && n != 0 {
		return -1000
	}
	return n
}

func fmtSscanf(base string, k, v *int) (int, error) {
	// case01_axial0005_2.png
	i := strings.Index(base, "axial")
	if i < 0 {
		return 0, errors.New("no plane in name")
	}
	var err error
	rest := strings.TrimSuffix(base[i+len("axial"):], ".png")
	parts := strings.Split(rest, "_")
	if len(parts) != 2 {
		return 0, errors.New("bad name")
	}
	*k, err = atoi(parts[0])
	if err == nil {
		*v, err = atoi(parts[1])
	}
	return 2, err
}

func atoi(s string) (int, error) {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, errors.New("not a number")
		}
		n = n*10 + int(c-'0')
	}
	return n, nil
}

func checkSlice(t *testing.T, s Subject, k, v int, img image.Image, mask *image.Gray) {
	t.Helper()
	nx, ny := s.Image.Dims[0], s.Image.Dims[1]
	b := mask.Bounds()
	if b.Dx() != nx || b.Dy() != ny {
		t.Fatalf("mask %v, want %d×%d", b, nx, ny)
	}
	for r := 0; r < ny; r++ {
		for c := 0; c < nx; c++ {
			// LPS voxel order: image column c (towards the patient's left) is i = c; image
			// row r (anterior at the top) is j = r.
			i, j := c, r
			lv := s.Labels.At(i, j, k)
			want := uint8(0)
			if lv == float32(v) {
				want = 255
			}
			if mask.GrayAt(c, r).Y != want {
				t.Fatalf("slice %d label %d: mask (%d, %d) = %d, label there %v", k, v, c, r, mask.GrayAt(c, r).Y, lv)
			}
			x := float64(s.Image.At(i, j, k))
			n, _ := window.Normalize(nil, []float64{x}, 150, 400, window.Linear)
			wantG := uint8(math.Round(n[0] * 255))
			g := color.GrayModel.Convert(img.At(c, r)).(color.Gray).Y
			if d := int(g) - int(wantG); d < -1 || d > 1 {
				t.Fatalf("slice %d pixel (%d, %d): gray %d, windowed value %d", k, c, r, g, wantG)
			}
		}
	}
}

func TestBuildSubjectsDeterministic(t *testing.T) {
	subjects := []Subject{synthSubject(t, "a", 24, 20, 12), synthSubject(t, "b", 24, 20, 12),
		synthSubject(t, "c", 24, 20, 12), synthSubject(t, "d", 24, 20, 12)}
	cfg := Config{Plane: volume.Coronal, MinPixels: 5, Window: window.MinMaxWindow(), Seed: 9}
	roots := []string{t.TempDir(), t.TempDir()}
	var sums []*Summary
	for _, root := range roots {
		sum, err := Build(context.Background(), root, subjects, table, cfg)
		if err != nil {
			t.Fatal(err)
		}
		sums = append(sums, sum)
	}
	files := map[string][]byte{}
	filepath.WalkDir(roots[0], func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			rel, _ := filepath.Rel(roots[0], p)
			files[rel] = b
		}
		return err
	})
	n := 0
	filepath.WalkDir(roots[1], func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			rel, _ := filepath.Rel(roots[1], p)
			if !bytes.Equal(files[rel], b) {
				t.Errorf("%s differs between two runs", rel)
			}
			n++
		}
		return err
	})
	if n != len(files) || n < 10 {
		t.Fatalf("%d and %d files", len(files), n)
	}
	// Each subject sits in one split; all three splits are used with four subjects.
	ds, err := data.Open(roots[0])
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, smp := range ds.Samples("") {
		subj := strings.SplitN(filepath.Base(smp.MaskPath), "_", 2)[0]
		if sp := sums[0].SubjectSplit[subj]; sp != smp.Split {
			t.Fatalf("%s of subject %s in %s, subject split %s", smp, subj, smp.Split, sp)
		}
		used[smp.Split] = true
	}
	if len(used) != 3 {
		t.Fatalf("splits used %v, subject splits %v", used, sums[0].SubjectSplit)
	}
	// Another seed moves subjects.
	sum, err := Build(context.Background(), t.TempDir(), subjects, table, Config{Plane: volume.Coronal, Window: window.MinMaxWindow(), Seed: 10})
	if err != nil {
		t.Fatal(err)
	}
	same := true
	for k, v := range sum.SubjectSplit {
		same = same && sums[0].SubjectSplit[k] == v
	}
	if same {
		t.Logf("seeds 9 and 10 gave the same subject split %v (possible, not an error)", sum.SubjectSplit)
	}
}

func TestBuildRefusesBadInput(t *testing.T) {
	ctx := context.Background()
	good := synthSubject(t, "s", 16, 14, 12)
	other := synthSubject(t, "s", 16, 15, 12)
	shifted := synthSubject(t, "s", 16, 14, 12)
	shifted.Labels.Affine[0][3] += 1
	nan := synthSubject(t, "s", 16, 14, 12)
	nan.Image.Data[5] = float32(math.NaN())
	frac := synthSubject(t, "s", 16, 14, 12)
	frac.Labels.Data[7] = 1.5
	for _, tc := range []struct {
		name string
		s    Subject
		cfg  Config
		text string
	}{
		{"label map of another size", Subject{Name: "s", Image: good.Image, Labels: other.Labels}, Config{Window: window.MinMaxWindow()}, "size"},
		{"label map on another affine", Subject{Name: "s", Image: good.Image, Labels: shifted.Labels}, Config{Window: window.MinMaxWindow()}, "affines differ"},
		{"NaN voxel", nan, Config{Window: window.MinMaxWindow()}, "NaN"},
		{"fractional label", frac, Config{Window: window.MinMaxWindow()}, "not a label value"},
		{"file window", good, Config{}, "no file window"},
		{"bad fractions", good, Config{Window: window.MinMaxWindow(), Fractions: [3]float64{0.5, 0.5, 0.5}}, "fractions"},
		{"bad subject name", Subject{Name: "a/b", Image: good.Image, Labels: good.Labels}, Config{Window: window.MinMaxWindow()}, "subject name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			_, err := Build(ctx, root, []Subject{tc.s}, table, tc.cfg)
			if !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("err %v, want ErrInput mentioning %q", err, tc.text)
			}
			if ents, _ := os.ReadDir(root); len(ents) != 0 {
				t.Fatalf("a refused build wrote %d entries", len(ents))
			}
		})
	}
}

// TestUnparsedAnswersCounted: a structure name that reads as an image position makes
// answers zones.Parse cannot map back; Build counts them. Side words before anatomy parse.
func TestUnparsedAnswersCounted(t *testing.T) {
	s := synthSubject(t, "h", 32, 24, 12)
	labels := []Label{{1, "upper left lesion"}, {2, "right hippocampus"}}
	sum, err := Build(context.Background(), t.TempDir(), []Subject{s}, labels, Config{Window: window.MinMaxWindow(), MinPixels: 10})
	if err != nil {
		t.Fatal(err)
	}
	if sum.UnparsedAnswers["upper left lesion"] == 0 || sum.UnparsedAnswers["right hippocampus"] != 0 {
		t.Fatalf("unparsed answers %v (rows per label %v)", sum.UnparsedAnswers, sum.PerLabel)
	}
}
