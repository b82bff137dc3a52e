package losses_test

import (
	"fmt"

	"github.com/prsmed/prsmed-go/losses"
	"github.com/prsmed/prsmed-go/torch"
)

// The PRS-Med objective on a confident, correct mask prediction and no answer tokens.
func ExampleWeights_Objective() {
	s := torch.NewScope(torch.CPU).Eval()
	defer s.Close()
	target := torch.FromSlice(s, []float32{0, 1, 1, 0}, 1, 1, 2, 2)
	logits := target.MulScalar(s, 40).SubScalar(s, 20) // ±20
	p := losses.DefaultWeights().Objective(s, logits, target, nil, nil)
	total, bce, dice, _ := p.Values()
	fmt.Printf("total %.4f bce %.4f dice %.4f\n", total, bce, dice)
	// Output: total 0.0000 bce 0.0000 dice 0.0000
}
