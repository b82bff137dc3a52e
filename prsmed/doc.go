// Package prsmed is PRS-Med: a vision-language model that answers a spatial question
// about a medical image with a segmentation mask and a short answer naming one of five
// Clinical Action Zones.
//
// The data flow of one sample, with the file that holds each step:
//
//	image ─► tinyvit.Preprocess ─► tinyvit.Encoder (prsmed/tinyvit) ─► z_img (B, 256, S/16, S/16)
//	image ─► clip.Preprocess ─► CLIP tower + projector (prsmed/clip) ─┐
//	question ─► llava template + tokenizer (prsmed/llava) ────────────┴► Mistral + LoRA (prsmed/mistral, loraadapter)
//	       ─► final hidden states of the prompt ─► Fusion (fusion.go) with z_img ─► Decoder (decoder.go) ─► mask logits
//	       ─► generated answer ─► zones.Parse ─► zone
//
// Model (model.go) assembles the parts from a Config (config.go); Train (train.go) runs
// the two stages; Predict (predict.go) answers one image and question.
package prsmed
