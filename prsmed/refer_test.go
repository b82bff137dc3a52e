package prsmed

import (
	"testing"

	"github.com/prsmed/prsmed-go/prsmed/data"
)

func TestSeveralFindings(t *testing.T) {
	s := func(img, mask string) data.Sample { return data.Sample{ImagePath: img, MaskPath: mask} }
	for _, c := range []struct {
		name string
		set  []data.Sample
		want bool
	}{
		{"empty", nil, false},
		{"one finding each", []data.Sample{s("a", "a1"), s("b", "b1")}, false},
		{"two questions, one mask", []data.Sample{s("a", "a1"), s("a", "a1")}, false},
		{"two findings", []data.Sample{s("a", "a1"), s("b", "b1"), s("a", "a2")}, true},
	} {
		if got := SeveralFindings(c.set); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
