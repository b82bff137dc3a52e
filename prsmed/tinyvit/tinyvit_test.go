package tinyvit_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/nn/nntest"
	"github.com/prsmed/prsmed-go/prsmed/imageio"
	"github.com/prsmed/prsmed-go/prsmed/tinyvit"
	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/torch/torchtest"
)

const dir = "../../testdata/tinyvit"

// small is SMALL in third_party/golden/tinyvit_ref.py.
func small() tinyvit.Config {
	return tinyvit.Config{ImageSize: 128, InChans: 3, EmbedDims: []int64{8, 16, 24, 32}, Depths: []int64{1, 1, 2, 1},
		NumHeads: []int64{1, 2, 2, 4}, WindowSizes: []int64{7, 7, 5, 8}, MLPRatio: 4, MBConvExpand: 4, LocalConv: 3,
		NeckDim: 16, NumClasses: 10}
}

func newEncoder(t *testing.T, c tinyvit.Config) (*nn.Store, *tinyvit.Encoder) {
	t.Helper()
	st := nn.NewStore(torch.CPU)
	e, err := tinyvit.New(st.Root(), c)
	if err != nil {
		t.Fatal(err)
	}
	return st, e
}

func TestSmallLoadsPthAndMatchesPyTorch(t *testing.T) {
	st, enc := newEncoder(t, small())
	defer st.Close()
	if err := tinyvit.Load(st, filepath.Join(dir, "small_sam.pth")); err != nil {
		t.Fatal(err)
	}
	s := torch.NewScope(torch.CPU).Eval()
	defer s.Close()
	g := torchtest.Golden(t, s, filepath.Join(dir, "tinyvit.safetensors"))

	ev := s.NoGrad()
	torchtest.AllClose(t, "eval", enc.Forward(ev, g["small.eval.in"]), g["small.eval.out"], 1e-4)
	ev.Close()

	s = s.Train(nil)
	x := g["small.train.in"].Clone(s).SetRequiresGrad(true)
	y := enc.Forward(s, x)
	torchtest.AllClose(t, "train out", y, g["small.train.out"], 1e-4)
	y.Mul(s, g["small.train.gout"]).SumAll(s).Backward()
	torchtest.AllClose(t, "grad input", x.Grad(s), g["small.train.grad_in"], 1e-4)
	for name, want := range g {
		switch {
		case strings.HasPrefix(name, "small.train.state."):
			e, ok := st.Get(strings.TrimPrefix(name, "small.train.state."))
			if !ok {
				t.Fatalf("store has no %s", name)
			}
			torchtest.AllClose(t, name, e.Tensor, want, 1e-5)
		case strings.HasPrefix(name, "small.train.grad."):
			e, ok := st.Get(strings.TrimPrefix(name, "small.train.grad."))
			if !ok {
				t.Fatalf("store has no %s", name)
			}
			torchtest.AllClose(t, name, e.Tensor.Grad(s), want, 1e-4)
		}
	}
}

func TestVitTMatchesPyTorch(t *testing.T) {
	st, enc := newEncoder(t, tinyvit.VitT())
	defer st.Close()
	nntest.FillSeeded(t, st, 3)
	s := torch.NewScope(torch.CPU).Eval().NoGrad()
	defer s.Close()
	g := torchtest.Golden(t, s, filepath.Join(dir, "tinyvit.safetensors"))

	if err := torch.ManualSeed(21); err != nil {
		t.Fatal(err)
	}
	out := enc.Forward(s, torch.Randn(s, nil, torch.Float32, 1, 3, 256, 256))
	torchtest.AllClose(t, "256 input", out, g["vitt256.out"], 1e-4)

	if testing.Short() {
		t.Skip("the 1024 forward takes a few seconds")
	}
	if err := torch.ManualSeed(22); err != nil {
		t.Fatal(err)
	}
	e := enc.Forward(s, torch.Randn(s, nil, torch.Float32, 1, 3, 1024, 1024))
	if got := e.Shape(); got[1] != 256 || got[2] != 64 || got[3] != 64 {
		t.Fatalf("1024 input gives %v, want [1 256 64 64]", got)
	}
	torchtest.AllClose(t, "1024 channels 0-15", e.Narrow(s, 1, 0, 16), g["vitt1024.out.ch0_15"], 1e-4)
	ed := e.ToDType(s, torch.Float64)
	torchtest.AllClose(t, "1024 channel sums", ed.Sum(s, []int64{0, 2, 3}, false), g["vitt1024.out.chsum"], 1e-4)
	torchtest.AllClose(t, "1024 channel sums of squares", ed.Square(s).Sum(s, []int64{0, 2, 3}, false), g["vitt1024.out.chsumsq"], 1e-4)
}

func TestPreprocessMatchesPyTorch(t *testing.T) {
	s := torch.NewScope(torch.CPU).Eval()
	defer s.Close()
	g := torchtest.Golden(t, s, filepath.Join(dir, "tinyvit.safetensors"))
	for _, name := range []string{"rgb", "gray"} {
		img, err := imageio.Load(filepath.Join(dir, name+".png"))
		if err != nil {
			t.Fatal(err)
		}
		torchtest.AllClose(t, name, tinyvit.Preprocess(s, img, 64), g["pre."+name+"64"], 1e-5)
	}
}

func TestLoadErrorsNameKeys(t *testing.T) {
	// A checkpoint of the small encoder with one block's tensors missing and one tensor of
	// the wrong shape.
	src, _ := newEncoder(t, small())
	defer src.Close()
	nntest.FillSeeded(t, src, 1)
	tmp := t.TempDir()
	path := filepath.Join(tmp, "broken.safetensors")
	bad := torch.NewScope(torch.CPU).Eval()
	defer bad.Close()
	m := src.Tensors()
	for name := range m {
		if strings.HasPrefix(name, "layers.2.blocks.1.") {
			delete(m, name)
		}
	}
	m["neck.0.weight"] = torch.Zeros(bad, torch.Float32, 16, 32, 3, 3)
	if err := torch.SaveSafetensors(path, m, nil); err != nil {
		t.Fatal(err)
	}
	dst, _ := newEncoder(t, small())
	defer dst.Close()
	err := tinyvit.Load(dst, path)
	if !errors.Is(err, nn.ErrLoad) {
		t.Fatalf("err = %v, want nn.ErrLoad", err)
	}
	for _, want := range []string{"layers.2.blocks.1.attn.qkv.weight", "layers.2.blocks.1.local_conv.bn.running_var", "neck.0.weight"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s: %v", want, err)
		}
	}
	if err := tinyvit.Load(dst, filepath.Join(tmp, "missing.pth")); err == nil {
		t.Fatal("loading a missing file succeeded")
	}
	if err := os.WriteFile(filepath.Join(tmp, "junk.pth"), []byte("not a checkpoint"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := tinyvit.Load(dst, filepath.Join(tmp, "junk.pth")); err == nil {
		t.Fatal("loading a corrupt file succeeded")
	}
}

func TestConfigValidation(t *testing.T) {
	for name, mut := range map[string]func(*tinyvit.Config){
		"size not /16": func(c *tinyvit.Config) { c.ImageSize = 100 },
		"3 stages":     func(c *tinyvit.Config) { c.EmbedDims = c.EmbedDims[:3] },
		"heads":        func(c *tinyvit.Config) { c.NumHeads[2] = 7 },
	} {
		c := tinyvit.VitT()
		c.NumHeads = append([]int64(nil), c.NumHeads...)
		mut(&c)
		if c.Validate() == nil {
			t.Errorf("%s: Validate accepted a bad config", name)
		}
	}
	if err := tinyvit.VitT().Validate(); err != nil {
		t.Fatal(err)
	}
}
