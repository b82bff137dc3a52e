package train

import (
	"fmt"
	"image"

	"github.com/prsmed/prsmed-go/prsmed"
	"github.com/prsmed/prsmed-go/prsmed/data"
	"github.com/prsmed/prsmed-go/prsmed/llava"
	"github.com/prsmed/prsmed-go/prsmed/tinyvit"
	"github.com/prsmed/prsmed-go/torch"
)

// preprocess loads one sample and makes its CPU tensors: the TinyViT input (1, 3, S, S), the
// CLIP input (1, 3, R, R) and the mask target (1, 1, M, M). An error names the sample and
// what went wrong (unreadable or undecodable file, image and mask sizes that disagree, an
// empty mask).
func preprocess(m *prsmed.Model, smp data.Sample, idx int) (it *item, err error) {
	img, mask, err := data.LoadSample(smp)
	if err != nil {
		return nil, err
	}
	s := torch.NewScope(torch.CPU).NoGrad()
	it = &item{idx: idx, scope: s, refs: 1, sample: llava.Sample{Question: smp.Question, Answer: smp.Answer}}
	// The intermediate tensors (resizes, a single-image concatenation) are freed at once:
	// the item keeps only its three inputs.
	work := s.Child()
	it.sam, it.clip, err = m.PreprocessBatch(work, []image.Image{img})
	if err == nil {
		err = torch.Try(func() {
			it.mask = tinyvit.MaskTensor(work, mask, m.Config.MaskSize)
			for _, x := range []*torch.Tensor{it.sam, it.clip, it.mask} {
				work.Escape(x)
			}
		})
	}
	work.Close()
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("%v: %w", smp, err)
	}
	for _, x := range []*torch.Tensor{it.sam, it.clip, it.mask} {
		it.bytes += x.Numel() * int64(x.DType().Size())
	}
	return it, nil
}

// prepared is a sample ready for its batch: the item's tensors, flipped when the run's
// flips ask for it (the flipped copies live in scope).
type prepared struct {
	base            *item
	scope           *torch.Scope // nil when nothing was flipped
	sam, clip, mask *torch.Tensor
	sample          llava.Sample
	err             error // set when the sample is skipped
	source          data.Sample
}

// prepare is a worker's job for one sample of a batch: sample idx of the training set, at
// place k of batch step (neither changes what the sample becomes: its flips are drawn for
// the sample itself).
func (p *pipeline) prepare(idx, _, _ int) (out prepared) {
	smp := p.set[idx]
	out.source = smp
	it := p.cache.get(idx)
	if it == nil {
		var err error
		if it, err = preprocess(p.model, smp, idx); err != nil {
			out.err = err
			return out
		}
		p.cache.put(it)
	}
	out.base, out.sam, out.clip, out.mask, out.sample = it, it.sam, it.clip, it.mask, it.sample
	if !p.flip {
		return out
	}
	f := drawFlips(p.seed, uint64(p.epoch), idx).ForQuestion(it.sample.Question)
	if f == (Flips{}) {
		return out
	}
	s := torch.NewScope(torch.CPU).NoGrad()
	err := torch.Try(func() {
		out.sam, out.clip, out.mask = f.Tensor(s, it.sam), f.Tensor(s, it.clip), f.Tensor(s, it.mask)
	})
	if err != nil {
		s.Close()
		p.cache.release(it)
		return prepared{source: smp, err: fmt.Errorf("%v: %w", smp, err)}
	}
	out.scope = s
	out.sample.Answer = f.Answer(it.sample.Answer)
	return out
}

// free lets go of a prepared sample's tensors.
func (p *pipeline) free(x *prepared) {
	if x.scope != nil {
		x.scope.Close()
		x.scope = nil
	}
	if x.base != nil {
		p.cache.release(x.base)
		x.base = nil
	}
}
