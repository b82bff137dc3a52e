package clip

import (
	"fmt"
	"math"
	"strings"

	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/torch"
)

// EncoderLayer is a CLIPEncoderLayer (pre-LN):
// x += out_proj(MHA(layer_norm1(x))); x += fc2(act(fc1(layer_norm2(x)))), with biases
// everywhere, attention scale head_dim^-½ and no mask.
type EncoderLayer struct {
	Norm1, Norm2 *nn.LayerNorm
	// Q, K, V and Out are the attention projections (q_proj, k_proj, v_proj, out_proj);
	// they are nn.Layer fields so an adapter can stand in their place (see LinearSlots).
	Q, K, V, Out nn.Layer
	FC1, FC2     nn.Layer
	Act          nn.Activation
	Heads        int64
	scale        float64
}

func newEncoderLayer(p nn.Path, c VisionConfig, act nn.Activation) *EncoderLayer {
	d := c.HiddenSize
	lin := func(p nn.Path, in, out int64) nn.Layer {
		return nn.NewLinear(p, in, out, nn.LinearConfig{Bias: true})
	}
	ap, mp := p.Sub("self_attn"), p.Sub("mlp")
	return &EncoderLayer{
		Q:     lin(ap.Sub("q_proj"), d, d),
		K:     lin(ap.Sub("k_proj"), d, d),
		V:     lin(ap.Sub("v_proj"), d, d),
		Out:   lin(ap.Sub("out_proj"), d, d),
		Norm1: nn.NewLayerNorm(p.Sub("layer_norm1"), c.LayerNormEps, d),
		FC1:   lin(mp.Sub("fc1"), d, c.IntermediateSize),
		FC2:   lin(mp.Sub("fc2"), c.IntermediateSize, d),
		Norm2: nn.NewLayerNorm(p.Sub("layer_norm2"), c.LayerNormEps, d),
		Act:   act,
		Heads: c.NumAttentionHeads,
		// transformers computes head_dim**-0.5 (pow, not 1/sqrt).
		scale: math.Pow(float64(c.HeadDim()), -0.5),
	}
}

// Forward maps (B, N, D) tokens to (B, N, D); its intermediates are freed on return.
func (l *EncoderLayer) Forward(s *torch.Scope, x *torch.Tensor) *torch.Tensor {
	c := s.Child()
	defer c.Close()
	b, n, d := x.Size(0), x.Size(1), x.Size(2)
	hd := d / l.Heads
	heads := func(t *torch.Tensor) *torch.Tensor { return t.View(c, b, n, l.Heads, hd).Transpose(c, 1, 2) }
	h := l.Norm1.Forward(c, x)
	q, k, v := heads(l.Q.Forward(c, h)), heads(l.K.Forward(c, h)), heads(l.V.Forward(c, h))
	o := torch.ScaledDotProductAttention(c, q, k, v, torch.AttentionOpts{Scale: l.scale})
	o = o.Transpose(c, 1, 2).Reshape(c, b, n, d)
	x = x.Add(c, l.Out.Forward(c, o))
	m := l.FC2.Forward(c, l.Act.Forward(c, l.FC1.Forward(c, l.Norm2.Forward(c, x))))
	return c.Escape(x.Add(c, m))
}

// Tower is Hugging Face's CLIPVisionTransformer (the `vision_model` of CLIPVisionModel) as
// LLaVA's CLIPVisionTower runs it: features from one hidden state, optionally without the
// class token. All NumHiddenLayers layers and post_layernorm are registered (checkpoints
// hold them), but Forward runs only the layers up to the selected hidden state.
type Tower struct {
	Config     VisionConfig
	PatchEmbed *nn.Conv2d      // embeddings.patch_embedding (no bias)
	ClassEmbed *torch.Tensor   // embeddings.class_embedding (D)
	PosEmbed   *nn.Embedding   // embeddings.position_embedding (NumPositions, D)
	PreNorm    *nn.LayerNorm   // pre_layrnorm (sic)
	Layers     []*EncoderLayer // encoder.layers.N
	PostNorm   *nn.LayerNorm   // post_layernorm: present in checkpoints, unused
	prefix     string
	entries    []bound // the tower's store entries, by name relative to the tower
}

// bound is a store entry and its name relative to a module.
type bound struct {
	rel   string
	entry *nn.Entry
}

// NewTower registers the tower's parameters under p: use
// store.Root().Sub(LLaVATowerPath) for LLaVA(-Med) names, store.Root().Sub("vision_model")
// for a standalone CLIP checkpoint's, or the root for bare names. Parameters are trainable
// until SetTrainable(false); LLaVA keeps the tower frozen.
func NewTower(p nn.Path, c VisionConfig) (*Tower, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	act, _ := c.Activation()
	st := p.Store()
	first := len(st.Entries())
	d := c.HiddenSize
	t := &Tower{Config: c, prefix: p.String()}
	ep := p.Sub("embeddings")
	t.ClassEmbed = ep.Param("class_embedding", nn.Normal(0, math.Pow(float64(d), -0.5)), d)
	t.PatchEmbed = nn.NewConv2d(ep.Sub("patch_embedding"), c.NumChannels, d, c.PatchSize,
		nn.ConvConfig{Stride: c.PatchSize, NoBias: true})
	t.PosEmbed = nn.NewEmbedding(ep.Sub("position_embedding"), c.NumPositions(), d)
	t.PreNorm = nn.NewLayerNorm(p.Sub("pre_layrnorm"), c.LayerNormEps, d)
	lp := p.Sub("encoder").Sub("layers")
	for i := 0; i < int(c.NumHiddenLayers); i++ {
		t.Layers = append(t.Layers, newEncoderLayer(lp.Index(i), c, act))
	}
	t.PostNorm = nn.NewLayerNorm(p.Sub("post_layernorm"), c.LayerNormEps, d)
	t.entries = relEntries(st.Entries()[first:], t.prefix)
	return t, nil
}

func relEntries(es []*nn.Entry, prefix string) []bound {
	out := make([]bound, len(es))
	for i, e := range es {
		rel := e.Name
		if prefix != "" {
			rel = strings.TrimPrefix(rel, prefix+".")
		}
		out[i] = bound{rel: rel, entry: e}
	}
	return out
}

// Prefix is the module path the tower was built at.
func (t *Tower) Prefix() string { return t.prefix }

// SetTrainable freezes (false) or unfreezes (true) every parameter of the tower.
func (t *Tower) SetTrainable(on bool) { setTrainable(t.entries, on) }

func setTrainable(bs []bound, on bool) {
	for _, b := range bs {
		if b.entry.Kind == nn.Parameter {
			b.entry.Trainable = on
			b.entry.Tensor.SetRequiresGrad(on)
		}
	}
}

// LinearSlots lists the attention projections (q_proj, k_proj, v_proj, out_proj of every
// layer, by full module name) so that adapters such as LoRA can attach to them.
func (t *Tower) LinearSlots() []nn.LinearSlot {
	var out []nn.LinearSlot
	name := func(i int, sub string) string {
		n := fmt.Sprintf("encoder.layers.%d.self_attn.%s", i, sub)
		if t.prefix != "" {
			n = t.prefix + "." + n
		}
		return n
	}
	for i, l := range t.Layers {
		out = append(out,
			nn.LinearSlot{Name: name(i, "q_proj"), Layer: &l.Q},
			nn.LinearSlot{Name: name(i, "k_proj"), Layer: &l.K},
			nn.LinearSlot{Name: name(i, "v_proj"), Layer: &l.V},
			nn.LinearSlot{Name: name(i, "out_proj"), Layer: &l.Out},
		)
	}
	return out
}

var _ nn.SlotLister = (*Tower)(nil)

func (t *Tower) checkInput(x *torch.Tensor) {
	sh := x.Shape()
	c := t.Config
	if len(sh) != 4 || sh[1] != c.NumChannels || sh[2] != c.ImageSize || sh[3] != c.ImageSize {
		torch.Fail("clip", torch.ErrShape, "pixels %v: want (B, %d, %d, %d)", sh, c.NumChannels, c.ImageSize, c.ImageSize)
	}
}

// Embed is hidden_states[0]: patch embeddings with the class token in front, plus position
// embeddings, through pre_layrnorm → (B, NumPositions, D). Pixels are cast to the weights'
// dtype first, as transformers does.
func (t *Tower) Embed(s *torch.Scope, pixels *torch.Tensor) *torch.Tensor {
	t.checkInput(pixels)
	c := s.Child()
	defer c.Close()
	if dt := t.PatchEmbed.Weight.DType(); pixels.DType() != dt {
		pixels = pixels.ToDType(c, dt)
	}
	pe := t.PatchEmbed.Forward(c, pixels) // (B, D, g, g)
	b, d := pe.Size(0), pe.Size(1)
	pe = pe.Reshape(c, b, d, -1).Transpose(c, 1, 2) // (B, g·g, D), row-major patches
	cls := t.ClassEmbed.View(c, 1, 1, d).Expand(c, b, 1, d)
	h := torch.Cat(c, 1, cls, pe).Add(c, t.PosEmbed.Weight) // position_ids are 0..N: the whole table
	return c.Escape(t.PreNorm.Forward(c, h))
}

// HiddenState is hidden_states[index] of transformers' CLIPVisionTransformer with the class
// token: index 0 is Embed, index k the output of encoder layer k-1, and a negative index
// counts from the end (-1: the last layer). Only the layers it needs are run; each layer's
// input is freed as soon as the next hidden state exists.
func (t *Tower) HiddenState(s *torch.Scope, pixels *torch.Tensor, index int) *torch.Tensor {
	n := int(t.Config.NumHiddenLayers)
	if index < 0 {
		index += n + 1
	}
	if index < 0 || index > n {
		torch.Fail("clip", torch.ErrIndex, "hidden state %d of %d layers", index, n)
	}
	h := t.Embed(s, pixels)
	for _, l := range t.Layers[:index] {
		prev := h
		h = l.Forward(s, h)
		prev.Free()
	}
	return h
}

// Forward is LLaVA's CLIPVisionTower.forward: hidden_states[SelectLayer] (by default -2, the
// output of the penultimate layer) with the class token dropped for "patch" →
// (B, NumFeatures, D), e.g. (B, 576, 1024) for ViT-L/14 at 336 px. It panics with a
// *torch.Error on bad input; Features returns the error instead.
func (t *Tower) Forward(s *torch.Scope, pixels *torch.Tensor) *torch.Tensor {
	c := s.Child()
	defer c.Close()
	h := t.HiddenState(c, pixels, t.Config.SelectIndex())
	if t.Config.SelectFeature == FeaturePatch {
		h = h.Narrow(c, 1, 1, h.Size(1)-1).Contiguous(c)
	}
	return c.Escape(h)
}

// Features is Forward returning libtorch and shape errors instead of panicking.
func (t *Tower) Features(s *torch.Scope, pixels *torch.Tensor) (out *torch.Tensor, err error) {
	defer torch.Recover(&err)
	return t.Forward(s, pixels), nil
}
