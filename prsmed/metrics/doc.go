// Package metrics scores PRS-Med outputs the way the official evaluation
// does: per-image Dice and IoU of a predicted probability map against a
// binary ground truth at threshold 0.5 and over the paper's sweep of 256
// thresholds (mDice, mIoU, maxDice), averaged per modality and overall, and
// the accuracy of the Clinical Action Zone named by generated answers.
//
// The package is plain Go and imports no libtorch. On 8-bit grey PNG masks
// its per-image, per-threshold Dice and IoU equal those of the official
// evaluation/segmentation/eval.py (PraNet toolbox) exactly — same
// thresholds, same ≥ comparison, same nearest-neighbour resize — and its
// averages agree to floating-point rounding (summation order differs from
// numpy's). third_party/golden/metrics_ref.py is an independent Python
// implementation whose outputs the tests compare against.
package metrics
