package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/prsmed/prsmed-go/prsmed/metrics"
	"github.com/prsmed/prsmed-go/zones"
)

// score evaluates every item with ground truth the way examples/evaluate does: the saved
// mask (8-bit probabilities) against the ground-truth mask, and the saved answer's zone
// against the mask's zone (the row's position when it names one).
//
// When some image holds several findings (rows of one image with different masks), the
// referring scores of those images are computed too.
func score(items []item, masksDir string, ans map[string]answerLine) (scores, int, error) {
	var acc metrics.Accumulator
	var refer *metrics.ReferAccumulator
	if multiFinding(items) {
		refer = &metrics.ReferAccumulator{}
	}
	n := 0
	for _, it := range items {
		if it.gt == "" {
			continue
		}
		gtImg, err := metrics.LoadImage(it.gt)
		if err != nil {
			return scores{}, 0, fmt.Errorf("ground truth: %w", err)
		}
		pred, err := metrics.LoadProb(filepath.Join(masksDir, filepath.FromSlash(it.key())))
		if err != nil {
			return scores{}, 0, err
		}
		gt := metrics.MaskFromImage(gtImg)
		res, err := metrics.Evaluate(pred, gt)
		if err != nil {
			return scores{}, 0, fmt.Errorf("%s: %w", it.key(), err)
		}
		if refer != nil {
			if err := refer.Add(it.image, it.gt, gt, pred); err != nil {
				return scores{}, 0, fmt.Errorf("%s: %w", it.key(), err)
			}
		}
		acc.Add(it.modality, &res)
		truth := zones.Zone(0)
		if it.sample != nil {
			truth = it.sample.Zone
		}
		if truth == 0 {
			truth, _ = zones.FromMask(gtImg)
		}
		if a, ok := ans[it.key()]; ok && truth != 0 {
			acc.AddAnswer(it.modality, a.Answer, truth)
		}
		n++
	}
	sc := scores{Summary: acc.Summary()}
	if refer != nil {
		r := refer.Result()
		sc.Referring = &r
	}
	return sc, n, nil
}

// scores are what score computes: examples/evaluate's table, and the referring scores
// when some image holds several findings.
type scores struct {
	metrics.Summary
	Referring *metrics.Referring
}

// multiFinding reports whether some image of items with ground truth has two or more
// different masks.
func multiFinding(items []item) bool {
	seen := map[string]string{}
	for _, it := range items {
		if it.gt == "" {
			continue
		}
		if first, ok := seen[it.image]; ok && first != it.gt {
			return true
		}
		seen[it.image] = it.gt
	}
	return false
}

// printTable writes examples/evaluate's table: one row per modality and one overall, and
// examples/evaluate's referring line when there are referring scores.
func printTable(w io.Writer, s scores) {
	width := len("modality")
	for _, g := range s.Groups {
		width = max(width, len(g.Name))
	}
	width = max(width, len(s.Overall.Name))
	var b strings.Builder
	fmt.Fprintf(&b, "%-*s %7s %8s %8s %8s %8s %8s  %s\n", width, "modality", "images", "Dice@0.5", "IoU@0.5", "mDice", "mIoU", "maxDice", "zone acc (correct/answers)")
	row := func(st metrics.Stats) {
		fmt.Fprintf(&b, "%-*s %7d %8.4f %8.4f %8.4f %8.4f %8.4f", width, st.Name, st.Images,
			st.Dice05, st.IoU05, st.MeanDice, st.MeanIoU, st.MaxDice)
		if st.Answers == 0 {
			b.WriteString("  -\n")
		} else {
			fmt.Fprintf(&b, "  %.4f (%d/%d)\n", st.ZoneAccuracy, st.ZoneCorrect, st.Answers)
		}
	}
	for _, g := range s.Groups {
		row(g)
	}
	row(s.Overall)
	if r := s.Referring; r != nil {
		fmt.Fprintf(&b, "referring (%d images with several findings, %d questions): accuracy %.4f (%d/%d), Dice with asked %.4f, best other %.4f, masks alike %.4f (%d pairs)\n",
			r.Images, r.Questions, r.Accuracy, r.Correct, r.Questions, r.AskedDice, r.OtherDice, r.Alike, r.Pairs)
	}
	io.WriteString(w, b.String())
}
