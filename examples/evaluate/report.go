package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/prsmed/prsmed-go/prsmed/metrics"
)

// report is the JSON document written by -json.
type report struct {
	Mode       string `json:"mode"`
	Pred       string `json:"pred"`
	GT         string `json:"gt"`
	Split      string `json:"split,omitempty"`
	Answers    string `json:"answers_file,omitempty"`
	Thresholds int    `json:"thresholds"`
	Missing    int    `json:"missing_predictions"`
	metrics.Summary
	// Referring is written when some image holds several findings.
	Referring *metrics.Referring `json:"referring,omitempty"`
}

// printTable writes one row per group and one for all images.
func printTable(w io.Writer, label string, s metrics.Summary, withZones bool) error {
	width := len(label)
	for _, g := range s.Groups {
		width = max(width, len(g.Name))
	}
	width = max(width, len(s.Overall.Name))
	var b strings.Builder
	fmt.Fprintf(&b, "%-*s %7s %8s %8s %8s %8s %8s", width, label, "images", "Dice@0.5", "IoU@0.5", "mDice", "mIoU", "maxDice")
	if withZones {
		fmt.Fprintf(&b, "  %s", "zone acc (correct/answers)")
	}
	b.WriteString("\n")
	row := func(st metrics.Stats) {
		fmt.Fprintf(&b, "%-*s %7d %8.4f %8.4f %8.4f %8.4f %8.4f", width, st.Name, st.Images,
			st.Dice05, st.IoU05, st.MeanDice, st.MeanIoU, st.MaxDice)
		if withZones {
			if st.Answers == 0 {
				b.WriteString("  -")
			} else {
				fmt.Fprintf(&b, "  %.4f (%d/%d)", st.ZoneAccuracy, st.ZoneCorrect, st.Answers)
			}
		}
		b.WriteString("\n")
	}
	for _, g := range s.Groups {
		row(g)
	}
	row(s.Overall)
	_, err := io.WriteString(w, b.String())
	return err
}

// printReferring writes the referring scores of images with several
// findings.
func printReferring(w io.Writer, r metrics.Referring) error {
	_, err := fmt.Fprintf(w, "referring (%d images with several findings, %d questions): accuracy %.4f (%d/%d), Dice with asked %.4f, best other %.4f, masks alike %.4f (%d pairs)\n",
		r.Images, r.Questions, r.Accuracy, r.Correct, r.Questions, r.AskedDice, r.OtherDice, r.Alike, r.Pairs)
	return err
}

// writeJSON writes r to file, indented.
func writeJSON(file string, r report) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(file, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing -json: %w", err)
	}
	return nil
}
