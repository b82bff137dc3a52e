// Package volumeset turns labelled 3-D volumes (an image and a label map on the same grid,
// with a table naming the label values) into a PosMed data root that package prsmed/data
// reads: for every label and every slice where the label covers at least MinPixels pixels,
// the windowed slice as a PNG, the label's binary mask, a question naming the structure,
// and an answer and position sentence from the mask's zone (zones.Locate).
//
// # Display orientation
//
// Slices are cut with volume.Slice, in radiological display orientation whatever the
// voxel order of the files: axial and coronal slices show the patient's left on the
// image's right (anterior, resp. superior, at the top); sagittal slices show anterior on
// the image's left and superior at the top. Zones (top left, …) name positions in the
// image; structure names ("left hippocampus") name anatomy. So the left hippocampus of an
// axial slice lies in the right half of the image, and its answer says so.
//
// # Splits
//
// With two or more subjects the split is by subject (a subject's slices all go to one
// split), subjects shuffled by the seed and counted out by Fractions. With one subject,
// the slices are cut into contiguous blocks of BlockSlices slices, blocks shuffled and
// counted out the same way, and a slice whose neighbour went to another split is dropped
// (a guard), so no two neighbouring slices sit in different splits.
//
// The same inputs, configuration and seed give the same files, byte for byte.
package volumeset

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"hash/fnv"
	"image"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"sort"

	"github.com/prsmed/prsmed-go/prsmed/data"
	"github.com/prsmed/prsmed-go/prsmed/imageio/volume"
	"github.com/prsmed/prsmed-go/prsmed/imageio/window"
	"github.com/prsmed/prsmed-go/zones"
)

// Subject is one labelled volume.
type Subject struct {
	// Name identifies the subject in file names (letters, digits, '.', '_' and '-').
	Name string
	// Image is the image volume; Labels the label map on the same grid (whole-number
	// voxel values).
	Image, Labels *volume.Volume
	// Open, when set and Image is nil, loads the two volumes; Build calls it twice (a
	// scan, then the writing) and keeps one subject in memory at a time.
	Open func(ctx context.Context) (image, labels *volume.Volume, err error)
}

// volumes returns the subject's image and label map, checked.
func (s Subject) volumes(ctx context.Context, tol float64) (*volume.Volume, *volume.Volume, error) {
	img, lab := s.Image, s.Labels
	if img == nil && s.Open != nil {
		var err error
		if img, lab, err = s.Open(ctx); err != nil {
			return nil, nil, fmt.Errorf("subject %s: %w", s.Name, err)
		}
	}
	if img == nil || lab == nil {
		return nil, nil, fmt.Errorf("%w: subject %s lacks its image or label map", ErrInput, s.Name)
	}
	if err := img.SameGrid(lab, tol); err != nil {
		return nil, nil, fmt.Errorf("%w: subject %s: the label map is not on the image's grid: %v", ErrInput, s.Name, err)
	}
	if err := img.CheckFinite(); err != nil {
		return nil, nil, fmt.Errorf("%w: subject %s image: %v", ErrInput, s.Name, err)
	}
	for n, x := range lab.Data {
		if f := float64(x); f != math.Trunc(f) || f < 0 || f > MaxLabelValue {
			return nil, nil, fmt.Errorf("%w: subject %s label map voxel %d is %v, not a label value", ErrInput, s.Name, n, x)
		}
	}
	return img, lab, nil
}

// Config says what to write.
type Config struct {
	// Modality names the CSV and the folder under the root ("volumes" when empty).
	Modality string
	// Plane is the slicing plane.
	Plane volume.Plane
	// MinPixels is the least number of pixels a label must cover in a slice for the
	// slice to be written for it (1 when ≤ 0).
	MinPixels int
	// Window maps image values to gray levels: explicit (centre/width or a preset) or
	// min–max per slice. A volume has no file window, so window.FromFile is refused.
	Window window.Window
	// Fractions are the train, val and test shares (0.7, 0.15, 0.15 when all zero).
	Fractions [3]float64
	// BlockSlices is the block length of the one-subject split (10 when ≤ 0).
	BlockSlices int
	// Seed drives the split and the choice of question and answer templates.
	Seed uint64
	// GridTolerance is the largest difference, in millimetres, allowed between an
	// image's affine and its label map's (1e-3 when ≤ 0).
	GridTolerance float64
}

// Summary says what Build wrote.
type Summary struct {
	// Rows per split; Slices (images) per split.
	Rows, Slices map[string]int
	// PerLabel counts rows per label name.
	PerLabel map[string]int
	// Guards counts the slices dropped so neighbours do not straddle splits.
	Guards int
	// Unnamed lists label values found in a map but absent from the table (ignored).
	Unnamed []int
	// SubjectSplit maps each subject to its split (subject splits only).
	SubjectSplit map[string]string
	// UnparsedAnswers counts rows whose answer zones.Parse does not map back to the
	// mask's zone: a structure name that reads as an image position ("upper left
	// lesion") competes with the zone. Side words before anatomy ("left hippocampus")
	// parse fine. Training is unaffected; zone accuracy computed from generated answers
	// (zones.Parse) undercounts on such labels.
	UnparsedAnswers map[string]int
}

var nameOK = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// ErrInput is wrapped by errors about the inputs (grids, values, names, settings).
var ErrInput = errors.New("volumeset: bad input")

func (c *Config) defaults() error {
	if c.Modality == "" {
		c.Modality = "volumes"
	}
	if !nameOK.MatchString(c.Modality) {
		return fmt.Errorf("%w: modality %q (letters, digits, '.', '_', '-')", ErrInput, c.Modality)
	}
	if c.MinPixels <= 0 {
		c.MinPixels = 1
	}
	if c.Fractions == [3]float64{} {
		c.Fractions = [3]float64{0.7, 0.15, 0.15}
	}
	sum := 0.0
	for _, f := range c.Fractions {
		if f < 0 || math.IsNaN(f) {
			return fmt.Errorf("%w: split fractions %v", ErrInput, c.Fractions)
		}
		sum += f
	}
	if math.Abs(sum-1) > 1e-6 || c.Fractions[0] == 0 {
		return fmt.Errorf("%w: split fractions %v must sum to 1 with a train share", ErrInput, c.Fractions)
	}
	if c.BlockSlices <= 0 {
		c.BlockSlices = 10
	}
	if c.GridTolerance <= 0 {
		c.GridTolerance = 1e-3
	}
	if c.Window.Kind == window.FromFile {
		return fmt.Errorf("%w: a volume has no file window: give a centre/width, a preset or min–max", ErrInput)
	}
	if c.Window.Kind == window.Explicit && !(c.Window.Width > 0) {
		return fmt.Errorf("%w: window width %v", ErrInput, c.Window.Width)
	}
	return nil
}

// row is one CSV row before writing.
type row struct {
	split, subject   string
	slice, value     int
	maskRel, image   string
	question         string
	answer, position string
	parsed           bool // zones.Parse(answer) gives the mask's zone
}

// Build writes the data root under root (which must not hold this modality's CSV yet).
func Build(ctx context.Context, root string, subjects []Subject, labels []Label, cfg Config) (*Summary, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	if len(subjects) == 0 || len(labels) == 0 {
		return nil, fmt.Errorf("%w: %d subjects, %d labels", ErrInput, len(subjects), len(labels))
	}
	names := map[int]string{}
	for _, l := range labels {
		names[l.Value] = l.Name
	}
	seen := map[string]bool{}
	for _, s := range subjects {
		if !nameOK.MatchString(s.Name) || seen[s.Name] {
			return nil, fmt.Errorf("%w: subject name %q (unique; letters, digits, '.', '_', '-')", ErrInput, s.Name)
		}
		seen[s.Name] = true
	}
	csvPath := filepath.Join(root, cfg.Modality+".csv")
	if _, err := os.Stat(csvPath); err == nil {
		return nil, fmt.Errorf("%w: %s exists", ErrInput, csvPath)
	}
	sum := &Summary{Rows: map[string]int{}, Slices: map[string]int{}, PerLabel: map[string]int{}, UnparsedAnswers: map[string]int{}}
	unnamed := map[int]bool{}

	// Candidate slices per subject: the labels each slice shows enough of.
	type cand struct {
		slice  int
		values []int
	}
	cands := make([][]cand, len(subjects))
	counts := make([]int, MaxLabelValue+1) // pixels per label value in one slice
	// The last subject scanned stays loaded for the writing pass (with one subject, it is
	// read once); the others are read again, so one subject is in memory at a time.
	var lastImg, lastLab *volume.Volume
	for si, s := range subjects {
		lastImg, lastLab = nil, nil
		img, labels, err := s.volumes(ctx, cfg.GridTolerance)
		if err != nil {
			return nil, err
		}
		if si == len(subjects)-1 {
			lastImg, lastLab = img, labels
		}
		n, err := labels.Slices(cfg.Plane)
		if err != nil {
			return nil, err
		}
		for k := 0; k < n; k++ {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			lab, _, _, err := labels.Slice(cfg.Plane, k)
			if err != nil {
				return nil, err
			}
			var present []int
			for _, x := range lab {
				if v := int(x); v != 0 {
					if counts[v] == 0 {
						present = append(present, v)
					}
					counts[v]++
				}
			}
			var vals []int
			for _, v := range present {
				c := counts[v]
				counts[v] = 0
				if _, ok := names[v]; !ok {
					unnamed[v] = true
					continue
				}
				if c >= cfg.MinPixels {
					vals = append(vals, v)
				}
			}
			if len(vals) > 0 {
				sort.Ints(vals)
				cands[si] = append(cands[si], cand{k, vals})
			}
		}
	}
	// Splits.
	splitOf := make([]map[int]string, len(subjects)) // per subject: slice → split
	if len(subjects) > 1 {
		sum.SubjectSplit = map[string]string{}
		order := make([]int, len(subjects))
		for i := range order {
			order[i] = i
		}
		sort.Slice(order, func(a, b int) bool { return subjects[order[a]].Name < subjects[order[b]].Name })
		shuffle(cfg.Seed, order)
		for i, sp := range assign(len(order), cfg.Fractions) {
			si := order[i]
			sum.SubjectSplit[subjects[si].Name] = sp
			splitOf[si] = map[int]string{}
			for _, c := range cands[si] {
				splitOf[si][c.slice] = sp
			}
		}
	} else {
		splitOf[0] = map[int]string{}
		blocks := map[int]bool{}
		for _, c := range cands[0] {
			blocks[c.slice/cfg.BlockSlices] = true
		}
		var ids []int
		for b := range blocks {
			ids = append(ids, b)
		}
		sort.Ints(ids)
		shuffle(cfg.Seed, ids)
		blockSplit := map[int]string{}
		for i, sp := range assign(len(ids), cfg.Fractions) {
			blockSplit[ids[i]] = sp
		}
		prev, prevSplit := -2, ""
		for _, c := range cands[0] {
			sp := blockSplit[c.slice/cfg.BlockSlices]
			if c.slice == prev+1 && prevSplit != "" && prevSplit != sp {
				sum.Guards++
				prev, prevSplit = c.slice, "" // dropped: its own neighbour is free
				continue
			}
			splitOf[0][c.slice] = sp
			prev, prevSplit = c.slice, sp
		}
	}

	// Write images, masks and rows, the subject still loaded first (rows are sorted
	// afterwards, so the order does not show).
	var rows []row
	for si := len(subjects) - 1; si >= 0; si-- {
		s := subjects[si]
		img, labels := lastImg, lastLab
		lastImg, lastLab = nil, nil
		if len(splitOf[si]) == 0 {
			continue
		}
		if img == nil {
			var err error
			if img, labels, err = s.volumes(ctx, cfg.GridTolerance); err != nil {
				return nil, err
			}
		}
		for _, c := range cands[si] {
			sp, ok := splitOf[si][c.slice]
			if !ok {
				continue
			}
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			r, err := writeSlice(root, s.Name, img, labels, c.slice, c.values, sp, names, cfg)
			if err != nil {
				return nil, err
			}
			rows = append(rows, r...)
			sum.Slices[sp]++
		}
	}
	order := map[string]int{data.SplitTrain: 0, data.SplitVal: 1, data.SplitTest: 2}
	sort.SliceStable(rows, func(a, b int) bool {
		x, y := rows[a], rows[b]
		if x.split != y.split {
			return order[x.split] < order[y.split]
		}
		if x.subject != y.subject {
			return x.subject < y.subject
		}
		if x.slice != y.slice {
			return x.slice < y.slice
		}
		return x.value < y.value
	})
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write(data.Columns())
	for _, r := range rows {
		w.Write([]string{r.maskRel, r.image, r.question, r.answer, r.position, r.split})
		sum.Rows[r.split]++
		sum.PerLabel[names[r.value]]++
		if !r.parsed {
			sum.UnparsedAnswers[names[r.value]]++
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return nil, err
	}
	if err := os.WriteFile(csvPath, buf.Bytes(), 0o644); err != nil {
		return nil, err
	}
	for v := range unnamed {
		sum.Unnamed = append(sum.Unnamed, v)
	}
	sort.Ints(sum.Unnamed)
	return sum, nil
}

// assign gives n shuffled items their splits: the first share train, then val, then
// test, with at least one train item and, when there are three or more items, at least
// one test item (and one val item when its share is non-zero).
func assign(n int, f [3]float64) []string {
	nVal := int(math.Round(f[1] * float64(n)))
	nTest := int(math.Round(f[2] * float64(n)))
	if n >= 3 && f[2] > 0 && nTest == 0 {
		nTest = 1
	}
	if n >= 3 && f[1] > 0 && nVal == 0 {
		nVal = 1
	}
	for n-nVal-nTest < 1 && nVal+nTest > 0 {
		if nVal >= nTest && nVal > 0 {
			nVal--
		} else {
			nTest--
		}
	}
	out := make([]string, n)
	for i := range out {
		switch {
		case i < n-nVal-nTest:
			out[i] = data.SplitTrain
		case i < n-nTest:
			out[i] = data.SplitVal
		default:
			out[i] = data.SplitTest
		}
	}
	return out
}

// shuffle permutes xs with a generator seeded by seed alone.
func shuffle(seed uint64, xs []int) {
	r := rand.New(rand.NewPCG(seed, 0x766f6c756d65))
	r.Shuffle(len(xs), func(i, j int) { xs[i], xs[j] = xs[j], xs[i] })
}

// rowRand is the text generator of one row: seeded by the seed, subject, slice and label,
// so the text does not depend on which other rows exist.
func rowRand(seed uint64, subject string, slice, value int) *rand.Rand {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s\x00%d\x00%d", subject, slice, value)
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

// writeSlice writes one slice's image and one mask per label, returning their rows.
func writeSlice(root, subject string, imgVol, labels *volume.Volume, k int, values []int, split string, names map[int]string, cfg Config) ([]row, error) {
	img, h, w, err := imgVol.Slice(cfg.Plane, k)
	if err != nil {
		return nil, err
	}
	lab, _, _, err := labels.Slice(cfg.Plane, k)
	if err != nil {
		return nil, err
	}
	vals := make([]float64, len(img))
	for i, x := range img {
		vals[i] = float64(x)
	}
	var norm []float64
	if cfg.Window.Kind == window.Explicit {
		norm, err = window.Normalize(nil, vals, cfg.Window.Center, cfg.Window.Width, window.Linear)
		if err != nil {
			return nil, err
		}
	} else {
		norm = window.NormalizeMinMax(nil, vals)
	}
	stem := fmt.Sprintf("%s_%s%04d", subject, cfg.Plane, k)
	imgName := stem + ".png"
	imgRel := filepath.ToSlash(filepath.Join(cfg.Modality, split+"_images", imgName))
	if err := writePNG(filepath.Join(root, imgRel), window.Gray8(norm, h, w, false)); err != nil {
		return nil, err
	}
	var out []row
	for _, v := range values {
		m := image.NewGray(image.Rect(0, 0, w, h))
		for i, x := range lab {
			if int(x) == v {
				m.Pix[i] = 255
			}
		}
		loc, err := zones.Locate(m)
		if err != nil {
			return nil, fmt.Errorf("subject %s slice %d label %d: %w", subject, k, v, err)
		}
		maskRel := filepath.ToSlash(filepath.Join(cfg.Modality, split+"_masks", fmt.Sprintf("%s_%d.png", stem, v)))
		if err := writePNG(filepath.Join(root, maskRel), m); err != nil {
			return nil, err
		}
		r := rowRand(cfg.Seed, subject, k, v)
		name := names[v]
		question := zones.Question(r, name)
		answer := zones.Answer(r, loc.Zone, loc.Near, name)
		z, ok := zones.Parse(answer)
		out = append(out, row{
			parsed: ok && z == loc.Zone,
			split:  split, subject: subject, slice: k, value: v,
			maskRel: maskRel, image: imgName,
			question: question,
			answer:   answer,
			position: data.PositionSentence(r, loc.Zone, loc.Near),
		})
	}
	return out, nil
}

func writePNG(path string, m image.Image) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	var b bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&b, m); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}
