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
func score(items []item, masksDir string, ans map[string]answerLine) (metrics.Summary, int, error) {
	var acc metrics.Accumulator
	n := 0
	for _, it := range items {
		if it.gt == "" {
			continue
		}
		gtImg, err := metrics.LoadImage(it.gt)
		if err != nil {
			return metrics.Summary{}, 0, fmt.Errorf("ground truth: %w", err)
		}
		pred, err := metrics.LoadProb(filepath.Join(masksDir, filepath.FromSlash(it.key())))
		if err != nil {
			return metrics.Summary{}, 0, err
		}
		res, err := metrics.Evaluate(pred, metrics.MaskFromImage(gtImg))
		if err != nil {
			return metrics.Summary{}, 0, fmt.Errorf("%s: %w", it.key(), err)
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
	return acc.Summary(), n, nil
}

// printTable writes examples/evaluate's table: one row per modality and one overall.
func printTable(w io.Writer, s metrics.Summary) {
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
	io.WriteString(w, b.String())
}
