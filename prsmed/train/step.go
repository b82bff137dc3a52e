package train

import (
	"context"
	"fmt"
	"math"

	"github.com/prsmed/prsmed-go/losses"
	"github.com/prsmed/prsmed-go/prsmed"
	"github.com/prsmed/prsmed-go/prsmed/mistral"
	"github.com/prsmed/prsmed-go/torch"
)

// trainStep runs one optimisation step over a batch and returns its total, bce, dice and
// ce. The batch goes to the model's device once; with Accum > 1 it is split into
// micro-batches of BatchSize whose gradients add up (each micro-batch's loss weighted by its
// share of the samples, so the step follows the mean loss of the whole batch). The losses
// stay on the device until one read after the backward passes: a step reads the device
// once.
//
// Under Config.Dist the gradients are averaged over the ranks before clipping. By default
// the averaging overlaps the last micro-batch's backward, as DistributedDataParallel's: a
// dist.Reducer's hooks start each bucket's all-reduce as soon as its gradients are in; the
// earlier micro-batches only accumulate locally (no_sync). With Config.DistNoOverlap the
// buckets are all-reduced after the backward passes; both give the same gradients. A rank
// whose batch is empty (every sample skipped) still joins the average, with zero gradients,
// and takes the common step. The gradient buckets come before every other collective of
// the step (the losses' average), so that every rank starts its collectives in one order
// whichever buckets its hooks started during backward.
func (t *Trainer) trainStep(ctx context.Context, opt *torch.AdamW, stage prsmed.Stage, b *batch, seed uint64) (vals [4]float64, err error) {
	defer torch.Recover(&err)
	red, err := t.gradReducer(ctx, stage)
	if err != nil {
		return vals, err
	}
	if red != nil {
		// Between steps the hooks are off: a backward pass outside a step must not start
		// collectives that the other ranks do not.
		defer red.SetSync(false)
	}
	if b.n == 0 {
		opt.ZeroGrad()
		if err := t.syncGrads(ctx, red); err != nil {
			return vals, err
		}
		if vals, t.stepN, err = t.averageLosses(ctx, vals, 0); err != nil {
			return vals, err
		}
		if t.Cfg.ClipNorm > 0 {
			s := torch.NewScope(t.M.Store.Device())
			torch.ClipGradNormTensor(s, t.M.Store.Trainable(), t.Cfg.ClipNorm, 2)
			s.Close()
		}
		opt.Step()
		return vals, nil
	}
	dev := t.M.Store.Device()
	// The step's random draws (dropout) are keyed by sample: each sample's masks come from
	// its training-set index and from a generator on the model's device seeded by the run's
	// seed and the step, restarted for every micro-batch (torch.Scope.RowKeys). A sample
	// thus gets the same masks whichever batch, micro-batch or process it lands in, so
	// gradient accumulation and data parallelism train as one process with the whole batch
	// does, and a resumed run draws what an uninterrupted one would.
	stepSeed := t.Cfg.Seed*1_000_003 + seed
	keys := make([]uint64, len(b.idx))
	for i, j := range b.idx {
		keys[i] = uint64(j)
	}
	var gens []*torch.Generator
	defer func() {
		for _, g := range gens {
			g.Close()
		}
	}()
	root := torch.NewScope(dev)
	defer root.Close()
	s := root.Train(nil)
	if t.Cfg.Autocast != 0 {
		// Mixed precision: matmuls and convolutions in the autocast dtype, parameters and
		// their gradients in their own dtype, losses in float32 (losses.Weights.WithCE).
		s = s.Autocast(t.Cfg.Autocast)
	}
	in := toDevice(s, b.in, dev)
	micro := b.n
	if t.Cfg.Accum > 1 {
		micro = t.Cfg.BatchSize
	}
	opt.ZeroGrad()
	var sum *torch.Tensor
	for off := 0; off < b.n; off += micro {
		k := min(micro, b.n-off)
		g, err := torch.NewGenerator(stepSeed, dev)
		if err != nil {
			return vals, err
		}
		gens = append(gens, g)
		if red != nil {
			// no_sync for every micro-batch but the last; the hooks stay off under
			// GradCheckpoint, whose layer-by-layer backward passes Sync reduces at the end,
			// and under SyncBN, whose backward runs collectives of its own: bucket
			// all-reduces started from hooks between them could reach the ranks in
			// different orders. Sync then reduces every gradient after backward.
			red.SetSync(off+micro >= b.n && !t.Cfg.GradCheckpoint && !t.Cfg.SyncBN)
		}
		ms := s.Train(g).RowKeys(keys[off : off+k])
		part := in
		if k < b.n {
			part = narrowInputs(ms, in, off, k)
		}
		parts, err := t.forwardBackward(ms, stage, part, float64(k)/float64(b.n))
		if err != nil {
			ms.Close()
			return vals, err
		}
		w := parts.MulScalar(s, float64(k)/float64(b.n))
		if sum == nil {
			sum = w
		} else {
			sum = sum.Add(s, w)
		}
		ms.Close()
	}
	copy(vals[:], sum.Float64s())
	// Under Config.Dist every rank gets the average over all ranks, so that a non-finite
	// loss anywhere stops every rank at the same step; the collectives all run before the
	// optimizer step, so a failed one leaves the parameters of the step before.
	if err := t.syncGrads(ctx, red); err != nil {
		return vals, err
	}
	if vals, t.stepN, err = t.averageLosses(ctx, vals, b.n); err != nil {
		return vals, err
	}
	for i, name := range []string{"total", "bce", "dice", "ce"} {
		if math.IsNaN(vals[i]) || math.IsInf(vals[i], 0) {
			return vals, fmt.Errorf("%w: %s = %v", losses.ErrNonFinite, name, vals[i])
		}
	}
	if t.Cfg.ClipNorm > 0 {
		torch.ClipGradNormTensor(s, t.M.Store.Trainable(), t.Cfg.ClipNorm, 2)
	}
	opt.Step()
	return vals, nil
}

// trainsLM reports whether stage trains a part of the language model (stage 0: all of it;
// stage 2: its LoRA adapters, unless Config.Stage2FreezeLoRA).
func (t *Trainer) trainsLM(stage prsmed.Stage) bool {
	return stage == prsmed.Stage0 || stage == prsmed.Stage2 && !t.loraFrozen(stage)
}

// forwardBackward runs one (micro-)batch forward and backward, its loss scaled by w, and
// returns its unscaled parts (total, bce, dice, ce) as a detached (4,) tensor.
func (t *Trainer) forwardBackward(s *torch.Scope, stage prsmed.Stage, in prsmed.Inputs, w float64) (parts *torch.Tensor, err error) {
	defer torch.Recover(&err)
	m := t.M
	zero := func(x *torch.Tensor) *torch.Tensor { return x.MulScalar(s, 0) }
	if t.Cfg.GradCheckpoint && t.trainsLM(stage) {
		// The language model trains (stage 0: all of it; stage 2: its LoRA adapters): run
		// its layers with recomputation. Everything that trains here is in training mode,
		// as Model.Forward would run it.
		b, err := m.LLaVA.Build(s, in.CLIP, in.Samples)
		if err != nil {
			return nil, err
		}
		var zImg *torch.Tensor
		if stage != prsmed.Stage0 {
			zImg = m.Encoder.Forward(s, in.SAM)
		}
		_, err = m.LLaVA.LM.ForwardBackward(s, mistral.Input{Embeds: b.Embeds, AttentionMask: b.AttentionMask},
			func(c *torch.Scope, out mistral.Output) *torch.Tensor {
				ce := losses.NextTokenCE(c, out.Logits, b.Labels)
				if stage == prsmed.Stage0 {
					d := ce.Detach(s)
					parts = torch.Stack(s, 0, d, zero(d), zero(d), d)
					return ce.MulScalar(c, w)
				}
				logits := m.Decoder.Forward(c, m.Fusion.Forward(c, zImg, out.Hidden, b.PromptMask))
				p := m.Config.Loss.WithCE(c, logits, in.Masks, ce)
				parts = torch.Stack(s, 0, p.Total.Detach(s), p.BCE.Detach(s), p.Dice.Detach(s), p.CE.Detach(s))
				return p.Total.MulScalar(c, w)
			})
		return parts, err
	}
	if stage == prsmed.Stage0 {
		// The backbone learns to answer: cross-entropy on the answers alone, no mask branch.
		lo, err := m.LLaVA.Forward(s, in.CLIP, in.Samples)
		if err != nil {
			return nil, err
		}
		lo.Loss.MulScalar(s, w).Backward()
		d := lo.Loss.Detach(s)
		return torch.Stack(s, 0, d, zero(d), zero(d), d), nil
	}
	out, err := m.Forward(s, in)
	if err != nil {
		return nil, err
	}
	out.Loss.Total.MulScalar(s, w).Backward()
	p := out.Loss
	ce := p.CE
	if ce == nil { // the language model ran over the prompts alone (Model.Forward)
		ce = zero(p.Total)
	}
	return torch.Stack(s, 0, p.Total.Detach(s), p.BCE.Detach(s), p.Dice.Detach(s), ce.Detach(s)), nil
}

// toDevice moves a CPU batch to dev (on the CPU the batch is used as it is).
func toDevice(s *torch.Scope, in prsmed.Inputs, dev torch.Device) prsmed.Inputs {
	if dev == torch.CPU {
		return in
	}
	return prsmed.Inputs{SAM: in.SAM.ToDevice(s, dev), CLIP: in.CLIP.ToDevice(s, dev), Masks: in.Masks.ToDevice(s, dev), Samples: in.Samples}
}

// narrowInputs is samples off … off+n of a batch.
func narrowInputs(s *torch.Scope, in prsmed.Inputs, off, n int) prsmed.Inputs {
	o, k := int64(off), int64(n)
	return prsmed.Inputs{SAM: in.SAM.Narrow(s, 0, o, k), CLIP: in.CLIP.Narrow(s, 0, o, k), Masks: in.Masks.Narrow(s, 0, o, k),
		Samples: in.Samples[off : off+n]}
}
