package tinyvit

import (
	"strings"

	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/torch"
)

// Encoder is TinySAM's image encoder.
type Encoder struct {
	Config     Config
	PatchEmbed *PatchEmbed
	Stage0     []*MBConv
	Stages     [][]*Block      // stages 1..3 (index 0 is stage 1)
	Merges     []*PatchMerging // after stages 0, 1 and 2
	NormHead   *nn.LayerNorm   // present in checkpoints, unused by Forward
	Head       *nn.Linear      // the unused classifier (nil when NumClasses is 0)
	Neck1      *nn.Conv2d
	Neck2      *nn.LayerNorm2d
	Neck3      *nn.Conv2d
	Neck4      *nn.LayerNorm2d
}

// New registers the encoder's parameters under p (use store.Root().Sub("image_encoder") to
// match SAM checkpoints, or the root for a bare encoder state dict).
func New(p nn.Path, c Config) (*Encoder, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	e := &Encoder{Config: c}
	e.PatchEmbed = newPatchEmbed(p.Sub("patch_embed"), c.InChans, c.EmbedDims[0])
	layers := p.Sub("layers")
	n := len(c.EmbedDims)
	for i := 0; i < n; i++ {
		lp := layers.Index(i)
		bp := lp.Sub("blocks")
		if i == 0 {
			for j := int64(0); j < c.Depths[0]; j++ {
				e.Stage0 = append(e.Stage0, newMBConv(bp.Index(int(j)), c.EmbedDims[0], c.MBConvExpand))
			}
		} else {
			var blocks []*Block
			for j := int64(0); j < c.Depths[i]; j++ {
				blocks = append(blocks, newBlock(bp.Index(int(j)), c, i))
			}
			e.Stages = append(e.Stages, blocks)
		}
		if i < n-1 {
			// The last merge keeps the resolution (TinySAM: stride 1 when out_dim is 320).
			stride := int64(2)
			if i == n-2 {
				stride = 1
			}
			e.Merges = append(e.Merges, newPatchMerging(lp.Sub("downsample"), c.EmbedDims[i], c.EmbedDims[i+1], stride))
		}
	}
	last := c.EmbedDims[n-1]
	e.NormHead = nn.NewLayerNorm(p.Sub("norm_head"), 1e-5, last)
	if c.NumClasses > 0 {
		e.Head = nn.NewLinear(p.Sub("head"), last, c.NumClasses, nn.LinearConfig{Bias: true})
	}
	neck := p.Sub("neck")
	e.Neck1 = nn.NewConv2d(neck.Index(0), last, c.NeckDim, 1, nn.ConvConfig{NoBias: true})
	e.Neck2 = nn.NewLayerNorm2d(neck.Index(1), c.NeckDim, 1e-6)
	e.Neck3 = nn.NewConv2d(neck.Index(2), c.NeckDim, c.NeckDim, 3, nn.ConvConfig{Padding: 1, NoBias: true})
	e.Neck4 = nn.NewLayerNorm2d(neck.Index(3), c.NeckDim, 1e-6)
	return e, nil
}

// Forward maps normalised images (B, C, S, S) to embeddings (B, NeckDim, S/16, S/16).
// BatchNorm uses batch statistics (and updates its running ones) when s is in training
// mode (torch.Scope.Train).
func (e *Encoder) Forward(s *torch.Scope, x *torch.Tensor) *torch.Tensor {
	sh := x.Shape()
	if len(sh) != 4 || sh[1] != e.Config.InChans || sh[2]%16 != 0 || sh[3]%16 != 0 {
		torch.Fail("tinyvit", torch.ErrShape, "input %v: want (B, %d, H, W) with H and W multiples of 16", sh, e.Config.InChans)
	}
	b := sh[0]
	h, w := sh[2]/4, sh[3]/4
	outer := s
	s = s.Child()
	defer s.Close()
	m := e.PatchEmbed.Forward(s, x)
	for _, blk := range e.Stage0 {
		prev := m
		m = blk.Forward(s, m)
		prev.Free()
	}
	tok := e.Merges[0].Forward(s, m)
	h, w = h/2, w/2
	for i, blocks := range e.Stages {
		for _, blk := range blocks {
			prev := tok
			tok = blk.Forward(s, tok, h, w)
			prev.Free()
		}
		if i+1 < len(e.Merges) {
			c := tok.Size(2)
			grid := tok.View(s, b, h, w, c).Permute(s, 0, 3, 1, 2)
			tok = e.Merges[i+1].Forward(s, grid)
			if i+1 < len(e.Merges)-1 {
				h, w = (h+1)/2, (w+1)/2
			}
		}
	}
	c := tok.Size(2)
	m = tok.View(s, b, h, w, c).Permute(s, 0, 3, 1, 2)
	m = e.Neck2.Forward(s, e.Neck1.Forward(s, m))
	return s.Escape(e.Neck4.Forward(s, e.Neck3.Forward(s, m)), outer)
}

// LoadPrefixes lists where an image encoder sits in the checkpoints this package reads:
// TinySAM's full SAM state dict and PRS-Med checkpoints (`image_encoder.`), or a bare
// encoder state dict.
var LoadPrefixes = []string{"image_encoder.", ""}

// Load reads encoder weights into a store built with New at the store's root: from
// TinySAM's tinysam_42.3.pth (keys under `image_encoder.`; prompt_encoder / mask_decoder
// keys are ignored), from a PRS-Med checkpoint that holds both `image_encoder.` and
// `sam.image_encoder.` (the first is read), or from a bare encoder file (safetensors or
// .pth). Loading is strict: an error names every missing, unexpected or wrong-shape key.
func Load(st *nn.Store, path string) error {
	return LoadAt(st.Root(), path)
}

// LoadAt is Load into an encoder built with New(p, …) anywhere in a store, beside modules of
// the caller's own (a head, say): the file's encoder tensors fill the entries under p, and
// the store's other entries are neither loaded nor reported missing (see nn.Component).
func LoadAt(p nn.Path, path string) error {
	w, err := torch.OpenWeights(path)
	if err != nil {
		return err
	}
	defer w.Close()
	from := ""
	for _, n := range w.Names() {
		if strings.HasPrefix(n, "image_encoder.") {
			from = "image_encoder"
			break
		}
	}
	_, err = p.Store().LoadFrom(w, nn.Component(from, p))
	return err
}
