package synth

import (
	"bytes"
	"fmt"
	"image/jpeg"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"slices"

	"github.com/prsmed/prsmed-go/prsmed/data"
	"github.com/prsmed/prsmed-go/zones"
)

// MaxFindings is the largest [Config.Findings] Generate accepts.
const MaxFindings = 4

// finding is one lesion of an image and how it is drawn.
type finding struct {
	*lesion
	kind  int  // 0: the modality's lesion word and look; 1: its second word and alternative look
	faint bool // drawn at reduced opacity ("the fainter …")
}

// opacity scales a look's lesion opacity o for a faint finding.
func (f finding) opacity(o float32) float32 {
	if f.faint {
		return 0.45 * o
	}
	return o
}

// paintAlt paints a kind-1 finding with colour function alt and reports
// whether it did; a kind-0 finding is left to the look's own painter.
func (f finding) paintAlt(c *canvas, alt func(x, y, i int, t float32) [3]float32) bool {
	if f.kind != 1 {
		return false
	}
	f.paint(c, 1, alt)
	return true
}

// altRing is the alternative look of the grey modalities: a dark core in a
// bright rim (a cyst or cavity).
func altRing(_, _, _ int, t float32) [3]float32 {
	if t > 0.7 {
		return grey(235)
	}
	return grey(20)
}

// altUlcer is the alternative look of the endoscopy modality: a pale
// yellow base in a dark red rim.
func altUlcer(_, _, _ int, t float32) [3]float32 {
	if t > 0.75 {
		return rgb(140, 25, 25)
	}
	return rgb(240, 228, 175)
}

// altMole is the alternative look of the dermoscopy modality: an even,
// nearly black brown.
func altMole(_, _, _ int, _ float32) [3]float32 { return rgb(48, 32, 26) }

// How the findings of one multi-finding image are told apart.
const (
	referPosition = iota // by side (left/right, upper/lower) or zone
	referSize            // the larger / smaller, the largest / smallest
	referContrast        // the fainter / the more distinct
	referKind            // by lesion word: two kinds in one modality
	referModes
)

// multiPlan is what one multi-finding image must be.
type multiPlan struct {
	id    int
	split string
	mode  int
	k     int // number of findings
}

// planMulti assigns each of the cfg.N images a split, a referring mode
// (the four modes in turn, so each is used within one of the others'
// counts in every split) and a finding count: 2 … cfg.Findings for the
// position and size modes, 2 for the contrast and kind modes.
func planMulti(cfg Config, name string) []multiPlan {
	base := planModality(cfg, name) // splits as in the one-finding mode
	r := rand.New(rand.NewPCG(modalitySeed(cfg.Seed, name), 0x6d756c7469))
	offset := map[string]int{}
	for _, sp := range data.Splits() {
		offset[sp] = r.IntN(referModes)
	}
	seen := map[string]int{}
	plans := make([]multiPlan, len(base))
	for i, b := range base {
		mode := (offset[b.split] + seen[b.split]) % referModes
		seen[b.split]++
		k := 2
		if mode == referPosition || mode == referSize {
			k = 2 + r.IntN(cfg.Findings-1)
		}
		plans[i] = multiPlan{id: b.id, split: b.split, mode: mode, k: k}
	}
	return plans
}

// multiMaskRel returns the mask path of finding j (from 0) of image id,
// relative to the root in slash form.
func multiMaskRel(lk look, split string, id, j int) string {
	dir := lk.name + "/" + split + "_masks"
	if lk.jpeg {
		return path.Join(dir, fmt.Sprintf("ISIC_%07d_%d_Segmentation.png", id, j+1))
	}
	return path.Join(dir, fmt.Sprintf("%d_%d.png", id, j+1))
}

// placedFinding is a drawn finding with its location and the words that
// refer to it.
type placedFinding struct {
	finding
	loc    zones.Location
	area   int
	phrase string // the referring phrase without "the", e.g. "larger tumour"
	sided  bool   // phrase holds a direction word
}

// writeMultiSample draws one multi-finding image, writes it and one mask
// per finding, and returns one CSV row per finding, in finding order.
func writeMultiSample(root string, cfg Config, lk look, p multiPlan) ([]synthRow, error) {
	r := rand.New(rand.NewPCG(modalitySeed(cfg.Seed, lk.name)^0x6d756c7469, uint64(p.id)))
	quads := []zones.Zone{zones.TopLeft, zones.TopRight, zones.BottomLeft, zones.BottomRight}
	r.Shuffle(len(quads), func(a, b int) { quads[a], quads[b] = quads[b], quads[a] })
	fs := make([]placedFinding, p.k)
	for j := range p.k {
		pl := placement{s: cfg.Size, minR: lk.minR, maxR: lk.maxR, newShape: lk.shape}
		f := finding{}
		switch p.mode {
		case referSize:
			// Finding 0 is drawn large, the last small, any others between.
			switch {
			case j == 0:
				pl.minR = 0.85 * lk.maxR
			case j == p.k-1:
				pl.minR, pl.maxR = max(0.7*lk.minR, 0.035), lk.minR
			default:
				pl.minR, pl.maxR = 1.15*lk.minR, max(0.7*lk.maxR, 1.15*lk.minR)
			}
		case referContrast:
			f.faint = j == 1
		case referKind:
			if j == 1 {
				f.kind = 1
				pl.newShape = func(r *rand.Rand, R float64) shape { return ellipseShape(r, R, 0.85) }
			}
		}
		les, loc, err := pl.place(r, quads[j], r.Float64() < 0.3)
		if err != nil {
			return nil, fmt.Errorf("image %d finding %d: %w", p.id, j+1, err)
		}
		f.lesion = les
		area := 0
		for _, on := range les.mask {
			if on {
				area++
			}
		}
		fs[j] = placedFinding{finding: f, loc: loc, area: area}
	}
	ch := 1
	if lk.color {
		ch = 3
	}
	c := newCanvas(cfg.Size, ch)
	drawn := make([]finding, len(fs))
	for j, f := range fs {
		drawn[j] = f.finding
	}
	lk.draw(r, c, drawn)
	word := data.LesionWord(lk.name)
	refer(r, fs, p.mode, word, lk.word2)

	_, imageRel, imageName := sampleNames(lk, p.split, p.id)
	var img bytes.Buffer
	var err error
	if lk.jpeg {
		err = jpeg.Encode(&img, c.image(), &jpeg.Options{Quality: 95})
	} else {
		err = encodePNG(&img, c.image())
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(root, filepath.FromSlash(imageRel)), img.Bytes(), 0o644)
	}
	if err != nil {
		return nil, fmt.Errorf("image %d: %w", p.id, err)
	}
	rows := make([]synthRow, len(fs))
	for j, f := range fs {
		maskRel := multiMaskRel(lk, p.split, p.id, j)
		var mask bytes.Buffer
		if err := encodePNG(&mask, f.maskImage()); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(root, filepath.FromSlash(maskRel)), mask.Bytes(), 0o644); err != nil {
			return nil, fmt.Errorf("image %d finding %d: %w", p.id, j+1, err)
		}
		// The answer repeats the referring phrase unless the phrase names a
		// direction (zones.Parse must read the finding's zone from it).
		answerWord := f.phrase
		if f.sided {
			answerWord = wordOf(f.finding, word, lk.word2)
		}
		rows[j] = synthRow{
			split:     p.split,
			id:        p.id,
			finding:   j + 1,
			maskRel:   maskRel,
			imageName: imageName,
			question:  zones.FillQuestion(zones.QuestionTemplates()[r.IntN(len(zones.QuestionTemplates()))], f.phrase),
			answer:    zones.Answer(r, f.loc.Zone, f.loc.Near, answerWord),
			position:  data.PositionSentence(r, f.loc.Zone, f.loc.Near),
		}
	}
	return rows, nil
}

// wordOf returns the lesion word of f's kind.
func wordOf(f finding, word, word2 string) string {
	if f.kind == 1 {
		return word2
	}
	return word
}

// sizeRatio is how much larger (in mask pixels) the largest finding must
// be than the next for "the larger"/"the largest" to name it, and the same
// for the smallest.
const sizeRatio = 1.4

// refer sets the referring phrase of every finding of an image: one that
// no other finding of the image fits. The mode says which attribute is
// used where it tells the findings apart; findings it does not single out
// are named by position.
func refer(r *rand.Rand, fs []placedFinding, mode int, word, word2 string) {
	for j := range fs {
		fs[j].phrase = ""
	}
	switch mode {
	case referSize:
		order := make([]int, len(fs))
		for j := range order {
			order[j] = j
		}
		slices.SortFunc(order, func(a, b int) int { return fs[b].area - fs[a].area })
		big, small := order[0], order[len(order)-1]
		larger, smaller := "largest ", "smallest "
		if len(fs) == 2 {
			larger, smaller = "larger ", "smaller "
		}
		if float64(fs[big].area) >= sizeRatio*float64(fs[order[1]].area) {
			fs[big].phrase = larger + word
		}
		if float64(fs[order[len(order)-2]].area) >= sizeRatio*float64(fs[small].area) {
			fs[small].phrase = smaller + word
		}
	case referContrast:
		for j := range fs {
			if fs[j].faint {
				fs[j].phrase = "fainter " + word
			} else {
				fs[j].phrase = "more distinct " + word
			}
		}
	case referKind:
		for j := range fs {
			fs[j].phrase = wordOf(fs[j].finding, word, word2)
		}
	}
	for j := range fs {
		if fs[j].phrase == "" {
			fs[j].phrase, fs[j].sided = positionPhrase(r, fs, j, wordOf(fs[j].finding, word, word2)), true
		}
	}
}

// positionPhrase names finding j by the half of the image it alone holds
// ("left tumour", "upper tumour") when there is one, chosen at random
// among those, and by its zone ("tumour in the top left") otherwise.
func positionPhrase(r *rand.Rand, fs []placedFinding, j int, word string) string {
	left := func(z zones.Zone) bool { return z == zones.TopLeft || z == zones.BottomLeft }
	top := func(z zones.Zone) bool { return z == zones.TopLeft || z == zones.TopRight }
	alone := func(same func(a, b zones.Zone) bool) bool {
		for i, f := range fs {
			if i != j && same(f.loc.Zone, fs[j].loc.Zone) {
				return false
			}
		}
		return true
	}
	z := fs[j].loc.Zone
	var opts []string
	if alone(func(a, b zones.Zone) bool { return left(a) == left(b) }) {
		side := "right "
		if left(z) {
			side = "left "
		}
		opts = append(opts, side+word)
	}
	if alone(func(a, b zones.Zone) bool { return top(a) == top(b) }) {
		side := "lower "
		if top(z) {
			side = "upper "
		}
		opts = append(opts, side+word)
	}
	// The zone always singles a finding out: the findings lie in different
	// quadrants.
	opts = append(opts, word+" in the "+z.String())
	return opts[r.IntN(len(opts))]
}
