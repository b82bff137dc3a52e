// Package synth writes synthetic PosMed data roots: six modalities named like the real ones,
// each image with a lesion whose mask, position answer and Clinical Action Zone agree, in
// the layout package data reads. It stands in for PosMed where the real data is absent
// (tests, the quickstart).
package synth

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"hash/fnv"
	"image"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/prsmed/prsmed-go/prsmed/data"
	"github.com/prsmed/prsmed-go/zones"
)

// Defaults of [Config], sized for a quick CPU run.
const (
	DefaultN    = 60  // samples per modality
	DefaultSize = 128 // image side in pixels
	MinSize     = 32  // smallest image side Generate accepts
)

// Config configures [Generate]. Zero fields take the defaults.
type Config struct {
	// N is the number of samples (one image, one mask, one CSV row) per
	// modality; default DefaultN.
	N int
	// Size is the side of the square images in pixels; default
	// DefaultSize, at least MinSize.
	Size int
	// Seed selects the data. The same configuration always writes the same
	// bytes (with the same Go version).
	Seed uint64
	// Fractions are the relative shares of train, val and test; all zero
	// means 70/15/15. Val and test get round(N·share) samples each and
	// train the rest.
	Fractions [3]float64
	// Modalities lists the modalities to write; empty means all six of
	// [Modalities].
	Modalities []string
	// Findings, when 2 … MaxFindings, selects the multi-finding mode: N
	// is then the number of images per modality, each holding between 2 and
	// Findings findings in different quadrants, with one CSV row (question,
	// mask, answer) per finding; see [Generate]. 0 or 1 writes one finding
	// per image.
	Findings int
	// Workers is the number of samples drawn in parallel; default
	// GOMAXPROCS. It does not change the output.
	Workers int
	// Progress, when set, is called after each sample is written with the
	// modality and the number of its samples written so far. Calls are
	// serialised, and done grows by one each call up to total.
	Progress func(modality string, done, total int)
}

// Modalities returns the names of the six synthetic modalities, the
// same as the real PosMed modality folders. The slice is new on every call.
func Modalities() []string {
	ls := looks()
	names := make([]string, len(ls))
	for i, l := range ls {
		names[i] = l.name
	}
	return names
}

// withDefaults fills zero fields and checks the rest.
func (c Config) withDefaults() (Config, error) {
	if c.N == 0 {
		c.N = DefaultN
	}
	if c.Size == 0 {
		c.Size = DefaultSize
	}
	if c.Fractions == [3]float64{} {
		c.Fractions = [3]float64{0.70, 0.15, 0.15}
	}
	if c.Workers <= 0 {
		c.Workers = runtime.GOMAXPROCS(0)
	}
	if len(c.Modalities) == 0 {
		c.Modalities = Modalities()
	}
	switch {
	case c.N < 1:
		return c, fmt.Errorf("synthetic data: sample count %d, need at least 1", c.N)
	case c.Size < MinSize:
		return c, fmt.Errorf("synthetic data: image size %d, need at least %d", c.Size, MinSize)
	case c.Findings < 0 || c.Findings > MaxFindings:
		return c, fmt.Errorf("synthetic data: %d findings per image, need 0 … %d", c.Findings, MaxFindings)
	case c.Size > 4096:
		return c, fmt.Errorf("synthetic data: image size %d, at most 4096", c.Size)
	}
	sum := 0.0
	for _, f := range c.Fractions {
		if f < 0 || math.IsNaN(f) || math.IsInf(f, 0) {
			return c, fmt.Errorf("synthetic data: split fractions %v must be finite and ≥ 0", c.Fractions)
		}
		sum += f
	}
	for i := range c.Fractions {
		c.Fractions[i] /= sum
	}
	known := Modalities()
	for i, m := range c.Modalities {
		if !slices.Contains(known, m) {
			return c, fmt.Errorf("synthetic data: unknown modality %q (known: %s)", m, strings.Join(known, ", "))
		}
		if slices.Contains(c.Modalities[:i], m) {
			return c, fmt.Errorf("synthetic data: modality %q listed twice", m)
		}
	}
	return c, nil
}

// Generate writes a synthetic PosMed data root at root (created if needed;
// files of the same names are overwritten, other files are left alone):
//
//	root/<modality>.csv
//	root/<modality>/{train,val,test}_images/<id>.png
//	root/<modality>/{train,val,test}_masks/<id>.png
//
// for each modality of cfg, with ids 1 … N. skin_rgbimage follows the ISIC
// naming of the real data: images ISIC_<7-digit id>.jpg, masks
// ISIC_<id>_Segmentation.png, image_name without extension. Images are 8-bit
// grey PNGs (brain, breast, lung_CT, lung_Xray), RGB PNGs (polyp) or RGB
// JPEGs (skin); masks are 8-bit grey PNGs with 0 and 255. The CSV has the
// official header and one row per image, ordered by split (train, val, test)
// and id; its position column comes from [data.PositionSentence], question and
// answer from zones.Question and zones.Answer with the modality's
// [data.LesionWord].
//
// Every mask holds one lesion. Zones are balanced: within each split of each
// modality, and over the whole modality, the five zone counts differ by at
// most one (so a split of at least five samples holds every zone), in a
// shuffled order. A quadrant lesion lies wholly
// inside its quadrant, a few pixels from the centre row and column; a
// central lesion covers the centre pixel. The zone and the near-centre flag
// written to the CSV are those zones.Locate finds in the written mask.
//
// With cfg.Findings of 2 or more, N counts images and each image holds 2 …
// Findings findings in different quadrants, disjoint, with one row per
// finding: mask <id>_<j>.png (skin ISIC_<id>_<j>_Segmentation.png), the
// image's image_name, and a question that names that finding and no other
// of the image (by side or zone, by size, by contrast, or by its lesion
// word; docs/data.md lists the phrases). All findings of an image share its
// split. Progress then counts images.
func Generate(root string, cfg Config) error {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return fmt.Errorf("synthetic data: %w", err)
	}
	for _, lk := range looks() {
		if !slices.Contains(cfg.Modalities, lk.name) {
			continue
		}
		if err := generateModality(root, cfg, lk); err != nil {
			return fmt.Errorf("synthetic data: %s: %w", lk.name, err)
		}
	}
	return nil
}

// plan is what one synthetic sample must be.
type plan struct {
	id    int
	split string
	zone  zones.Zone
}

// modalitySeed mixes the seed with the modality name.
func modalitySeed(seed uint64, name string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return seed ^ h.Sum64()
}

// planModality assigns each of the n samples a split and a zone.
func planModality(cfg Config, name string) []plan {
	r := rand.New(rand.NewPCG(modalitySeed(cfg.Seed, name), math.MaxUint64))
	n := cfg.N
	nVal := int(math.Round(float64(n) * cfg.Fractions[1]))
	nTest := int(math.Round(float64(n) * cfg.Fractions[2]))
	if nVal+nTest > n {
		nTest = n - nVal
	}
	splits := make([]string, 0, n)
	for i := range n {
		switch {
		case i < n-nVal-nTest:
			splits = append(splits, data.SplitTrain)
		case i < n-nTest:
			splits = append(splits, data.SplitVal)
		default:
			splits = append(splits, data.SplitTest)
		}
	}
	r.Shuffle(n, func(i, j int) { splits[i], splits[j] = splits[j], splits[i] })

	// Each split gets every zone ⌊m/5⌋ times plus m mod 5 distinct zones,
	// chosen among those used least so far in the modality.
	total := map[zones.Zone]int{}
	bySplit := map[string][]zones.Zone{}
	for _, sp := range data.Splits() {
		m := 0
		for _, s := range splits {
			if s == sp {
				m++
			}
		}
		var zs []zones.Zone
		for range m / 5 {
			zs = append(zs, zones.All()...)
		}
		extra := zones.All()
		r.Shuffle(len(extra), func(a, b int) { extra[a], extra[b] = extra[b], extra[a] })
		slices.SortStableFunc(extra, func(a, b zones.Zone) int { return total[a] - total[b] })
		for _, z := range extra[:m%5] {
			zs = append(zs, z)
			total[z]++
		}
		r.Shuffle(len(zs), func(a, b int) { zs[a], zs[b] = zs[b], zs[a] })
		bySplit[sp] = zs
	}
	plans := make([]plan, n)
	for i, sp := range splits {
		plans[i] = plan{id: i + 1, split: sp, zone: bySplit[sp][0]}
		bySplit[sp] = bySplit[sp][1:]
	}
	return plans
}

// synthRow is one generated sample's CSV row.
type synthRow struct {
	split                                          string
	id, finding                                    int
	maskRel, imageName, question, answer, position string
}

// generateModality writes one modality's files and CSV.
func generateModality(root string, cfg Config, lk look) error {
	var (
		n     int
		write func(i int) ([]synthRow, error)
	)
	if cfg.Findings >= 2 {
		plans := planMulti(cfg, lk.name)
		n = len(plans)
		write = func(i int) ([]synthRow, error) { return writeMultiSample(root, cfg, lk, plans[i]) }
	} else {
		plans := planModality(cfg, lk.name)
		n = len(plans)
		write = func(i int) ([]synthRow, error) {
			row, err := writeSample(root, cfg, lk, plans[i])
			return []synthRow{row}, err
		}
	}
	for _, sp := range data.Splits() {
		for _, kind := range [...]string{"images", "masks"} {
			if err := os.MkdirAll(filepath.Join(root, lk.name, sp+"_"+kind), 0o755); err != nil {
				return err
			}
		}
	}
	rowsOf := make([][]synthRow, n)
	errs := make([]error, n)
	var (
		mu   sync.Mutex
		done int
		wg   sync.WaitGroup
	)
	next := make(chan int)
	for range min(cfg.Workers, n) {
		wg.Go(func() {
			for i := range next {
				rowsOf[i], errs[i] = write(i)
				if cfg.Progress != nil && errs[i] == nil {
					mu.Lock()
					done++
					cfg.Progress(lk.name, done, n)
					mu.Unlock()
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	rows := slices.Concat(rowsOf...)
	order := map[string]int{data.SplitTrain: 0, data.SplitVal: 1, data.SplitTest: 2}
	slices.SortFunc(rows, func(a, b synthRow) int {
		if d := order[a.split] - order[b.split]; d != 0 {
			return d
		}
		if d := a.id - b.id; d != 0 {
			return d
		}
		return a.finding - b.finding
	})
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write(data.Columns())
	for _, r := range rows {
		w.Write([]string{r.maskRel, r.imageName, r.question, r.answer, r.position, r.split})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(root, lk.name+".csv"), buf.Bytes(), 0o644)
}

// sampleNames returns the mask path relative to the root (slash form), the
// image path relative to the root and the image_name column of sample id.
func sampleNames(lk look, split string, id int) (maskRel, imageRel, imageName string) {
	dir := lk.name + "/" + split
	if lk.jpeg {
		stem := fmt.Sprintf("ISIC_%07d", id)
		return path.Join(dir+"_masks", stem+"_Segmentation.png"), path.Join(dir+"_images", stem+".jpg"), stem
	}
	name := fmt.Sprintf("%d.png", id)
	return path.Join(dir+"_masks", name), path.Join(dir+"_images", name), name
}

// writeSample draws one sample, writes its image and mask, and returns its
// CSV row.
func writeSample(root string, cfg Config, lk look, p plan) (synthRow, error) {
	r := rand.New(rand.NewPCG(modalitySeed(cfg.Seed, lk.name), uint64(p.id)))
	pl := placement{s: cfg.Size, minR: lk.minR, maxR: lk.maxR, newShape: lk.shape}
	wantNear := p.zone != zones.Center && r.Float64() < 0.4
	les, loc, err := pl.place(r, p.zone, wantNear)
	if err != nil {
		return synthRow{}, fmt.Errorf("sample %d: %w", p.id, err)
	}
	ch := 1
	if lk.color {
		ch = 3
	}
	c := newCanvas(cfg.Size, ch)
	lk.draw(r, c, []finding{{lesion: les}})

	maskRel, imageRel, imageName := sampleNames(lk, p.split, p.id)
	var img, mask bytes.Buffer
	if lk.jpeg {
		err = jpeg.Encode(&img, c.image(), &jpeg.Options{Quality: 95})
	} else {
		err = encodePNG(&img, c.image())
	}
	if err == nil {
		err = encodePNG(&mask, les.maskImage())
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(root, filepath.FromSlash(imageRel)), img.Bytes(), 0o644)
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(root, filepath.FromSlash(maskRel)), mask.Bytes(), 0o644)
	}
	if err != nil {
		return synthRow{}, fmt.Errorf("sample %d: %w", p.id, err)
	}
	word := data.LesionWord(lk.name)
	return synthRow{
		split:     p.split,
		id:        p.id,
		maskRel:   maskRel,
		imageName: imageName,
		question:  zones.Question(r, word),
		answer:    zones.Answer(r, loc.Zone, loc.Near, word),
		position:  data.PositionSentence(r, loc.Zone, loc.Near),
	}, nil
}

// encodePNG writes m as a PNG, favouring speed over size.
func encodePNG(b *bytes.Buffer, m image.Image) error {
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	return enc.Encode(b, m)
}
