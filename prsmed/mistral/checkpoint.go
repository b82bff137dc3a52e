package mistral

import (
	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/torch"
)

// ForwardBackward is a training pass with gradient checkpointing: the decoder layers run
// without recording autograd history, keeping only each layer's input; loss is computed
// from the output and backpropagated; then the layers are recomputed one at a time, last
// first, each with history, and the gradient is carried through them. Parameter gradients
// (LoRA included) and the gradient of in.Embeds (when it has history, e.g. spliced image
// features) come out as from Forward followed by Backward, while the activation memory is
// that of one layer plus one (B, L, H) tensor per layer. It returns the loss, detached, in
// s: reading it (Item) waits for the device, so a training step reads it once, at its end.
// Caches are not supported here. Like torch.utils.checkpoint (preserve_rng_state), it saves
// the state of the generator the layers draw from (the scope's, or the default generator of
// the input's device) before each layer and restores it for that layer's recomputation, so
// dropout (LoRA dropout in training mode) draws the masks of the first run; the generator
// ends where a plain forward would leave it.
func (m *Model) ForwardBackward(s *torch.Scope, in Input, loss func(s *torch.Scope, out Output) *torch.Tensor) (*torch.Tensor, error) {
	var value *torch.Tensor
	err := torch.Try(func() {
		if in.Cache != nil {
			torch.Fail("mistral", torch.ErrInvalid, "ForwardBackward does not take a cache")
		}
		c := s.Child()
		defer c.Close()
		x := in.Embeds
		if x == nil {
			x = m.Embed.Forward(c, in.IDs)
		}
		b, l := x.Size(0), x.Size(1)
		pos := in.Positions
		if pos == nil {
			d := c.On(x.Device())
			pos = torch.Arange(d, 0, float64(l), 1, torch.Int64).Unsqueeze(d, 0).Expand(d, b, l)
		}
		cos, sin := m.rope.CosSin(c, pos, x.DType())
		mask := nn.AttentionMask{Causal: true, KeyPadding: in.AttentionMask}

		// Forward without history, keeping the input of every layer.
		ng := c.NoGrad()
		inputs := make([]*torch.Tensor, len(m.Layers)+1)
		rng := make([]*torch.RNGState, len(m.Layers))
		inputs[0] = x.Detach(ng)
		for i, layer := range m.Layers {
			rng[i] = c.SaveRNG(x.Device())
			inputs[i+1] = m.layer(ng, layer, i, inputs[i], cos, sin, &mask, nil)
		}

		// The head and the loss, with history from the last layer's output on.
		top := inputs[len(m.Layers)].Detach(c).SetRequiresGrad(true)
		h := m.Norm.Forward(c, top)
		out := Output{Hidden: h}
		switch in.Logits {
		case LogitsAll:
			out.Logits = m.LMHead.Forward(c, h)
		case LogitsLast:
			out.Logits = m.LMHead.Forward(c, h.Narrow(c, 1, l-1, 1))
		}
		lv := loss(c, out)
		value = lv.Detach(s)
		lv.Backward()
		grad := top.Grad(c)

		// Recompute each layer with history, drawing what its first run drew, and carry the
		// gradient down; then leave the generator where the forward pass left it.
		end := c.SaveRNG(x.Device())
		for i := len(m.Layers) - 1; i >= 0; i-- {
			step := c.Child()
			xi := inputs[i].Detach(step).SetRequiresGrad(true)
			rng[i].Restore()
			y := m.layer(step, m.Layers[i], i, xi, cos, sin, &mask, nil)
			m.recomputed.Add(1)
			y.BackwardWith(grad, false)
			next := xi.Grad(step).Clone(c)
			step.Close()
			inputs[i+1].Free()
			grad.Free()
			grad = next
		}
		end.Restore()
		if x.RequiresGrad() {
			x.BackwardWith(grad, false)
		}
	})
	return value, err
}

// Recomputed is the number of layer recomputations ForwardBackward has run on this model
// (one per decoder layer per call): a check, for a training log or a test, that gradient
// checkpointing is in effect.
func (m *Model) Recomputed() int64 { return m.recomputed.Load() }
