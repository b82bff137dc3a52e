package train

import (
	"fmt"
	"image"

	"github.com/prsmed/prsmed-go/prsmed"
	"github.com/prsmed/prsmed-go/prsmed/data"
	"github.com/prsmed/prsmed-go/prsmed/llava"
	"github.com/prsmed/prsmed-go/torch"
)

// prepared is a sample's preprocessed tensors, kept on the CPU.
type prepared struct {
	sam, clip, mask *torch.Tensor
	sample          llava.Sample
}

func (t *Trainer) prepare(set []data.Sample, cache map[int]*prepared, i int) (*prepared, error) {
	if p, ok := cache[i]; ok {
		return p, nil
	}
	smp := set[i]
	img, mask, err := data.LoadSample(smp)
	if err != nil {
		return nil, err
	}
	p := &prepared{sample: llava.Sample{Question: smp.Question, Answer: smp.Answer}}
	sam, clipIn, err := t.M.PreprocessBatch(t.cache, []image.Image{img})
	if err == nil {
		p.sam, p.clip = sam, clipIn
		err = torch.Try(func() { p.mask = prsmed.MaskTensor(t.cache, mask, t.M.Config.MaskSize) })
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", smp, err)
	}
	cache[i] = p
	return p, nil
}

func (t *Trainer) batch(s *torch.Scope, set []data.Sample, cache map[int]*prepared, idx []int) (prsmed.Inputs, error) {
	var sam, clipIn, masks []*torch.Tensor
	var smps []llava.Sample
	for k, i := range idx {
		p, err := t.prepare(set, cache, i)
		if err != nil {
			return prsmed.Inputs{}, err
		}
		if !t.Cfg.Flip || t.state.Epoch < t.stage0() {
			sam, clipIn, masks = append(sam, p.sam), append(clipIn, p.clip), append(masks, p.mask)
			smps = append(smps, p.sample)
			continue
		}
		f := drawFlips(t.Cfg.Seed, uint64(t.state.Epoch), t.state.Step, k)
		if err := torch.Try(func() {
			sam = append(sam, f.Tensor(s, p.sam))
			clipIn = append(clipIn, f.Tensor(s, p.clip))
			masks = append(masks, f.Tensor(s, p.mask))
		}); err != nil {
			return prsmed.Inputs{}, err
		}
		smps = append(smps, llava.Sample{Question: p.sample.Question, Answer: f.Answer(p.sample.Answer)})
	}
	dev := t.M.Store.Device()
	in := prsmed.Inputs{Samples: smps}
	err := torch.Try(func() {
		in.SAM = torch.Cat(s, 0, sam...).ToDevice(s, dev)
		in.CLIP = torch.Cat(s, 0, clipIn...).ToDevice(s, dev)
		in.Masks = torch.Cat(s, 0, masks...).ToDevice(s, dev)
	})
	return in, err
}
