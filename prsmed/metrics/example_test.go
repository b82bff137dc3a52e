package metrics_test

import (
	"fmt"

	"github.com/prsmed/prsmed-go/prsmed/metrics"
	"github.com/prsmed/prsmed-go/zones"
)

func ExampleEvaluate() {
	// A 2×2 prediction scored against a 4×4 ground truth: the prediction
	// is resized to 4×4 by nearest neighbour first.
	pred := metrics.Prob{W: 2, H: 2, Pix: []float64{0.9, 0.2, 0.6, 0}}
	gt := metrics.NewMask(4, 4)
	for _, i := range []int{0, 1, 4, 5} { // top-left 2×2 block
		gt.Pix[i] = true
	}
	r, err := metrics.Evaluate(pred, gt)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("Dice@0.5 %.3f IoU@0.5 %.3f\n", r.Dice05, r.IoU05)
	fmt.Printf("mDice %.3f maxDice %.3f\n", r.MeanDice(), r.MaxDice())
	// Output:
	// Dice@0.5 0.667 IoU@0.5 0.500
	// mDice 0.664 maxDice 1.000
}

func ExampleAccumulator() {
	var acc metrics.Accumulator
	r := metrics.Result{Dice05: 0.8, IoU05: 0.7}
	acc.Add("polyp_endoscopy", &r)
	acc.AddAnswer("polyp_endoscopy", "The polyp is in the lower left, far from the center.", zones.BottomLeft)
	acc.AddAnswer("polyp_endoscopy", "The polyp is in the middle.", zones.BottomLeft)
	s := acc.Summary()
	g := s.Groups[0]
	fmt.Println(g.Name, g.Images, g.Dice05, g.ZoneAccuracy)
	// Output: polyp_endoscopy 1 0.8 0.5
}
