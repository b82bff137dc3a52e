package nn_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/torch"
)

// Layers register their parameters under PyTorch's state-dict names.
func Example() {
	st := nn.NewStore(torch.CPU)
	defer st.Close()
	root := st.Root()
	fc := nn.NewLinear(root.Sub("encoder").Sub("fc"), 4, 3, nn.LinearConfig{Bias: true})
	norm := nn.NewLayerNorm(root.Sub("encoder").Sub("norm"), 1e-5, 3)
	fmt.Println(st.Names(), st.NumParams(false))

	s := torch.NewScope(torch.CPU).Eval()
	defer s.Close()
	y := norm.Forward(s, fc.Forward(s, torch.Ones(s, torch.Float32, 2, 4)))
	fmt.Println(y.Shape())
	// Output:
	// [encoder.fc.bias encoder.fc.weight encoder.norm.bias encoder.norm.weight] 21
	// [2 3]
}

// A head of three layers in one expression, with torch.nn.Sequential's state-dict names:
// the ReLU takes position 1 and registers nothing, as in PyTorch.
func ExampleSeq() {
	st := nn.NewStore(torch.CPU)
	defer st.Close()
	head := nn.Seq(st.Root().Sub("head"),
		nn.LinearPart(16, 32, nn.LinearConfig{Bias: true}),
		nn.Use(nn.ReLU),
		nn.LinearPart(32, 1, nn.LinearConfig{Bias: true}),
	)
	fmt.Println(st.Names())

	s := torch.NewScope(torch.CPU)
	defer s.Close()
	y := head.Forward(s.Eval(), torch.Ones(s, torch.Float32, 4, 16))
	fmt.Println(y.Shape())
	// Output:
	// [head.0.bias head.0.weight head.2.bias head.2.weight]
	// [4 1]
}

// Load the component a checkpoint holds under "image_encoder" into the place a model of
// your own keeps it ("backbone"), beside a head the file knows nothing of.
func ExampleComponent() {
	dir, _ := os.MkdirTemp("", "component")
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "sam.safetensors")

	// A checkpoint with two components.
	src := nn.NewStore(torch.CPU)
	nn.NewLinear(src.Root().Sub("image_encoder").Sub("proj"), 4, 4, nn.LinearConfig{Bias: true})
	nn.NewLinear(src.Root().Sub("mask_decoder").Sub("out"), 4, 1, nn.LinearConfig{})
	if err := src.Save(file, nil, nil); err != nil {
		panic(err)
	}
	src.Close()

	st := nn.NewStore(torch.CPU)
	defer st.Close()
	nn.NewLinear(st.Root().Sub("backbone").Sub("proj"), 4, 4, nn.LinearConfig{Bias: true})
	nn.NewLinear(st.Root().Sub("head"), 4, 2, nn.LinearConfig{})
	rep, err := st.LoadComponent(file, "image_encoder", st.Root().Sub("backbone"))
	if err != nil {
		panic(err)
	}
	fmt.Printf("loaded %d, missing %v, unexpected %v\n", rep.Loaded, rep.Missing, rep.Unexpected)
	// Output: loaded 2, missing [], unexpected []
}
