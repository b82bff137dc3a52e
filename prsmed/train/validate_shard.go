package train

import (
	"context"
	"errors"
	"fmt"
	"image"

	"github.com/prsmed/prsmed-go/prsmed"
	"github.com/prsmed/prsmed-go/prsmed/data"
	"github.com/prsmed/prsmed-go/prsmed/metrics"
	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/torch/dist"
	"github.com/prsmed/prsmed-go/zones"
)

// ErrValidationShard is returned by every rank of a sharded validation in which some rank
// failed to score its share.
var ErrValidationShard = errors.New("train: sharded validation failed")

// The columns of one sample's row in a sharded validation.
const (
	colDone     = 0 // 1 once the sample is scored
	colDice05   = 1
	colIoU05    = 2
	colDice     = 3
	colIoU      = colDice + metrics.NumThresholds
	colCorrect  = colIoU + metrics.NumThresholds
	colUnparsed = colCorrect + 1
	rowWidth    = colUnparsed + 1
)

// validateSharded scores set split across the ranks: rank r predicts the samples at
// positions r, r+World, … (each sample once, no padding); when the set holds images with
// several findings, rank r predicts every question of the images r, r+World, … in the
// order the images first appear, so that it can compare the masks of one image's
// questions. Each rank writes its samples' scores into the rows of a
// (len(set)+2, rowWidth) float64 table that is zero elsewhere, and its referring sums
// (metrics.ReferSums) into the last row; one all-reduce sums the tables, and every rank
// then adds the rows to an accumulator in the set's order. Adding zeros is exact and the
// accumulator sums in the order one process sums in, so the summary equals, bit for bit,
// one process's evaluation of the same per-sample predictions (exact where a sample's
// prediction does not depend on the other samples of its batch, e.g. with batch 1); the
// referring scores are the ranks' sums added in rank order, which can differ from one
// process's in the last bits of the Dice means. Row len(set) counts the ranks whose share
// failed; every rank then returns an error, so none waits for the others.
func (t *Trainer) validateSharded(ctx context.Context, set []data.Sample) (metrics.Summary, *metrics.Referring, error) {
	rank, world, n := t.rank(), t.world(), len(set)
	several := prsmed.SeveralFindings(set)
	owner := shardOwners(set, world, several)
	var mine []data.Sample
	var pos []int
	for i, smp := range set {
		if owner[i] == rank {
			mine, pos = append(mine, smp), append(pos, i)
		}
	}
	t.valShare = len(mine)
	table := make([]float64, (n+2)*rowWidth)
	var refer metrics.ReferAccumulator
	referEach := prsmed.ReferEach(&refer)
	k := 0
	_, evalErr := prsmed.Evaluate(ctx, t.M, mine, t.Cfg.BatchSize, func(smp data.Sample, img image.Image, gt *image.Gray, p *prsmed.Prediction) error {
		if several {
			if err := referEach(smp, img, gt, p); err != nil {
				return fmt.Errorf("%s: %w", smp, err)
			}
		}
		if k >= len(pos) {
			return fmt.Errorf("train: validation scored more samples (%d) than this rank's %d", k+1, len(pos))
		}
		row := table[pos[k]*rowWidth : (pos[k]+1)*rowWidth]
		k++
		b := gt.Bounds()
		prob, err := metrics.ProbFromFloat32(b.Dx(), b.Dy(), p.Prob)
		if err != nil {
			return fmt.Errorf("%s: %w", smp, err)
		}
		r, err := metrics.Evaluate(prob, metrics.MaskFromImage(gt))
		if err != nil {
			return fmt.Errorf("%s: %w", smp, err)
		}
		row[colDone], row[colDice05], row[colIoU05] = 1, r.Dice05, r.IoU05
		copy(row[colDice:colIoU], r.Dice[:])
		copy(row[colIoU:colCorrect], r.IoU[:])
		truth := smp.Zone
		if truth == 0 {
			if z, err := zones.FromMask(gt); err == nil {
				truth = z
			}
		}
		z, ok := zones.Parse(p.Answer)
		if !ok {
			row[colUnparsed] = 1
		} else if z == truth {
			row[colCorrect] = 1
		}
		return nil
	})
	if evalErr == nil && k != len(pos) {
		evalErr = fmt.Errorf("train: validation scored %d of this rank's %d samples", k, len(pos))
	}
	if evalErr != nil {
		table[n*rowWidth] = 1
	}
	rs := refer.Sums()
	copy(table[(n+1)*rowWidth:], []float64{float64(rs.Images), float64(rs.Questions), float64(rs.Correct), float64(rs.Pairs), rs.Asked, rs.Other, rs.Alike})
	// Every rank joins the all-reduce, also after an interrupt, so that none waits for the
	// others until the timeout.
	if err := t.sumTable(context.WithoutCancel(ctx), table); err != nil {
		return metrics.Summary{}, nil, fmt.Errorf("train: gathering the validation scores: %w", err)
	}
	if evalErr != nil {
		return metrics.Summary{}, nil, evalErr
	}
	if f := table[n*rowWidth]; f > 0 {
		return metrics.Summary{}, nil, fmt.Errorf("%w: %.0f of %d ranks could not score their samples", ErrValidationShard, f, world)
	}
	var acc metrics.Accumulator
	for i, smp := range set {
		row := table[i*rowWidth : (i+1)*rowWidth]
		if row[colDone] != 1 {
			return metrics.Summary{}, nil, fmt.Errorf("%w: sample %d (%s) was scored %g times", ErrValidationShard, i, smp, row[colDone])
		}
		r := metrics.Result{Dice05: row[colDice05], IoU05: row[colIoU05]}
		copy(r.Dice[:], row[colDice:colIoU])
		copy(r.IoU[:], row[colIoU:colCorrect])
		acc.Add(smp.Modality, &r)
		acc.AddZone(smp.Modality, row[colCorrect] == 1, row[colUnparsed] == 1)
	}
	if !several {
		return acc.Summary(), nil, nil
	}
	sums := table[(n+1)*rowWidth:]
	r := metrics.ReferSums{Images: int(sums[0]), Questions: int(sums[1]), Correct: int(sums[2]), Pairs: int(sums[3]),
		Asked: sums[4], Other: sums[5], Alike: sums[6]}.Referring()
	return acc.Summary(), &r, nil
}

// shardOwners is the rank that scores each sample of set: sample i goes to rank i mod
// world, or, byImage, every question of the j-th image (in the order images first
// appear) to rank j mod world.
func shardOwners(set []data.Sample, world int, byImage bool) []int {
	owner := make([]int, len(set))
	index := map[string]int{}
	for i, smp := range set {
		if !byImage {
			owner[i] = i % world
			continue
		}
		j, ok := index[smp.ImagePath]
		if !ok {
			j = len(index)
			index[smp.ImagePath] = j
		}
		owner[i] = j % world
	}
	return owner
}

// sumTable replaces v with its sum over the ranks (float64, on the group's device).
func (t *Trainer) sumTable(ctx context.Context, v []float64) error {
	s := torch.NewScope(torch.CPU)
	defer s.Close()
	x := torch.FromSlice(s, v, int64(len(v)))
	if dev := t.Cfg.Dist.Device(); dev != torch.CPU {
		x = x.ToDevice(s, dev)
	}
	if err := t.Cfg.Dist.AllReduce(ctx, x, dist.Sum); err != nil {
		return err
	}
	copy(v, x.Float64s())
	return nil
}
