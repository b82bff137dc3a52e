package mistral_test

import (
	"testing"

	"github.com/prsmed/prsmed-go/prsmed/mistral"
	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/torch/torchtest"
)

// TestCacheStepsMatchFullForward feeds the golden prompt through the KV cache in pieces
// (a 3-token prefill, then one token at a time) with a cache that starts too small and
// must grow, and with one sized up front, and compares each step's logits with those of
// one forward pass over the whole prompt.
func TestCacheStepsMatchFullForward(t *testing.T) {
	_, m, root, g := goldenModel(t)
	s := root.NoGrad()
	ids := g["greedy.prompt"]
	n := ids.Size(1)
	if n < 5 {
		t.Fatalf("golden prompt has %d tokens, the test needs at least 5", n)
	}
	full := m.Forward(s, mistral.Input{IDs: ids}).Logits // (1, n, V)
	for _, tc := range []struct {
		name  string
		cache *mistral.Cache
	}{
		{"growing", mistral.NewCache(m, torch.CPU)},
		{"sized", mistral.NewCacheCap(m, torch.CPU, n)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.cache
			defer c.Close()
			for start, step := int64(0), int64(3); start < n; start, step = start+step, 1 {
				got := m.Forward(s, mistral.Input{IDs: ids.Narrow(s, 1, start, step), Cache: c}).Logits
				want := full.Narrow(s, 1, start, step)
				torchtest.AllCloseTol(t, "step logits", got, want, torchtest.Tol{RTol: 1e-4, ATol: 1e-5})
				if c.Len() != start+step {
					t.Fatalf("cache length %d after positions up to %d", c.Len(), start+step)
				}
			}
			if tc.name == "sized" && c.Cap() != n {
				t.Errorf("a cache sized for %d positions grew to %d", n, c.Cap())
			}
			if tc.name == "growing" && c.Cap() < n {
				t.Errorf("capacity %d below the %d positions it holds", c.Cap(), n)
			}
		})
	}
}
