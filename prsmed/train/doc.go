// Package train trains a PRS-Med model (package prsmed) on PosMed samples (package
// prsmed/data).
//
// A [Trainer] runs the stages in order — stage 0 for presets whose vision-language backbone
// starts untrained, then stages 1 and 2 — with one AdamW optimizer per stage over the
// parameters that stage trains, a cosine learning-rate schedule per stage, global
// gradient-norm clipping, and optional mirror augmentation ([Flips]) that rewrites the
// answer's position words with the image. Each step runs in its own training scope
// (torch.Scope.Train) with a dropout generator seeded from the run's seed and the step, and
// the batches come from a seeded data.Sampler, so a run resumed from a checkpoint
// ([Trainer.Resume]) continues exactly as an uninterrupted one would.
//
// After every epoch it validates (prsmed.Evaluate on the validation samples), writes a
// checkpoint under Config.OutDir/checkpoint (the model's trained tensors, its config, the
// LoRA adapter in PEFT's layout, the optimizer state and trainer.json; swapped in
// atomically), and rewrites log.csv and curves.png ([WriteCurves]). A cancelled context
// saves a checkpoint of the step reached. docs/training.md in the repository is the guide.
package train
