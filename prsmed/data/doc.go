// Package data reads the PosMed data set that PRS-Med trains on and batches its
// samples deterministically (package synth writes synthetic stand-ins in the same
// layout). It is plain Go: tensors are made from the decoded images by the
// model code.
//
// # Layout
//
// A PosMed data root holds one folder per modality and one annotation CSV
// per modality:
//
//	<root>/<modality>.csv
//	<root>/<modality>/{train,val,test}_images/<image file>
//	<root>/<modality>/{train,val,test}_masks/<mask file>
//
// The CSVs may also sit in a separate annotation folder (the official code
// takes it as a second path, e.g. annotation_v3/); see [Options.Annotations]
// for how [Open] finds it. The modality of a row is its CSV's file name
// without ".csv" (brain_tumors_ct_scan, breast_tumors_ct_scan, lung_CT,
// lung_Xray, polyp_endoscopy, skin_rgbimage in the real data set).
//
// # CSV schema
//
// Each CSV has a header row naming at least the columns
//
//	image_path,image_name,question,answer,position,split
//
// in any order (extra columns are ignored; a UTF-8 byte-order mark and
// spaces around names are tolerated; names are matched without regard to
// case).
//
//   - image_path: the mask's path relative to the data root, e.g.
//     brain_tumors_ct_scan/train_masks/10.png.
//   - image_name: the image's file name, with or without its extension
//     (10.png in the brain CSV, ISIC_0000000 in the skin CSV whose images
//     are .jpg files).
//   - question: the free-form question.
//   - answer: the free-form answer (the language-model target).
//   - position: a templated sentence that names the Clinical Action Zone,
//     e.g. "The tumor is visible in position top left and close to the
//     center." Zone words are spelled "top left", "top right", "bottom
//     left", "bottom right" and "center".
//   - split: train, val or test.
//
// # Image files
//
// The image of a row lies in the folder of its mask with the last folder
// name ending in "masks" rewritten to end in "images" (train_masks →
// train_images, test_masks → test_images). Its file name is looked up in
// this order, and the first file that exists is used:
//
//  1. image_name as written, when it ends in .png, .jpg, .jpeg or .dcm;
//  2. image_name without that extension, plus .png, .jpg, .jpeg, .dcm in turn;
//  3. the mask's file name without its extension and without a trailing
//     "_Segmentation" (the ISIC naming), plus .png, .jpg, .jpeg, .dcm in turn.
//
// This reproduces the official rewriting (train_masks → train_images, drop
// _Segmentation, .png → .jpg for ISIC) while also accepting other splits and
// extensions. Extensions are matched exactly (lower case).
//
// # Validation
//
// [Open] checks the header, every row's split (train, val or test, after
// trimming spaces and lower-casing), that image_path is a relative path
// inside the root, and that the mask and image files exist; any problem is
// an error naming the CSV file and the line the row starts on. Decoding is
// left to [LoadSample], which also checks that image and mask have the same
// size and that the mask has a foreground pixel. Empty masks are not an
// error in the data set (the official labelling skipped them, so they should
// not occur): [LoadSample] reports them with an error wrapping
// [ErrEmptyMask], and [Validate] drops them from a sample list with a
// warning, so a training loop either validates once up front or skips
// samples whose error wraps ErrEmptyMask.
//
// # Synthetic data
//
// Package prsmed/data/synth writes the same layout with six synthetic modalities named
// like the real ones; see the examples/synthdata command.
package data
