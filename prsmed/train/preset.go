package train

import "fmt"

// Preset is the training recipe named name, the one examples/train and the quickstart
// start from:
//
//   - "tiny": the tiny model trained from scratch on a CPU (the quickstart's recipe): stage
//     0 for 28 epochs at 5e-4 (the backbone learns to answer), stage 1 for 1 epoch and stage
//     2 for 10 at 2e-3 with a cosine to 1e-4, its LoRA adapters frozen (Stage2FreezeLoRA:
//     the answers stay stage 0's), batch 16, mirrored samples, validation on 60
//     samples every 5 epochs, and a 1 GiB cache of preprocessed samples; stages 1 and 2
//     are lengthened to at least 500 and 1600 optimisation steps (Stage1MinSteps,
//     Stage2MinSteps), so a set of a few hundred samples still trains long enough for
//     the masks to follow the question (the quickstart's set gets 4 epochs of stage 1);
//   - "paper": the paper's recipe (DefaultConfig): stages 1 and 2 over a LLaVA-Med backbone, lr
//     1e-4, batch 4, no cache.
func Preset(name string) (Config, error) {
	c := DefaultConfig()
	switch name {
	case "paper":
	case "tiny":
		c.Stage0Epochs, c.Stage1Epochs, c.Stage2Epochs = 28, 1, 10
		c.Stage2FreezeLoRA = true
		c.BatchSize, c.LR, c.Stage0LR = 16, 2e-3, 5e-4
		c.MinLR = c.LR / 20
		c.ValSamples, c.ValEvery, c.Flip = 60, 5, true
		c.CacheBytes = 1 << 30
		c.Stage1MinSteps, c.Stage2MinSteps = 500, 1600
	default:
		return Config{}, fmt.Errorf("train: unknown preset %q (tiny or paper)", name)
	}
	return c, nil
}
