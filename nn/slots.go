package nn

// LinearSlot names a place in a model that holds a linear projection: Name is the
// module's dotted name as in the model's PyTorch / Hugging Face state dict (without
// ".weight"), and Layer points at the field that holds it, so that an adapter (LoRA) can
// replace the layer in place. Models list theirs with a LinearSlots method.
type LinearSlot struct {
	Name  string
	Layer *Layer
}

// SlotLister is a model that exposes its linear projections for adapters.
type SlotLister interface {
	LinearSlots() []LinearSlot
}
