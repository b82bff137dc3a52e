package nn_test

import (
	"testing"

	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/torch"
)

// TestLayersLeaveNoOpenScopes calls the layers that open scopes of their own many times
// under one long-lived scope (a server's or a generation loop's) and checks that they
// leave no child scope open in it: an open child is never compacted away, so each call
// would add one for as long as the scope lives.
func TestLayersLeaveNoOpenScopes(t *testing.T) {
	const calls = 2000
	root := torch.NewScope(torch.CPU)
	defer root.Close()
	q := torch.Ones(root, torch.Float32, 1, 2, 3, 4)
	kv := torch.Ones(root, torch.Float32, 1, 2, 5, 4)
	pad := torch.Ones(root, torch.Int64, 1, 5)
	pos := torch.Arange(root, 0, 5, 1, torch.Int64).Unsqueeze(root, 0)
	layers := []struct {
		name string
		call func(s *torch.Scope) []*torch.Tensor
	}{
		{"Attention with a causal mask for L≠S", func(s *torch.Scope) []*torch.Tensor {
			return []*torch.Tensor{nn.Attention(s, q, kv, kv, nn.AttentionMask{Causal: true}, 0)}
		}},
		{"Attention with key padding", func(s *torch.Scope) []*torch.Tensor {
			return []*torch.Tensor{nn.Attention(s, q, kv, kv, nn.AttentionMask{KeyPadding: pad}, 0)}
		}},
		{"AttentionMask.Prepare", func(s *torch.Scope) []*torch.Tensor {
			return []*torch.Tensor{nn.AttentionMask{Causal: true, KeyPadding: pad}.Prepare(s, q, 5).Additive}
		}},
		{"Rotary.CosSin", func(s *torch.Scope) []*torch.Tensor {
			cos, sin := nn.Rotary{Dim: 4, Theta: 10000}.CosSin(s, pos, torch.Float32)
			return []*torch.Tensor{cos, sin}
		}},
	}
	for _, l := range layers {
		t.Run(l.name, func(t *testing.T) {
			before := root.OpenChildren()
			for i := 0; i < calls; i++ {
				for _, out := range l.call(root) {
					out.Free()
				}
			}
			if n := root.OpenChildren() - before; n != 0 {
				t.Errorf("%d calls left %d child scopes open in the calling scope, want 0", calls, n)
			}
		})
	}
}
