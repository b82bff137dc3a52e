// Command tinytrain trains a tiny two-layer network on a synthetic problem with package
// torch alone and prints its loss: the smallest end-to-end check that libtorch, autograd
// and AdamW work on this machine.
//
//	go run ./examples/tinytrain -steps 200
package main

import (
	"context"
	"fmt"
	"math"
	"os"

	"github.com/prsmed/prsmed-go/examples/internal/cli"
	"github.com/prsmed/prsmed-go/torch"
)

func main() {
	c := cli.NewCommand("tinytrain", "tinytrain [flags]", "Trains y = sin(3x₀)·x₁ with a 2-layer MLP and prints the loss.")
	steps := c.Flags.Int("steps", 200, "training steps")
	lr := c.Flags.Float64("lr", 1e-2, "AdamW learning rate")
	hidden := c.Flags.Int64("hidden", 32, "hidden width")
	seed := c.Flags.Uint64("seed", 0, "random seed")
	threads := c.Threads()
	c.Parse(os.Args[1:])
	if *steps <= 0 || *hidden <= 0 || *lr <= 0 {
		c.Usagef("-steps, -hidden and -lr must be positive")
	}
	c.Main(func(ctx context.Context) error {
		if *threads > 0 {
			torch.SetNumThreads(*threads)
		}
		return run(ctx, *steps, *lr, *hidden, *seed)
	})
}

func run(ctx context.Context, steps int, lr float64, hidden int64, seed uint64) error {
	params := torch.NewScope(torch.CPU)
	defer params.Close()
	g, err := torch.NewGenerator(seed, torch.CPU)
	if err != nil {
		return err
	}
	defer g.Close()

	// Data: 256 points in [-1, 1]², target sin(3x₀)·x₁.
	x := torch.Rand(params, g, torch.Float32, 256, 2).MulScalar(params, 2).SubScalar(params, 1)
	y := x.Select(params, 1, 0).MulScalar(params, 3).Sin(params).Mul(params, x.Select(params, 1, 1)).Unsqueeze(params, 1)

	init := func(out, in int64) *torch.Tensor {
		bound := 1 / math.Sqrt(float64(in))
		w := torch.Empty(params, torch.Float32, out, in)
		w.UniformFill(-bound, bound, g)
		return w.SetRequiresGrad(true)
	}
	w1, b1 := init(hidden, 2), torch.Zeros(params, torch.Float32, hidden).SetRequiresGrad(true)
	w2, b2 := init(1, hidden), torch.Zeros(params, torch.Float32, 1).SetRequiresGrad(true)
	opt := torch.NewAdamW([]*torch.ParamGroup{{Params: []*torch.Tensor{w1, b1, w2, b2}}}, torch.AdamWConfig{
		LR: lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0,
	})
	defer opt.Close()
	sched := torch.CosineAnnealing{TMax: int64(steps), Min: lr / 10}

	for step := 0; step < steps; step++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		s := params.Child()
		torch.ApplySchedule(opt, sched, int64(step))
		h := torch.Linear(s, x, w1, b1).Tanh(s)
		pred := torch.Linear(s, h, w2, b2)
		loss := torch.MSELoss(s, pred, y, torch.ReduceMean)
		opt.ZeroGrad()
		loss.Backward()
		opt.Step()
		if step%(steps/10+1) == 0 || step == steps-1 {
			fmt.Printf("step %4d  loss %.6f\n", step, loss.Item())
		}
		s.Close()
	}
	return nil
}
