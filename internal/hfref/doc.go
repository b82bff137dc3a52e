// Package hfref holds differential tests against the real Hugging Face libraries: tiny
// random models built with transformers (MistralForCausalLM in the 4.x and 5.x config
// layouts, CLIPVisionModel, LlavaForConditionalGeneration) and a PEFT LoRA adapter, saved
// with save_pretrained by third_party/golden/hf/make_refs.py, are loaded with this
// project's loaders and their logits, hidden states, greedy answers and gradients compared
// with transformers' own (float32, 1e-5 relative).
//
// The references are generated, not committed: the tests run when PRSMED_HF_REFS names the
// directory make_refs.py wrote and skip otherwise. third_party/golden/hf/ci.sh runs the
// whole round trip (references, these tests, and PEFT reading the adapter these tests
// write to PRSMED_HF_GO_OUT).
package hfref
