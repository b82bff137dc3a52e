// Package zones implements PRS-Med's Clinical Action Zones: the five coarse
// image positions (top left, top right, bottom left, bottom right, center)
// that a position answer names.
//
// It has three parts, all in plain Go with no libtorch dependency:
//
//   - [FromMask], [Near] and [Locate] derive the zone of a lesion from its
//     ground-truth mask with the rule that labelled the PosMed data set.
//   - [Parse] recovers the zone that a free-form answer names, so that
//     generated answers can be scored against the true zone.
//   - [Question] and [Answer] generate question/answer text from seeded
//     templates, for training data and tests.
package zones
