package nn_test

import (
	"fmt"

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
