package train

import "github.com/prsmed/prsmed-go/prsmed/data"

// imageSampler visits the samples image by image: the images in a shuffled order, the
// rows of one image (its questions about different findings) one after the other, so a
// batch holds the same image with different questions and different masks, and only the
// question tells the targets apart.
type imageSampler struct {
	groups [][]int       // sample indices per image, in first-seen order
	images *data.Sampler // shuffles the groups
	n      int
	batch  int
}

// newImageSampler groups samples by image path.
func newImageSampler(samples []data.Sample, seed uint64, batch int) *imageSampler {
	at := map[string]int{}
	var groups [][]int
	for i, s := range samples {
		g, ok := at[s.ImagePath]
		if !ok {
			g = len(groups)
			at[s.ImagePath] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], i)
	}
	images, _ := data.NewSampler(len(groups), data.SamplerConfig{Seed: seed, Shuffle: true, BatchSize: 1})
	return &imageSampler{groups: groups, images: images, n: len(samples), batch: batch}
}

// Order is every sample index once: the images' groups in epoch's shuffled order.
func (s *imageSampler) Order(epoch int) []int {
	out := make([]int, 0, s.n)
	for _, g := range s.images.Order(epoch) {
		out = append(out, s.groups[g]...)
	}
	return out
}

// Batches cuts Order into batches of the step's size, the last one shorter.
func (s *imageSampler) Batches(epoch int) [][]int {
	b, _ := data.Chunk(s.Order(epoch), s.batch, false)
	return b
}

func (s *imageSampler) Len() int        { return s.n }
func (s *imageSampler) NumBatches() int { return (s.n + s.batch - 1) / s.batch }
