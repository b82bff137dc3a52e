// Package loraadapter adds LoRA adapters to a model's linear projections, with the
// semantics and file layout of Hugging Face PEFT, so that adapters trained here load in
// PEFT and adapters trained with PEFT (such as PRS-Med's) load here.
//
// A LoRA layer wraps a frozen linear layer W (out×in, optional bias b):
//
//	y = x Wᵀ + b + (dropout(x) Aᵀ) Bᵀ · s,   s = α / r   (α / √r with rank-stabilised LoRA)
//
// with A (lora_A, r×in) drawn kaiming-uniform with a = √5 and B (lora_B, out×r) zero, so a
// fresh adapter leaves the model unchanged. Dropout acts on the adapter's input only, and
// only in a training scope (torch.Scope.Train), drawing from the scope's generator; with
// dropout on, a scope with no mode is refused (torch.ErrNoMode): open it with Train or Eval.
//
// Models list the fields that hold their projections as [nn.LinearSlot]s;
// [Inject] replaces the matching ones in place with a [*Linear] and registers
// <module>.lora_A.weight and <module>.lora_B.weight in the store:
//
//	ads, err := loraadapter.Inject(store, model.LinearSlots(), loraadapter.DefaultConfig())
//	opt := torch.NewAdamW(store.ParamGroups(1e-4, 1e-5, nn.NoDecay), torch.DefaultAdamW())
//
// Inject freezes the weights of the layers it wraps and nothing else; freeze the rest of
// the model with Store.Freeze, or call [OnlyLoRATrainable] for PEFT's get_peft_model
// behaviour (everything but the LoRA tensors frozen).
//
// [Save] writes a PEFT adapter directory (adapter_config.json and
// adapter_model.safetensors with keys "base_model.model.<module>.lora_A.weight"), and
// [Load] reads one (safetensors or torch.save's adapter_model.bin) into a model.
// [Adapters.MergeAll] folds the adapters into the base weights for inference.
package loraadapter
