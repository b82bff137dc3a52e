package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/prsmed/prsmed-go/prsmed/metrics"
	"github.com/prsmed/prsmed-go/zones"
)

// chunkSize is how many images are scored in parallel before their results
// are added, in order, to the accumulator. Adding in a fixed order keeps the
// sums bit-identical from run to run; the chunk bounds memory.
const chunkSize = 64

// scored is the outcome of one image.
type scored struct {
	res    metrics.Result
	gt     metrics.Mask // kept for referring scores only
	pred   metrics.Prob // kept for referring scores only
	zone   zones.Zone   // true zone, 0 when the mask is empty or unneeded
	zoneOK bool
	err    error
}

// evaluate runs the whole evaluation described by o.
func evaluate(o options, stdout, stderr io.Writer) error {
	if st, err := os.Stat(o.pred); err != nil {
		return fmt.Errorf("-pred: %w", err)
	} else if !st.IsDir() {
		return fmt.Errorf("-pred %s is not a folder", o.pred)
	}
	ds, err := loadDataset(o, stderr)
	if err != nil {
		return err
	}
	items := ds.items
	missing := findPredictions(o.pred, items)
	if len(missing) > 0 {
		first := missing[0]
		if !o.allowMissing {
			return fmt.Errorf("%d of %d masks have no prediction under %s, first %s (looked for %s); use -allow-missing to skip them",
				len(missing), len(items), o.pred, first.rel, strings.Join(predCandidates(first), ", "))
		}
		fmt.Fprintf(stderr, "evaluate: warning: skipping %d of %d masks that have no prediction (first: %s)\n", len(missing), len(items), first.rel)
		kept := items[:0]
		for _, it := range items {
			if it.pred != "" {
				kept = append(kept, it)
			}
		}
		items = kept
		if len(items) == 0 {
			return errors.New("no mask has a prediction")
		}
	}

	ansFile := findAnswers(o)
	var answers []answer
	if ansFile != "" {
		if answers, err = loadAnswers(ansFile); err != nil {
			return err
		}
	}

	var acc metrics.Accumulator
	var refer *metrics.ReferAccumulator
	if multiFinding(items) {
		refer = &metrics.ReferAccumulator{}
	}
	outcomes, err := scoreAll(o, items, len(answers) > 0, &acc, refer)
	if err != nil {
		return err
	}
	if len(answers) > 0 {
		addAnswers(&acc, items, outcomes, answers, stderr)
	}

	s := acc.Summary()
	label := "group"
	if ds.mode == "posmed" {
		label = "modality"
	}
	if err := printTable(stdout, label, s, ansFile != ""); err != nil {
		return err
	}
	var referring *metrics.Referring
	if refer != nil {
		r := refer.Result()
		referring = &r
		if err := printReferring(stdout, r); err != nil {
			return err
		}
	}
	if o.jsonOut != "" {
		r := report{
			Mode:       ds.mode,
			Pred:       o.pred,
			GT:         o.gt,
			Answers:    ansFile,
			Thresholds: metrics.NumThresholds,
			Missing:    len(missing),
			Summary:    s,
			Referring:  referring,
		}
		if ds.mode == "posmed" {
			r.Split = o.split
		}
		if err := writeJSON(o.jsonOut, r); err != nil {
			return err
		}
	}
	return nil
}

// zoneOutcome is what the answers need from one scored image.
type zoneOutcome struct {
	zone zones.Zone
	ok   bool
}

// scoreAll scores every item, adding results to acc (and to refer, when
// not nil) in item order, and returns each item's true zone when withZones
// is set.
func scoreAll(o options, items []item, withZones bool, acc *metrics.Accumulator, refer *metrics.ReferAccumulator) ([]zoneOutcome, error) {
	zs := make([]zoneOutcome, len(items))
	for start := 0; start < len(items); start += chunkSize {
		end := min(start+chunkSize, len(items))
		out := make([]scored, end-start)
		next := make(chan int)
		var wg sync.WaitGroup
		for w := 0; w < min(o.workers, end-start); w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					out[i-start] = scoreOne(o, items[i], withZones, refer != nil)
				}
			}()
		}
		for i := start; i < end; i++ {
			next <- i
		}
		close(next)
		wg.Wait()
		for k := range out {
			if out[k].err != nil {
				return nil, out[k].err
			}
			acc.Add(items[start+k].group, &out[k].res)
			if refer != nil && items[start+k].image != "" {
				it := items[start+k]
				if err := refer.Add(it.image, it.rel, out[k].gt, out[k].pred); err != nil {
					return nil, fmt.Errorf("%s: %w", it.rel, err)
				}
			}
			zs[start+k] = zoneOutcome{out[k].zone, out[k].zoneOK}
		}
	}
	return zs, nil
}

// scoreOne loads and scores one mask pair; keep returns the ground truth
// and prediction too.
func scoreOne(o options, it item, withZone, keep bool) (s scored) {
	gtPath := filepath.Join(o.gt, filepath.FromSlash(it.rel))
	img, err := metrics.LoadImage(gtPath)
	if err != nil {
		return scored{err: fmt.Errorf("ground truth: %w", err)}
	}
	gt := metrics.MaskFromImage(img)
	if err := gt.Validate(); err != nil {
		return scored{err: fmt.Errorf("ground truth %s: %w", gtPath, err)}
	}
	if withZone {
		z, err := zones.FromMask(img)
		s.zone, s.zoneOK = z, err == nil
	}
	predPath := filepath.Join(o.pred, filepath.FromSlash(it.pred))
	pred, err := metrics.LoadProb(predPath)
	if err != nil {
		return scored{err: fmt.Errorf("prediction: %w", err)}
	}
	if s.res, err = metrics.Evaluate(pred, gt); err != nil {
		return scored{err: fmt.Errorf("%s against %s: %w", predPath, gtPath, err)}
	}
	if keep {
		s.gt, s.pred = gt, pred
	}
	return s
}

// addAnswers scores each answer against the true zone of the mask it names
// and reports on stderr the answers it could not use.
func addAnswers(acc *metrics.Accumulator, items []item, zs []zoneOutcome, answers []answer, stderr io.Writer) {
	index := map[string]int{}
	for i, it := range items {
		if _, dup := index[it.rel]; !dup {
			index[it.rel] = i
		}
	}
	for i, it := range items {
		if _, dup := index[it.pred]; !dup {
			index[it.pred] = i
		}
	}
	unmatched, empty := 0, 0
	firstUnmatched := ""
	for _, a := range answers {
		key := path.Clean(strings.ReplaceAll(strings.TrimSpace(a.File), `\`, "/"))
		i, ok := index[key]
		if !ok {
			if unmatched == 0 {
				firstUnmatched = a.File
			}
			unmatched++
			continue
		}
		if !zs[i].ok {
			empty++
			continue
		}
		acc.AddAnswer(items[i].group, a.Answer, zs[i].zone)
	}
	if unmatched > 0 {
		fmt.Fprintf(stderr, "evaluate: warning: skipped %d answers for files that were not scored (first: %s)\n", unmatched, firstUnmatched)
	}
	if empty > 0 {
		fmt.Fprintf(stderr, "evaluate: warning: skipped %d answers whose ground-truth mask is empty (no true zone)\n", empty)
	}
}
