package loraadapter_test

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/prsmed/prsmed-go/loraadapter"
	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/torch/torchtest"
)

const (
	golden     = "../testdata/lora/lora.safetensors"
	peftDir    = "../testdata/lora/peft"
	peftBinDir = "../testdata/lora/peft_bin"
)

// The golden script's sizes.
const (
	hidden, kvDim, rank, alpha = 8, 4, 4, 8
)

// attn holds one decoder layer's projections, as LLaVA-Mistral names them.
type attn struct{ Q, K, V, O nn.Layer }

// tiny is lora_ref.py's Tiny without the vision tower: two layers of q/k/v/o
// projections under "model.layers.N.self_attn.", k_proj with a bias.
type tiny struct{ layers []attn }

func newTiny(st *nn.Store) *tiny {
	m := &tiny{}
	for i := 0; i < 2; i++ {
		p := st.Root().Sub("model").Sub("layers").Index(i).Sub("self_attn")
		m.layers = append(m.layers, attn{
			Q: nn.NewLinear(p.Sub("q_proj"), hidden, hidden, nn.LinearConfig{}),
			K: nn.NewLinear(p.Sub("k_proj"), hidden, kvDim, nn.LinearConfig{Bias: true}),
			V: nn.NewLinear(p.Sub("v_proj"), hidden, kvDim, nn.LinearConfig{}),
			O: nn.NewLinear(p.Sub("o_proj"), hidden, hidden, nn.LinearConfig{}),
		})
	}
	return m
}

// LinearSlots implements nn.SlotLister.
func (m *tiny) LinearSlots() []nn.LinearSlot {
	var out []nn.LinearSlot
	for i := range m.layers {
		l := &m.layers[i]
		p := fmt.Sprintf("model.layers.%d.self_attn.", i)
		out = append(out,
			nn.LinearSlot{Name: p + "q_proj", Layer: &l.Q},
			nn.LinearSlot{Name: p + "k_proj", Layer: &l.K},
			nn.LinearSlot{Name: p + "v_proj", Layer: &l.V},
			nn.LinearSlot{Name: p + "o_proj", Layer: &l.O})
	}
	return out
}

// Forward is lora_ref.py's forward, op for op.
func (m *tiny) Forward(s *torch.Scope, x *torch.Tensor) *torch.Tensor {
	h := x
	for _, l := range m.layers {
		q, k, v := l.Q.Forward(s, h), l.K.Forward(s, h), l.V.Forward(s, h)
		kv := torch.Cat(s, -1, k.Mul(s, v), k.Add(s, v))
		h = h.Add(s, l.O.Forward(s, q.Tanh(s).Mul(s, kv)))
	}
	return h
}

// testConfig is the golden script's adapter config, decoder only.
func testConfig() loraadapter.Config {
	c := loraadapter.DefaultConfig()
	c.R, c.Alpha = rank, alpha
	return c
}

// freshTiny makes a store holding a freshly initialised tiny decoder; the store is closed
// when the test ends.
func freshTiny(t *testing.T) (*nn.Store, *tiny) {
	t.Helper()
	st := nn.NewStore(torch.CPU)
	t.Cleanup(st.Close)
	return st, newTiny(st)
}

// withBase makes a store holding the golden tiny decoder's base weights.
func withBase(t *testing.T) (*nn.Store, *tiny) {
	t.Helper()
	st, m := freshTiny(t)
	if _, err := st.Load(golden, nn.LoadOptions{Prefix: "sd."}); err != nil {
		t.Fatal(err)
	}
	return st, m
}

// goldenScope starts a test that compares with lora_ref.py's goldens: it fails the test
// if it leaks tensors, and returns an evaluation-mode scope holding the goldens, closed
// when the test ends.
func goldenScope(t *testing.T) (*torch.Scope, map[string]*torch.Tensor) {
	t.Helper()
	torchtest.NoLeak(t)
	s := torch.NewScope(torch.CPU).Eval()
	t.Cleanup(s.Close)
	return s, torchtest.Golden(t, s, golden)
}

// withAdapter is withBase with the PEFT adapter in peftDir loaded onto the model.
func withAdapter(t *testing.T) (*nn.Store, *tiny, loraadapter.Adapters) {
	t.Helper()
	st, m := withBase(t)
	_, ads, err := loraadapter.Load(peftDir, st, m.LinearSlots())
	if err != nil {
		t.Fatal(err)
	}
	return st, m, ads
}

// decoderModules lists the tiny decoder's projection names.
func decoderModules() []string {
	var out []string
	for i := 0; i < 2; i++ {
		for _, p := range []string{"q_proj", "k_proj", "v_proj", "o_proj"} {
			out = append(out, fmt.Sprintf("model.layers.%d.self_attn.%s", i, p))
		}
	}
	return out
}

// copyDir copies the files of src into a fresh temporary directory.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		in, err := os.Open(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(filepath.Join(dst, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, in); err != nil {
			t.Fatal(err)
		}
		in.Close()
		out.Close()
	}
	return dst
}

// exact asks for bit-equal tensors.
func exact(t *testing.T, name string, got, want *torch.Tensor) {
	t.Helper()
	torchtest.AllCloseTol(t, name, got, want, torchtest.Tol{Exact: true})
}
