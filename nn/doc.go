// Package nn holds named parameters and the layers PRS-Med is built from, with PyTorch's
// semantics, default initialisation and state-dict names, so that released checkpoints
// load without renaming.
//
// A [Store] owns every parameter and buffer; a [Path] names them with PyTorch's dotted
// names. Layer constructors take a Path:
//
//	store := nn.NewStore(torch.CPU)
//	defer store.Close()
//	root := store.Root()
//	fc := nn.NewLinear(root.Sub("fc"), 4, 3, nn.LinearConfig{Bias: true}) // fc.weight, fc.bias
//
// Layers are plain structs with a Forward(s, x) method; [Layer] is the one shared
// interface, so a LoRA layer can stand where a Linear stood. [Seq] strings layers with one
// input together under torch.nn.Sequential's names (<p>.0, <p>.1, …). Whether a layer trains
// (Dropout, BatchNorm) and which generator it draws from come from the scope it is called
// with (torch.Scope.Train); the store keeps no state of a call.
//
// [Store.Load] copies tensors from a weight file (safetensors, a sharded index, or a
// torch.save file) into the store by name, as [LoadOptions] say, and reports what did not
// line up in a [LoadReport]; [Component] (or [Store.LoadComponent]) loads one part of a
// bigger checkpoint into the place a model keeps it; [Store.Save] writes a safetensors file.
package nn

import "github.com/prsmed/prsmed-go/torch"

// Layer is anything that maps one tensor to another in a scope.
type Layer interface {
	Forward(s *torch.Scope, x *torch.Tensor) *torch.Tensor
}

// Func adapts a function to a Layer.
type Func func(s *torch.Scope, x *torch.Tensor) *torch.Tensor

// Forward calls f.
func (f Func) Forward(s *torch.Scope, x *torch.Tensor) *torch.Tensor { return f(s, x) }
