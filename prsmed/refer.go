package prsmed

import (
	"image"

	"github.com/prsmed/prsmed-go/prsmed/data"
	"github.com/prsmed/prsmed-go/prsmed/metrics"
)

// SeveralFindings reports whether some image of samples is asked about by rows with
// different masks (several findings per image, as synth.Config.Findings writes), the
// data on which referring scores (metrics.Referring) mean something.
func SeveralFindings(samples []data.Sample) bool {
	first := map[string]string{}
	for _, s := range samples {
		if m, ok := first[s.ImagePath]; ok && m != s.MaskPath {
			return true
		}
		first[s.ImagePath] = s.MaskPath
	}
	return false
}

// ReferEach returns a callback for [Evaluate] that adds every prediction to acc, the
// image named by the sample's image path and the finding by its mask path.
func ReferEach(acc *metrics.ReferAccumulator) func(data.Sample, image.Image, *image.Gray, *Prediction) error {
	return func(s data.Sample, _ image.Image, gt *image.Gray, p *Prediction) error {
		b := gt.Bounds()
		prob, err := metrics.ProbFromFloat32(b.Dx(), b.Dy(), p.Prob)
		if err != nil {
			return err
		}
		return acc.Add(s.ImagePath, s.MaskPath, metrics.MaskFromImage(gt), prob)
	}
}
