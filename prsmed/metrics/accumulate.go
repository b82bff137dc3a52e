package metrics

import (
	"sort"

	"github.com/prsmed/prsmed-go/zones"
)

// Accumulator gathers per-image results and answers by group (normally the
// modality) and summarises them. The zero value is ready to use. It is not
// safe for concurrent use; add results in a fixed order for bit-identical
// sums.
type Accumulator struct {
	groups map[string]*sums
}

// sums are the running totals of one group.
type sums struct {
	images        int
	dice05, iou05 float64
	dice, iou     [NumThresholds]float64

	answers, correct, unparsed int
}

func (a *Accumulator) group(name string) *sums {
	if a.groups == nil {
		a.groups = map[string]*sums{}
	}
	g := a.groups[name]
	if g == nil {
		g = &sums{}
		a.groups[name] = g
	}
	return g
}

// Add records one image's result under group.
func (a *Accumulator) Add(group string, r *Result) {
	g := a.group(group)
	g.images++
	g.dice05 += r.Dice05
	g.iou05 += r.IoU05
	for j := range r.Dice {
		g.dice[j] += r.Dice[j]
		g.iou[j] += r.IoU[j]
	}
}

// AddAnswer records a generated answer under group and reports whether the
// zone it names (by [zones.Parse]) is truth. An answer that names no single
// zone counts as wrong and as unparsed.
func (a *Accumulator) AddAnswer(group, answer string, truth zones.Zone) bool {
	z, ok := zones.Parse(answer)
	a.AddZone(group, ok && z == truth, !ok)
	return ok && z == truth
}

// AddZone records an answer already judged under group: whether it named the true zone,
// and whether it named no single zone (then it is not correct). Merging the judgements of
// several processes with it gives the counts AddAnswer gives in one.
func (a *Accumulator) AddZone(group string, correct, unparsed bool) {
	g := a.group(group)
	g.answers++
	if unparsed {
		g.unparsed++
	} else if correct {
		g.correct++
	}
}

// Stats summarise one group, or all of them.
type Stats struct {
	// Name is the group name, or "overall".
	Name string `json:"name"`
	// Images is the number of images scored.
	Images int `json:"images"`
	// Dice05 and IoU05 are the mean over images of Dice and IoU at 0.5.
	Dice05 float64 `json:"dice@0.5"`
	IoU05  float64 `json:"iou@0.5"`
	// MeanDice and MeanIoU are the paper's mDice and mIoU: for each
	// threshold the mean over images, then the mean over thresholds.
	MeanDice float64 `json:"mDice"`
	MeanIoU  float64 `json:"mIoU"`
	// MaxDice and MaxIoU are the largest per-threshold means over images.
	MaxDice float64 `json:"maxDice"`
	MaxIoU  float64 `json:"maxIoU"`
	// Answers counts the answers recorded, ZoneCorrect those naming the
	// true zone and ZoneUnparsed those naming no single zone.
	Answers      int `json:"answers"`
	ZoneCorrect  int `json:"zone_correct"`
	ZoneUnparsed int `json:"zone_unparsed"`
	// ZoneAccuracy is ZoneCorrect/Answers, or 0 when there are no answers.
	ZoneAccuracy float64 `json:"zone_accuracy"`
}

// Summary holds the statistics of every group, sorted by name, and of all
// images pooled together.
type Summary struct {
	Groups  []Stats `json:"groups"`
	Overall Stats   `json:"overall"`
}

// Summary computes the statistics so far. Overall pools every image and
// answer (so a large group weighs more than a small one); it is not the
// mean of the group means.
func (a *Accumulator) Summary() Summary {
	names := make([]string, 0, len(a.groups))
	for n := range a.groups {
		names = append(names, n)
	}
	sort.Strings(names)
	var s Summary
	var all sums
	for _, n := range names {
		g := a.groups[n]
		s.Groups = append(s.Groups, g.stats(n))
		all.images += g.images
		all.dice05 += g.dice05
		all.iou05 += g.iou05
		for j := range g.dice {
			all.dice[j] += g.dice[j]
			all.iou[j] += g.iou[j]
		}
		all.answers += g.answers
		all.correct += g.correct
		all.unparsed += g.unparsed
	}
	s.Overall = all.stats("overall")
	return s
}

func (g *sums) stats(name string) Stats {
	st := Stats{
		Name:         name,
		Images:       g.images,
		Answers:      g.answers,
		ZoneCorrect:  g.correct,
		ZoneUnparsed: g.unparsed,
	}
	if g.answers > 0 {
		st.ZoneAccuracy = float64(g.correct) / float64(g.answers)
	}
	if g.images == 0 {
		return st
	}
	n := float64(g.images)
	st.Dice05, st.IoU05 = g.dice05/n, g.iou05/n
	var dice, iou [NumThresholds]float64
	for j := range dice {
		dice[j], iou[j] = g.dice[j]/n, g.iou[j]/n
	}
	st.MeanDice, st.MeanIoU = mean(dice[:]), mean(iou[:])
	st.MaxDice, st.MaxIoU = maxOf(dice[:]), maxOf(iou[:])
	return st
}
