package torch_test

import (
	"errors"
	"fmt"

	"github.com/prsmed/prsmed-go/torch"
)

// A scope owns what is made in it; closing it frees everything at once.
func Example() {
	s := torch.NewScope(torch.CPU)
	defer s.Close()
	x := torch.FromSlice(s, []float32{1, 2, 3, 4}, 2, 2)
	y := x.Matmul(s, x.T(s)).Relu(s)
	fmt.Println(y.Shape(), torch.Data[float32](y))
	// Output: [2 2] [5 11 11 25]
}

// Gradients: mark leaves, backpropagate a scalar, read the gradient.
func ExampleTensor_Backward() {
	s := torch.NewScope(torch.CPU)
	defer s.Close()
	w := torch.FromSlice(s, []float32{1, -2, 3}).SetRequiresGrad(true)
	loss := w.Square(s).SumAll(s) // Σ w²
	loss.Backward()
	fmt.Println(loss.Item(), torch.Data[float32](w.Grad(s)))
	// Output: 14 [2 -4 6]
}

// Failed ops panic with *torch.Error inside a computation; Try (or Recover in a function
// that returns error) turns them into errors that errors.Is classifies.
func ExampleTry() {
	s := torch.NewScope(torch.CPU)
	defer s.Close()
	a := torch.Zeros(s, torch.Float32, 2, 3)
	err := torch.Try(func() { a.Matmul(s, a) })
	fmt.Println(errors.Is(err, torch.ErrShape))
	// Output: true
}

// AdamW with PyTorch's numerics on one parameter. The group sets nothing, so it takes every
// value of the configuration (torch.Float(v) in a group field overrides one); each step
// runs in a scope that Train opened, as a training step must for BatchNorm and Dropout.
func ExampleNewAdamW() {
	s := torch.NewScope(torch.CPU)
	defer s.Close()
	w := torch.FromSlice(s, []float32{1}).SetRequiresGrad(true)
	opt := torch.NewAdamW([]*torch.ParamGroup{{Params: []*torch.Tensor{w}}}, torch.AdamWConfig{LR: 0.1, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8})
	defer opt.Close()
	for i := 0; i < 3; i++ {
		c := s.Train(nil) // training mode, random layers drawing from the default generator
		opt.ZeroGrad()
		w.Square(c).SumAll(c).Backward()
		opt.Step()
		c.Close()
	}
	fmt.Printf("%.4f\n", torch.Data[float32](w)[0])
	// Output: 0.7016
}
