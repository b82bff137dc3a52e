package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/prsmed/prsmed-go/internal/atomicfile"
	"github.com/prsmed/prsmed-go/prsmed"
	"github.com/prsmed/prsmed-go/prsmed/llava"
	"github.com/prsmed/prsmed-go/torch"
)

// The files of -dump, which third_party/bench/paper_step.py --from reads to run the same
// steps with PyTorch, transformers and PEFT:
//
//	config.json          the model's prsmed.Config
//	weights.safetensors  every tensor of the store before the first step (Go names)
//	batch.safetensors    sam, clip, masks (the step's inputs); pre_ids (B, P): the prompt's
//	                     tokens before the image; post_ids (B, Q): the tokens after it,
//	                     then the answer; answer_len (1): the answer's length
//	go.json              the loss of every step, the parameter counts, the settings
const (
	dumpWeights = "weights.safetensors"
	dumpBatch   = "batch.safetensors"
	dumpConfig  = "config.json"
	dumpResult  = "go.json"
)

// dumpStart writes the config, the weights and the batch of a step on in.
func dumpStart(dir string, m *prsmed.Model, cfg prsmed.Config, in prsmed.Inputs) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := prsmed.SaveConfig(filepath.Join(dir, dumpConfig), cfg); err != nil {
		return err
	}
	if err := m.Store.Save(filepath.Join(dir, dumpWeights), nil, map[string]string{"format": "pt"}); err != nil {
		return err
	}
	var pre, post []int64
	var npre, npost, nans int
	for i, smp := range in.Samples {
		p, a, err := m.LLaVA.Tokens(smp)
		if err != nil {
			return err
		}
		k := -1
		for j, id := range p {
			if id == llava.ImageTokenID {
				k = j
			}
		}
		if i > 0 && (k != npre || len(p)-k-1+len(a) != npost || len(a) != nans) {
			return fmt.Errorf("-dump: the samples' token counts differ (it writes unpadded rows)")
		}
		npre, npost, nans = k, len(p)-k-1+len(a), len(a)
		pre = append(pre, p[:k]...)
		post = append(append(post, p[k+1:]...), a...)
	}
	s := torch.NewScope(torch.CPU)
	defer s.Close()
	b := int64(len(in.Samples))
	return torch.SaveSafetensors(filepath.Join(dir, dumpBatch), map[string]*torch.Tensor{
		"sam": in.SAM, "clip": in.CLIP, "masks": in.Masks,
		"pre_ids":    torch.FromSlice(s, pre, b, int64(npre)),
		"post_ids":   torch.FromSlice(s, post, b, int64(npost)),
		"answer_len": torch.FromSlice(s, []int64{int64(nans)}, 1),
	}, map[string]string{"format": "pt"})
}

// dumpLosses writes go.json: each step's loss and the run's settings.
func dumpLosses(dir string, res *result, losses []float64) error {
	b, err := json.MarshalIndent(map[string]any{
		"losses": losses, "trainable": res.Trainable, "params": res.Params, "batch": res.Batch,
		"seq_len": res.SeqLen, "lora": res.LoRA, "libtorch": res.Libtorch,
	}, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, dumpResult), b)
}
