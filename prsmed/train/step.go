package train

import (
	"fmt"
	"math"

	"github.com/prsmed/prsmed-go/prsmed"
	"github.com/prsmed/prsmed-go/torch"
)

// trainStep runs one optimisation step and returns total, bce, dice and ce.
func (t *Trainer) trainStep(opt *torch.AdamW, stage prsmed.Stage, idx []int, seed uint64) (vals [4]float64, err error) {
	defer torch.Recover(&err)
	dev := t.M.Store.Device()
	// The step's random draws (dropout) come from a generator of its own on the model's
	// device, seeded by the run's seed and the step, so a resumed run draws what an
	// uninterrupted one would.
	g, err := torch.NewGenerator(t.Cfg.Seed*1_000_003+seed, dev)
	if err != nil {
		return vals, err
	}
	defer g.Close()
	root := torch.NewScope(dev)
	defer root.Close()
	s := root.Train(g)
	in, err := t.batch(s, t.TrainSet, t.prep, idx)
	if err != nil {
		return vals, err
	}
	if stage == prsmed.Stage0 {
		// The backbone learns to answer: cross-entropy on the answers alone, no mask branch.
		lo, err := t.M.LLaVA.Forward(s, in.CLIP, in.Samples)
		if err != nil {
			return vals, err
		}
		ce := lo.Loss.Item()
		if math.IsNaN(ce) || math.IsInf(ce, 0) {
			return vals, fmt.Errorf("non-finite answer loss %v", ce)
		}
		opt.ZeroGrad()
		lo.Loss.Backward()
		if t.Cfg.ClipNorm > 0 {
			torch.ClipGradNorm(t.M.Store.Trainable(), t.Cfg.ClipNorm, 2)
		}
		opt.Step()
		vals[0], vals[3] = ce, ce
		return vals, nil
	}
	out, err := t.M.Forward(s, in)
	if err != nil {
		return vals, err
	}
	if err := out.Loss.Check(); err != nil {
		return vals, err
	}
	opt.ZeroGrad()
	out.Loss.Total.Backward()
	if t.Cfg.ClipNorm > 0 {
		torch.ClipGradNorm(t.M.Store.Trainable(), t.Cfg.ClipNorm, 2)
	}
	opt.Step()
	vals[0], vals[1], vals[2], vals[3] = out.Loss.Values()
	return vals, nil
}
