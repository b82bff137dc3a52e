package prsmed

import (
	"context"
	"fmt"
	"image"

	"github.com/prsmed/prsmed-go/prsmed/data"
	"github.com/prsmed/prsmed-go/prsmed/metrics"
	"github.com/prsmed/prsmed-go/zones"
)

// Evaluate predicts every sample (batchSize at a time) and scores masks (Dice/IoU and the
// 256-threshold sweep) and answers (zone accuracy) per modality. each, when not nil, sees
// every sample with its prediction and ground-truth mask.
func Evaluate(ctx context.Context, m *Model, samples []data.Sample, batchSize int, each func(data.Sample, image.Image, *image.Gray, *Prediction) error) (metrics.Summary, error) {
	if batchSize <= 0 {
		batchSize = 1
	}
	var acc metrics.Accumulator
	for i := 0; i < len(samples); i += batchSize {
		var imgs []image.Image
		var qs []string
		var gts []*image.Gray
		var smps []data.Sample
		for j := i; j < len(samples) && j < i+batchSize; j++ {
			img, mask, err := data.LoadSample(samples[j])
			if err != nil {
				return metrics.Summary{}, err
			}
			imgs, qs, gts, smps = append(imgs, img), append(qs, samples[j].Question), append(gts, mask), append(smps, samples[j])
		}
		preds, err := m.PredictBatch(ctx, imgs, qs)
		if err != nil {
			return metrics.Summary{}, err
		}
		for k, p := range preds {
			res, err := scoreMask(p.Prob, gts[k])
			if err != nil {
				return metrics.Summary{}, fmt.Errorf("%s: %w", smps[k], err)
			}
			acc.Add(smps[k].Modality, res)
			truth := smps[k].Zone
			if truth == 0 {
				if z, err := zones.FromMask(gts[k]); err == nil {
					truth = z
				}
			}
			acc.AddAnswer(smps[k].Modality, p.Answer, truth)
			if each != nil {
				if err := each(smps[k], imgs[k], gts[k], p); err != nil {
					return metrics.Summary{}, err
				}
			}
		}
	}
	return acc.Summary(), nil
}

func scoreMask(prob []float32, gt *image.Gray) (*metrics.Result, error) {
	b := gt.Bounds()
	p, err := metrics.ProbFromFloat32(b.Dx(), b.Dy(), prob)
	if err != nil {
		return nil, err
	}
	r, err := metrics.Evaluate(p, metrics.MaskFromImage(gt))
	if err != nil {
		return nil, err
	}
	return &r, nil
}
