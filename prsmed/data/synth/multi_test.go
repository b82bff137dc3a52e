package synth

import (
	"maps"
	"strings"
	"testing"

	"github.com/prsmed/prsmed-go/prsmed/data"
	"github.com/prsmed/prsmed-go/zones"
)

// TestGenerateMultiFinding checks the multi-finding mode: every image has
// 2 … Findings rows, all in one split, whose masks are disjoint, lie in
// different quadrants and are each the finding the row's answer places;
// the questions of one image differ; every referring mode is used; and the
// output is the same on a rerun with other worker counts.
func TestGenerateMultiFinding(t *testing.T) {
	mods := []string{"brain_tumors_ct_scan", "skin_rgbimage"}
	cfg := Config{N: 16, Size: 96, Seed: 5, Findings: 4, Modalities: mods, Workers: 1}
	root := t.TempDir()
	if err := Generate(root, cfg); err != nil {
		t.Fatal(err)
	}
	d, err := data.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	byImage := map[string][]data.Sample{}
	for _, s := range d.Samples("") {
		byImage[s.ImagePath] = append(byImage[s.ImagePath], s)
	}
	if len(byImage) != cfg.N*len(mods) {
		t.Fatalf("%d images, want %d", len(byImage), cfg.N*len(mods))
	}
	phrases := map[string]int{}
	for img, rows := range byImage {
		if len(rows) < 2 || len(rows) > cfg.Findings {
			t.Errorf("%s: %d findings, want 2 … %d", img, len(rows), cfg.Findings)
		}
		var masks [][]bool
		seenZone := map[zones.Zone]bool{}
		seenQ := map[string]bool{}
		for _, s := range rows {
			if s.Split != rows[0].Split {
				t.Errorf("%s: findings in splits %s and %s", img, rows[0].Split, s.Split)
			}
			_, m, err := data.LoadSample(s)
			if err != nil {
				t.Fatal(err)
			}
			loc, err := zones.Locate(m)
			if err != nil {
				t.Fatal(err)
			}
			if z, ok := zones.Parse(s.Answer); !ok || z != loc.Zone {
				t.Errorf("%s: answer %q parses to %v, mask lies in %v", s, s.Answer, z, loc.Zone)
			}
			if s.Zone != loc.Zone {
				t.Errorf("%s: position names %v, mask lies in %v", s, s.Zone, loc.Zone)
			}
			if seenZone[loc.Zone] {
				t.Errorf("%s: two findings in %v", img, loc.Zone)
			}
			seenZone[loc.Zone] = true
			q := strings.ToLower(s.Question)
			for _, p := range []string{"larger", "smaller", "largest", "smallest", "fainter", "more distinct", "cyst", "mole", "left ", "right ", "upper", "lower", " in the "} {
				if strings.Contains(q, p) {
					phrases[p]++
				}
			}
			if seenQ[q] {
				t.Errorf("%s: question %q asked twice", img, q)
			}
			seenQ[q] = true
			on := make([]bool, len(m.Pix))
			for i, v := range m.Pix {
				on[i] = v > 127
			}
			for _, o := range masks {
				for i := range on {
					if on[i] && o[i] {
						t.Fatalf("%s: masks of two findings overlap", img)
					}
				}
			}
			masks = append(masks, on)
		}
	}
	for _, p := range []string{"larger", "largest", "smallest", "fainter", "more distinct", "cyst", "mole", " in the "} {
		if phrases[p] == 0 {
			t.Errorf("no question says %q (counts %v)", p, phrases)
		}
	}

	// Same bytes with other worker counts.
	again := t.TempDir()
	cfg.Workers = 3
	if err := Generate(again, cfg); err != nil {
		t.Fatal(err)
	}
	if a, b := hashTree(t, root), hashTree(t, again); !maps.Equal(a, b) {
		t.Error("multi-finding output differs between runs")
	}
	for _, bad := range []int{-1, MaxFindings + 1} {
		if err := Generate(t.TempDir(), Config{N: 2, Findings: bad}); err == nil {
			t.Errorf("Findings %d accepted", bad)
		}
	}
}
