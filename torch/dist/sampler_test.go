package dist_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"testing"

	"github.com/prsmed/prsmed-go/torch/dist"
)

// TestSamplerGolden compares every rank's indices with torch.utils.data.DistributedSampler
// (testdata/dist/sampler.json, written by third_party/golden/dist_ref.py).
func TestSamplerGolden(t *testing.T) {
	b, err := os.ReadFile("../../testdata/dist/sampler.json")
	if err != nil {
		t.Fatal(err)
	}
	var golden struct {
		Cases []struct {
			N, World, Seed, Epoch int
			Shuffle               bool
			DropLast              bool `json:"drop_last"`
			Ranks                 [][]int
			Randperm              []int
		}
	}
	if err := json.Unmarshal(b, &golden); err != nil {
		t.Fatal(err)
	}
	if len(golden.Cases) == 0 {
		t.Fatal("no cases")
	}
	for _, c := range golden.Cases {
		name := fmt.Sprintf("n%d_w%d_seed%d_epoch%d_shuffle%v_drop%v", c.N, c.World, c.Seed, c.Epoch, c.Shuffle, c.DropLast)
		t.Run(name, func(t *testing.T) {
			order, err := dist.TorchOrder(c.N, uint64(c.Seed+c.Epoch))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(order, c.Randperm) && !(len(order) == 0 && len(c.Randperm) == 0) {
				t.Fatalf("randperm: got %v, want %v", order, c.Randperm)
			}
			for r := 0; r < c.World; r++ {
				s := dist.Sampler{N: c.N, Rank: r, World: c.World, Seed: uint64(c.Seed), Shuffle: c.Shuffle, DropLast: c.DropLast}
				got, err := s.Indices(c.Epoch)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(c.Ranks[r]) || len(got) != s.Len() {
					t.Fatalf("rank %d: %d indices (Len %d), want %d", r, len(got), s.Len(), len(c.Ranks[r]))
				}
				for i := range got {
					if got[i] != c.Ranks[r][i] {
						t.Fatalf("rank %d: got %v, want %v", r, got, c.Ranks[r])
					}
				}
			}
		})
	}
}

// Sharding an order covers it: the shards interleaved give back the padded order.
func TestShardOrderCoversOrder(t *testing.T) {
	order := []int{5, 3, 9, 1, 7}
	world := 3
	var shards [][]int
	for r := 0; r < world; r++ {
		s, err := dist.ShardOrder(order, r, world, false)
		if err != nil {
			t.Fatal(err)
		}
		shards = append(shards, s)
	}
	want := []int{5, 3, 9, 1, 7, 5} // padded with the head of the order
	var got []int
	for k := range shards[0] {
		for r := 0; r < world; r++ {
			got = append(got, shards[r][k])
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("interleaved shards %v, want %v", got, want)
	}
	if _, err := dist.ShardOrder(order, 3, 3, false); !errors.Is(err, dist.ErrConfig) {
		t.Fatalf("rank 3 of 3: %v, want ErrConfig", err)
	}
}
