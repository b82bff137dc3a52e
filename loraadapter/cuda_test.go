package loraadapter_test

import (
	"testing"

	"github.com/prsmed/prsmed-go/loraadapter"
	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/torch/torchtest"
)

// A model moved to the GPU before the adapter is loaded: the LoRA tensors follow the base
// layers' device, and the forward, the gradients and the merge match PyTorch's CPU goldens.
func TestCUDAAdapterAfterStoreTo(t *testing.T) {
	if !torch.CUDAAvailable() {
		t.Skip("no CUDA device")
	}
	dev := torch.CUDA(0)
	s := torch.NewScope(torch.CPU).Eval()
	defer s.Close()
	gs := s.On(dev)
	defer gs.Close()
	g := torchtest.Golden(t, s, golden)
	st, m := withBase(t)
	if err := st.To(dev, torch.KeepDType); err != nil {
		t.Fatal(err)
	}
	_, ads, err := loraadapter.Load(peftDir, st, m.LinearSlots())
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ads {
		if l.A.Device() != dev || l.B.Device() != dev {
			t.Fatalf("%s: LoRA tensors on %v/%v, base on %v", l.Name, l.A.Device(), l.B.Device(), dev)
		}
	}
	x := torchtest.Want(t, g, "x").ToDevice(gs, dev).SetRequiresGrad(true)
	out := m.Forward(gs, x)
	out.BackwardWith(torchtest.Want(t, g, "gout").ToDevice(gs, dev), false)
	torchtest.AllClose(t, "cuda eval.out", out.ToDevice(s, torch.CPU), torchtest.Want(t, g, "eval.out"), 1e-4)
	for _, l := range ads {
		name := l.ParamNames()[1]
		torchtest.AllClose(t, "cuda "+name, l.B.Grad(gs).ToDevice(s, torch.CPU), torchtest.Want(t, g, "eval.grad."+name), 1e-4)
	}
	if err := ads.MergeAll(); err != nil {
		t.Fatal(err)
	}
	merged := m.Forward(gs, torchtest.Want(t, g, "x").ToDevice(gs, dev))
	torchtest.AllClose(t, "cuda merged.out", merged.ToDevice(s, torch.CPU), torchtest.Want(t, g, "merged.out"), 1e-4)
}
