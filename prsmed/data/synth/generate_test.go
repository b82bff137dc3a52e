package synth

import (
	"crypto/sha256"
	"encoding/hex"
	"image"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/prsmed/prsmed-go/prsmed/data"
	"github.com/prsmed/prsmed-go/zones"
)

// defaultRoot holds one Generate run with the default configuration, made
// on first use and shared by the tests below.
var defaultRoot struct {
	once sync.Once
	dir  string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if defaultRoot.dir != "" {
		os.RemoveAll(defaultRoot.dir)
	}
	os.Exit(code)
}

// defaultRun returns the root of the shared default-configuration run.
func defaultRun(t *testing.T) string {
	t.Helper()
	defaultRoot.once.Do(func() {
		defaultRoot.dir, defaultRoot.err = os.MkdirTemp("", "posmed-synth-")
		if defaultRoot.err == nil {
			defaultRoot.err = Generate(defaultRoot.dir, Config{})
		}
	})
	if defaultRoot.err != nil {
		t.Fatal(defaultRoot.err)
	}
	return defaultRoot.dir
}

// hashTree returns the SHA-256 of every file under root by relative path.
func hashTree(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		sum := sha256.Sum256(b)
		out[filepath.ToSlash(rel)] = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestGenerateDeterministic(t *testing.T) {
	// Two runs with the same seed write the same bytes, whatever the
	// number of workers; another seed changes every file.
	cfg := Config{N: 8, Size: 40, Seed: 7}
	a, b, c := t.TempDir(), t.TempDir(), t.TempDir()
	if err := Generate(a, cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Workers = 1
	if err := Generate(b, cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Seed = 8
	cfg.Modalities = []string{"skin_rgbimage", "lung_Xray"}
	if err := Generate(c, cfg); err != nil {
		t.Fatal(err)
	}
	ha, hb, hc := hashTree(t, a), hashTree(t, b), hashTree(t, c)
	if len(ha) != 6*(1+2*8) || len(hb) != len(ha) {
		t.Errorf("runs wrote %d and %d files, want %d", len(ha), len(hb), 6*17)
	}
	for k, v := range ha {
		if hb[k] != v {
			t.Errorf("%s differs between two runs with the same seed", k)
		}
	}
	for k, v := range hc {
		if ha[k] == v {
			t.Errorf("%s is the same for seeds 7 and 8", k)
		}
	}
}

func TestGenerateDefaultRun(t *testing.T) {
	root := defaultRun(t)
	d, err := data.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Sorted(slices.Values(Modalities()))
	if !slices.Equal(d.Modalities(), want) {
		t.Fatalf("Modalities = %v, want %v", d.Modalities(), want)
	}
	type key struct{ mod, split string }
	zoneCount := map[key]map[zones.Zone]int{}
	for _, s := range d.Samples("") {
		k := key{s.Modality, s.Split}
		if zoneCount[k] == nil {
			zoneCount[k] = map[zones.Zone]int{}
		}
		zoneCount[k][s.Zone]++
	}
	for _, m := range want {
		c := d.Counts()[m]
		if c[data.SplitTrain] != 42 || c[data.SplitVal] != 9 || c[data.SplitTest] != 9 {
			t.Errorf("%s: split counts %v, want 42/9/9", m, c)
		}
		for _, sp := range data.Splits() {
			zc := zoneCount[key{m, sp}]
			lo, hi := math.MaxInt, 0
			for _, z := range zones.All() {
				lo, hi = min(lo, zc[z]), max(hi, zc[z])
			}
			if lo == 0 || hi-lo > 1 || zc[0] != 0 {
				t.Errorf("%s/%s: zone counts %v, want every zone, balanced", m, sp, zc)
			}
		}
	}
}

// proximity reports whether a position sentence says near (true) or far.
func proximity(s string) bool {
	return !strings.Contains(s, "not near") && !strings.Contains(s, "far") && !strings.Contains(s, "away")
}

func TestGeneratedSamples(t *testing.T) {
	root := defaultRun(t)
	d, err := data.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	nearQuad, farQuad := 0, 0
	for _, s := range d.Samples("") {
		img, mask, err := data.LoadSample(s)
		if err != nil {
			t.Fatal(err)
		}
		if img.Bounds() != image.Rect(0, 0, DefaultSize, DefaultSize) {
			t.Fatalf("%v: image bounds %v", s, img.Bounds())
		}
		_, isGray := img.(*image.Gray)
		if colour := s.Modality == "polyp_endoscopy" || s.Modality == "skin_rgbimage"; isGray == colour {
			t.Errorf("%v: %T image", s, img)
		}
		for _, v := range mask.Pix {
			if v != 0 && v != 255 {
				t.Fatalf("%v: mask value %d", s, v)
			}
		}
		loc, err := zones.Locate(mask)
		if err != nil {
			t.Fatalf("%v: %v", s, err)
		}
		if loc.Zone != s.Zone {
			t.Errorf("%v: mask zone %v, position %q", s, loc.Zone, s.Position)
		}
		if proximity(s.Position) != loc.Near {
			t.Errorf("%v: mask near=%v, position %q", s, loc.Near, s.Position)
		}
		if z, ok := zones.Parse(s.Answer); !ok || z != s.Zone {
			t.Errorf("%v: answer %q parses to %v, want %v", s, s.Answer, z, s.Zone)
		}
		word := data.LesionWord(s.Modality)
		if !strings.Contains(s.Question, word) {
			t.Errorf("%v: question %q lacks %q", s, s.Question, word)
		}
		if !strings.HasPrefix(s.Position, "Position "+s.Zone.String()+" ") && !strings.Contains(s.Position, "position "+s.Zone.String()+" ") {
			t.Errorf("%v: position %q does not spell the zone as %q", s, s.Position, s.Zone.String())
		}
		checkDecidable(t, s, loc, DefaultSize)
		checkContrast(t, s, img, mask)
		if s.Zone != zones.Center {
			if loc.Near {
				nearQuad++
			} else {
				farQuad++
			}
		}
	}
	if nearQuad < 20 || farQuad < 20 {
		t.Errorf("quadrant lesions: %d near, %d far; want both common", nearQuad, farQuad)
	}
}

// checkDecidable checks that a quadrant lesion keeps clear of the centre
// row and column, and that a central one covers the centre pixel.
func checkDecidable(t *testing.T, s data.Sample, loc zones.Location, size int) {
	t.Helper()
	c, m := size/2, placement{s: size}.margin()
	b := loc.Box
	var ok bool
	switch s.Zone {
	case zones.Center:
		ok = b.Min.X <= c && c < b.Max.X && b.Min.Y <= c && c < b.Max.Y
	case zones.TopLeft:
		ok = b.Max.X <= c-m && b.Max.Y <= c-m
	case zones.TopRight:
		ok = b.Min.X >= c+m && b.Max.Y <= c-m
	case zones.BottomLeft:
		ok = b.Max.X <= c-m && b.Min.Y >= c+m
	case zones.BottomRight:
		ok = b.Min.X >= c+m && b.Min.Y >= c+m
	}
	if !ok {
		t.Errorf("%v: %v lesion box %v not clear of the centre %d (margin %d)", s, s.Zone, b, c, m)
	}
	if b.Min.X < 1 || b.Min.Y < 1 || b.Max.X > size-1 || b.Max.Y > size-1 {
		t.Errorf("%v: lesion box %v touches the border", s, b)
	}
}

// checkContrast checks that the lesion differs clearly from the pixels
// just around it: the mean colour inside the mask and in a ring 2–4 pixels
// outside it (by the chessboard distance) differ by at least 40 levels in
// some channel.
func checkContrast(t *testing.T, s data.Sample, img image.Image, mask *image.Gray) {
	t.Helper()
	size := mask.Rect.Dx()
	inner, outer := dilate(mask.Pix, size, 1), dilate(mask.Pix, size, 4)
	var sumIn, sumOut [3]float64
	var nIn, nOut float64
	for y := range size {
		for x := range size {
			i := y*size + x
			ringPixel := outer[i] && !inner[i]
			if mask.Pix[i] == 0 && !ringPixel {
				continue
			}
			r, g, b, _ := img.At(x, y).RGBA()
			px := [3]float64{float64(r >> 8), float64(g >> 8), float64(b >> 8)}
			sum, n := &sumOut, &nOut
			if mask.Pix[i] > 0 {
				sum, n = &sumIn, &nIn
			}
			for c := range px {
				sum[c] += px[c]
			}
			*n++
		}
	}
	best := 0.0
	for i := range 3 {
		best = max(best, math.Abs(sumIn[i]/nIn-sumOut[i]/nOut))
	}
	if best < 40 {
		t.Errorf("%v: lesion contrast %.1f levels, want ≥ 40", s, best)
	}
}

// dilate returns the pixels of a size×size mask within chessboard distance
// k of a pixel > 0.
func dilate(pix []uint8, size, k int) []bool {
	rows := make([]bool, len(pix))
	for y := range size {
		for x := range size {
			for d := max(x-k, 0); d <= min(x+k, size-1); d++ {
				if pix[y*size+d] > 0 {
					rows[y*size+x] = true
					break
				}
			}
		}
	}
	out := make([]bool, len(pix))
	for y := range size {
		for x := range size {
			for d := max(y-k, 0); d <= min(y+k, size-1); d++ {
				if rows[d*size+x] {
					out[y*size+x] = true
					break
				}
			}
		}
	}
	return out
}

func TestGenerateOptions(t *testing.T) {
	root := t.TempDir()
	var calls []int
	err := Generate(root, Config{N: 3, Size: MinSize, Modalities: []string{"lung_CT"}, Seed: 3,
		Fractions: [3]float64{1, 0, 2}, Workers: 2, Progress: func(m string, done, total int) {
			if m != "lung_CT" || total != 3 {
				t.Errorf("progress(%q, %d, %d)", m, done, total)
			}
			calls = append(calls, done)
		}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(calls, []int{1, 2, 3}) {
		t.Errorf("progress calls %v", calls)
	}
	d, err := data.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if c := d.Counts(); len(c) != 1 || c["lung_CT"][data.SplitTrain] != 1 || c["lung_CT"][data.SplitVal] != 0 || c["lung_CT"][data.SplitTest] != 2 {
		t.Errorf("Counts = %v", c)
	}
	for _, s := range d.Samples("") {
		if _, _, err := data.LoadSample(s); err != nil {
			t.Error(err)
		}
	}
	for _, bad := range []Config{
		{Size: MinSize - 1},
		{N: -1},
		{Modalities: []string{"dental_xray"}},
		{Modalities: []string{"lung_CT", "lung_CT"}},
		{Fractions: [3]float64{1, -1, 0}},
		{Fractions: [3]float64{math.NaN(), 0, 0}},
	} {
		if err := Generate(t.TempDir(), bad); err == nil {
			t.Errorf("Generate(%+v) succeeded", bad)
		}
	}
}

func TestSynthSizes(t *testing.T) {
	// Every modality can place every zone at the smallest and a large size.
	for _, size := range []int{MinSize, 33, 257} {
		for _, lk := range looks() {
			pl := placement{s: size, minR: lk.minR, maxR: lk.maxR, newShape: lk.shape}
			for i, z := range zones.All() {
				r := randFor(uint64(size), uint64(i))
				if _, loc, err := pl.place(r, z, i%2 == 0); err != nil || loc.Zone != z {
					t.Errorf("size %d %s %v: %v %v", size, lk.name, z, loc.Zone, err)
				}
			}
		}
	}
}

// randFor returns a generator seeded with (a, b).
func randFor(a, b uint64) *rand.Rand { return rand.New(rand.NewPCG(a, b)) }
