// Package prsmed is PRS-Med: a vision-language model that answers a spatial question
// about a medical image with a segmentation mask and a short answer naming one of five
// Clinical Action Zones.
//
// The data flow of one sample, with the file or package that holds each step:
//
//	image ─► PreprocessBatch (preprocess.go) ─► TinyViT (prsmed/tinyvit) ─► z_img (B, C, S/16, S/16)
//	image ─► PreprocessBatch ─► CLIP tower + projector (prsmed/clip) ──────┐
//	question ─► template + tokenizer (prsmed/llava, prsmed/tokenizer) ─────┴► Mistral + LoRA (prsmed/mistral, loraadapter)
//	       ─► final hidden states of the prompt ─► Fusion (fusion.go) with z_img ─► Decoder (decoder.go) ─► mask logits
//	       ─► generated answer ─► zones.Parse ─► zone
//
// Model (model.go) assembles the parts from a Config (config.go: the Paper and Tiny
// presets) and runs the training forward pass (Forward) for the stage chosen with SetStage;
// Predict and PredictBatch (predict.go) answer images and questions, and are safe for
// concurrent use; checkpoint.go saves and loads trained weights and reads the released
// TinySAM and LLaVA-Med weights; Evaluate (evaluate.go) scores a list of PosMed samples.
// The trainer is package prsmed/train.
//
// docs/architecture.md and docs/model.md in the repository describe the data flow, the
// shapes of both presets and the training stages in full.
package prsmed
