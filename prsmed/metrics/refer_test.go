package metrics

import (
	"errors"
	"math"
	"testing"
)

// referProb turns a mask into a probability map of 0.9 and 0.1 values.
func referProb(m Mask) Prob {
	p := NewProb(m.W, m.H)
	for i, on := range m.Pix {
		p.Pix[i] = 0.1
		if on {
			p.Pix[i] = 0.9
		}
	}
	return p
}

func TestReferring(t *testing.T) {
	// Two findings of 4 pixels each on a 4×4 image, and a single-finding image.
	a := maskOf("##..", "##..", "....", "....")
	b := maskOf("....", "....", "..##", "..##")
	both := maskOf("##..", "##..", "..##", "..##")
	half := maskOf("#...", "#...", "..##", "..##") // 2 px of a, 4 of b
	empty := NewMask(4, 4)
	type q struct {
		finding string
		pred    Mask
	}
	cases := []struct {
		name string
		qs   []q
		want Referring
	}{
		{"listens", []q{{"a", a}, {"b", b}},
			Referring{Images: 1, Questions: 2, Correct: 2, Accuracy: 1, AskedDice: 1, OtherDice: 0, Pairs: 1, Alike: 0}},
		{"deaf", []q{{"a", a}, {"b", a}},
			Referring{Images: 1, Questions: 2, Correct: 1, Accuracy: 0.5, AskedDice: 0.5, OtherDice: 0.5, Pairs: 1, Alike: 1}},
		// Both findings in one mask: Dice 2·4/(8+4) = 2/3 with each, a tie.
		{"tie", []q{{"a", both}, {"b", both}},
			Referring{Images: 1, Questions: 2, Correct: 0, Accuracy: 0, AskedDice: 2.0 / 3, OtherDice: 2.0 / 3, Pairs: 1, Alike: 1}},
		// Asked a: Dice with a 2·2/(6+4) = 0.4, with b 2·4/(6+4) = 0.8: wrong.
		// Asked b: right. Alike: Dice(half, b) = 8/10.
		{"partial", []q{{"a", half}, {"b", b}},
			Referring{Images: 1, Questions: 2, Correct: 1, Accuracy: 0.5, AskedDice: (0.4 + 1) / 2, OtherDice: (0.8 + 0) / 2, Pairs: 1, Alike: 0.8}},
		// Two questions about b and one about a: three pairs.
		{"three questions", []q{{"a", a}, {"b", b}, {"b", empty}},
			Referring{Images: 1, Questions: 3, Correct: 2, Accuracy: 2.0 / 3, AskedDice: 2.0 / 3, OtherDice: 0, Pairs: 3, Alike: 0}},
		{"empty masks", []q{{"a", empty}, {"b", empty}},
			Referring{Images: 1, Questions: 2, Correct: 0, Accuracy: 0, AskedDice: 0, OtherDice: 0, Pairs: 1, Alike: 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var acc ReferAccumulator
			truth := map[string]Mask{"a": a, "b": b}
			for _, q := range c.qs {
				if err := acc.Add("img1", q.finding, truth[q.finding], referProb(q.pred)); err != nil {
					t.Fatal(err)
				}
			}
			// An image with one finding changes nothing.
			if err := acc.Add("img2", "only", a, referProb(b)); err != nil {
				t.Fatal(err)
			}
			got := acc.Result()
			if got.Images != c.want.Images || got.Questions != c.want.Questions || got.Correct != c.want.Correct || got.Pairs != c.want.Pairs {
				t.Errorf("counts %+v, want %+v", got, c.want)
			}
			for _, f := range []struct {
				name      string
				got, want float64
			}{
				{"Accuracy", got.Accuracy, c.want.Accuracy},
				{"AskedDice", got.AskedDice, c.want.AskedDice},
				{"OtherDice", got.OtherDice, c.want.OtherDice},
				{"Alike", got.Alike, c.want.Alike},
			} {
				if math.Abs(f.got-f.want) > 1e-12 {
					t.Errorf("%s = %v, want %v", f.name, f.got, f.want)
				}
			}
		})
	}
}

func TestReferringResizeAndErrors(t *testing.T) {
	a := maskOf("##..", "##..", "....", "....")
	b := maskOf("....", "....", "..##", "..##")
	// A 2×2 prediction is resized by nearest neighbour to 4×4: its top-left
	// pixel covers finding a exactly.
	small := Prob{W: 2, H: 2, Pix: []float64{1, 0, 0, 0}}
	var acc ReferAccumulator
	if err := acc.Add("img", "a", a, small); err != nil {
		t.Fatal(err)
	}
	if err := acc.Add("img", "b", b, Prob{W: 2, H: 2, Pix: []float64{0, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if r := acc.Result(); r.Correct != 2 || r.AskedDice != 1 {
		t.Errorf("resized predictions: %+v", r)
	}
	if err := acc.Add("img", "c", NewMask(3, 3), NewProb(3, 3)); !errors.Is(err, ErrShape) {
		t.Errorf("finding of another size: %v, want ErrShape", err)
	}
	if err := acc.Add("img", "d", Mask{W: 4, H: 4}, NewProb(4, 4)); !errors.Is(err, ErrShape) {
		t.Errorf("truth without pixels: %v, want ErrShape", err)
	}
	var none ReferAccumulator
	if r := none.Result(); r != (Referring{}) {
		t.Errorf("empty accumulator: %+v", r)
	}
}

// TestReferSumsAdd: the sums of two accumulators over disjoint images, added, give the
// scores of one accumulator over all of them (a sharded validation's arithmetic).
func TestReferSumsAdd(t *testing.T) {
	a := maskOf("##..", "##..", "....", "....")
	b := maskOf("....", "....", "..##", "..##")
	half := maskOf("#...", "#...", "..##", "..##")
	type q struct {
		image, finding string
		pred           Mask
	}
	qs := []q{{"i1", "a", a}, {"i1", "b", b}, {"i2", "a", half}, {"i2", "b", b}, {"i3", "a", b}, {"i3", "b", b}, {"i3", "b", half}}
	truth := map[string]Mask{"a": a, "b": b}
	var all, first, second ReferAccumulator
	for _, x := range qs {
		part := &first
		if x.image == "i2" {
			part = &second
		}
		for _, acc := range []*ReferAccumulator{&all, part} {
			if err := acc.Add(x.image, x.finding, truth[x.finding], referProb(x.pred)); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := all.Result()
	got := first.Sums().Add(second.Sums()).Referring()
	if got.Images != 3 || got.Questions != 7 || got.Pairs != 5 {
		t.Fatalf("added sums %+v: want 3 images, 7 questions, 5 pairs", got)
	}
	if math.Abs(got.Accuracy-want.Accuracy) > 1e-12 || math.Abs(got.AskedDice-want.AskedDice) > 1e-12 ||
		math.Abs(got.OtherDice-want.OtherDice) > 1e-12 || math.Abs(got.Alike-want.Alike) > 1e-12 || got.Correct != want.Correct {
		t.Errorf("added sums %+v, want one accumulator's %+v", got, want)
	}
	if (ReferSums{}).Referring() != (Referring{}) {
		t.Errorf("empty sums give %+v, want zeros", ReferSums{}.Referring())
	}
}
