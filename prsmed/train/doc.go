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
//
// # Data parallelism
//
// Data-parallel training (Config.Dist) follows PyTorch's DistributedDataParallel with a
// DistributedSampler:
//
//   - at the start of Run, rank 0's parameters and buffers are broadcast to every rank;
//   - each epoch's global order is the one a single process with the same seed draws, padded
//     to a multiple of the world size by repeating its head, and rank r takes positions
//     r, r+World, r+2·World, …; its share is cut into batches of BatchSize × Accum, so
//     BatchSize is per rank and an optimisation step sees BatchSize × Accum × World samples
//     (the union of the ranks' k-th batches is the k-th global batch);
//   - the gradients are averaged over the ranks before clipping, so every rank takes the same
//     step: a dist.Reducer's hooks start each bucket's all-reduce during the last
//     micro-batch's backward (the earlier ones only accumulate, as under DDP's no_sync);
//     Config.DistNoOverlap averages after the backward passes instead
//     (dist.Group.AllReduceGrads), with the same result;
//   - the losses logged are averages over the ranks, weighted by their samples;
//   - rank 0 alone writes checkpoints, logs, curves and progress; every rank resumes from the
//     same checkpoint (OutDir must be shared, or copied to every machine); a checkpoint
//     written with another world size resumes with the same global batch, split over the
//     new world (BatchSize is derived from it), at the same sample position and step of
//     the learning-rate schedule (ErrWorldSize when the new world cannot split it);
//   - validation is split across the ranks, every rank predicting every World-th sample,
//     and the per-sample scores are all-reduced: every rank gets one process's summary.
//
// BatchNorm layers (TinyViT's, in the stages that train them) keep per-rank statistics, as
// DistributedDataParallel does by default: each rank normalises with its own batch's
// statistics and updates its own running averages, and rank 0's running averages are the
// ones saved. Config.SyncBN makes them torch.nn.SyncBatchNorm: the statistics of every
// rank's batch together, with the backward summing their gradients over the ranks.
package train
