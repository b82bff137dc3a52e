package main

import "testing"

// The loss of the last steps is well below that of the first.
func TestTrainLowersLoss(t *testing.T) {
	curve, err := train(12, 1)
	if err != nil {
		t.Fatal(err)
	}
	first, last := curve[0], (curve[len(curve)-1]+curve[len(curve)-2])/2
	t.Logf("loss %.4f → %.4f", first, last)
	if !(last < 0.8*first) {
		t.Errorf("loss went from %.4f to %.4f, want a drop of 20%% or more", first, last)
	}
}
