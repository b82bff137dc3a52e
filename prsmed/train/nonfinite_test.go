package train_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/prsmed/prsmed-go/losses"
	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/prsmed/prsmedtest"
	"github.com/prsmed/prsmed-go/prsmed/train"
)

// TestNonFiniteLossStopsBeforeTheStep: a NaN in a trained weight makes the first step's
// loss NaN; Run returns an error that wraps losses.ErrNonFinite and names the step and the
// loss, and the optimizer never ran: every other parameter is bit-identical to its value
// before the run. (Buffers are not compared: the forward pass in training mode updates
// BatchNorm's running statistics before the loss exists, as PyTorch's does.)
func TestNonFiniteLossStopsBeforeTheStep(t *testing.T) {
	ds := synthSet(t, 16)
	m := prsmedtest.TinyModel(t, 1)
	// The mask decoder's last bias trains in stage 2 and feeds every mask logit.
	var poisoned string
	for _, e := range m.Store.Entries() {
		if strings.HasPrefix(e.Name, "decoder.") && strings.HasSuffix(e.Name, ".bias") {
			poisoned = e.Name
		}
	}
	if poisoned == "" {
		t.Fatal("no decoder bias in the tiny model")
	}
	before := map[string][]float64{}
	for _, e := range m.Store.Entries() {
		if e.Kind == nn.Parameter {
			before[e.Name] = e.Tensor.Float64s()
		}
	}
	e, _ := m.Store.Get(poisoned)
	e.Tensor.Fill(math.NaN())

	tc := trainCfg("", 0, 1)
	tr, err := train.New(m, ds.Samples("train"), nil, tc)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	err = tr.Run(context.Background())
	if !errors.Is(err, losses.ErrNonFinite) {
		t.Fatalf("Run: %v, want an error wrapping losses.ErrNonFinite", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "epoch 1 step 1") || !strings.Contains(msg, "NaN") {
		t.Errorf("error %q does not name the step and the value", msg)
	}
	changed, trainable := 0, 0
	for _, e := range m.Store.Entries() {
		name := e.Name
		if e.Kind != nn.Parameter || name == poisoned {
			continue
		}
		if e.Trainable {
			trainable++
		}
		got, want := e.Tensor.Float64s(), before[name]
		for i := range want {
			if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
				changed++
				t.Errorf("%s[%d] = %v after the failed step, was %v", name, i, got[i], want[i])
				break
			}
		}
	}
	if trainable == 0 {
		t.Fatal("no trainable parameter was compared")
	}
	if changed > 0 {
		t.Errorf("%d parameter tensors changed: the optimizer stepped on a non-finite loss", changed)
	}
}
