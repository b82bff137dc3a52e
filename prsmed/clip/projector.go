package clip

import (
	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/torch"
)

// Projector is LLaVA's multimodal projector: for "mlpNx_gelu" N Linear layers with exact
// GELU between them, registered as nn.Sequential names <p>.0, <p>.2, … (the GELUs take the
// odd indices); for "linear" one Linear at <p> itself.
type Projector struct {
	Config  ProjectorConfig
	Layers  []*nn.Linear
	prefix  string
	entries []bound
}

// NewProjector registers the projector under p (store.Root().Sub(LLaVAProjectorPath) for
// LLaVA names). Parameters are trainable until SetTrainable(false).
func NewProjector(p nn.Path, c ProjectorConfig) (*Projector, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	depth, _ := c.Depth()
	st := p.Store()
	first := len(st.Entries())
	pr := &Projector{Config: c, prefix: p.String()}
	if c.Type == "linear" {
		pr.Layers = []*nn.Linear{nn.NewLinear(p, c.InDim, c.OutDim, nn.LinearConfig{Bias: true})}
	} else {
		in := c.InDim
		for i := 0; i < depth; i++ {
			pr.Layers = append(pr.Layers, nn.NewLinear(p.Index(2*i), in, c.OutDim, nn.LinearConfig{Bias: true}))
			in = c.OutDim
		}
	}
	pr.entries = relEntries(st.Entries()[first:], pr.prefix)
	return pr, nil
}

// Prefix is the module path the projector was built at.
func (p *Projector) Prefix() string { return p.prefix }

// SetTrainable freezes (false) or unfreezes (true) the projector's parameters.
func (p *Projector) SetTrainable(on bool) { setTrainable(p.entries, on) }

// Forward maps (…, InDim) vision features to (…, OutDim) embeddings.
func (p *Projector) Forward(s *torch.Scope, x *torch.Tensor) *torch.Tensor {
	c := s.Child()
	defer c.Close()
	if dt := p.Layers[0].Weight.DType(); x.DType() != dt {
		x = x.ToDType(c, dt)
	}
	for i, l := range p.Layers {
		if i > 0 {
			x = x.Gelu(c)
		}
		x = l.Forward(c, x)
	}
	return c.Escape(x)
}
