package train_test

import (
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/prsmed/prsmed-go/prsmed"
	"github.com/prsmed/prsmed-go/prsmed/data"
	"github.com/prsmed/prsmed-go/prsmed/data/volumeset"
	"github.com/prsmed/prsmed-go/prsmed/imageio/volume"
	"github.com/prsmed/prsmed-go/prsmed/imageio/window"
)

// kidneysVolume builds a synthetic abdominal CT of nx×ny×nz voxels in DICOM's voxel order
// (i towards the patient's left, j posterior, k superior) with two labelled structures
// that share every slice with k in [k0, k1): 1 "left kidney" and 2 "right kidney",
// ellipses of the same brightness on either side of an unlabelled spine, posterior, whose
// centres and radii wander from slice to slice. The image is a body ellipse of soft
// tissue with noise; the label map marks the kidneys.
func kidneysVolume(t *testing.T, nx, ny, nz, k0, k1 int, seed uint64) volumeset.Subject {
	t.Helper()
	aff := [4][4]float64{{-0.8, 0, 0, 25}, {0, -0.8, 0, 25}, {0, 0, 3, -40}, {0, 0, 0, 1}}
	img, err := volume.New([3]int{nx, ny, nz}, aff)
	if err != nil {
		t.Fatal(err)
	}
	lab, err := volume.New([3]int{nx, ny, nz}, aff)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(seed, 0x6b69646e6579))
	inside := func(i, j int, ci, cj, ri, rj float64) bool {
		di, dj := (float64(i)-ci)/ri, (float64(j)-cj)/rj
		return di*di+dj*dj <= 1
	}
	fx, fy := float64(nx), float64(ny)
	for k := 0; k < nz; k++ {
		type organ struct {
			value      float32
			ci, cj     float64
			ri, rj, hu float64
		}
		var organs []organ
		if k >= k0 && k < k1 {
			// Pole to pole the kidneys grow then shrink; each slice moves them a little.
			s := math.Sin(math.Pi * (float64(k-k0) + 0.5) / float64(k1-k0))
			for _, side := range []struct {
				value float32
				ci    float64
			}{{1, 0.72 * fx}, {2, 0.28 * fx}} {
				organs = append(organs, organ{side.value,
					side.ci + 4*(r.Float64()-0.5)*2,
					0.66*fy + 3*(r.Float64()-0.5)*2,
					3.5 + 4*s + r.Float64(), 4.5 + 5*s + r.Float64(), 170})
			}
		}
		organs = append(organs, organ{0, 0.5 * fx, 0.74 * fy, 4, 4, 500}) // the spine, unlabelled
		for j := 0; j < ny; j++ {
			for i := 0; i < nx; i++ {
				hu := -1000.0
				if inside(i, j, 0.5*fx, 0.5*fy, 0.46*fx, 0.4*fy) {
					hu = 40
				}
				for _, o := range organs {
					if inside(i, j, o.ci, o.cj, o.ri, o.rj) {
						hu = o.hu
						if o.value != 0 {
							lab.Data[lab.Index(i, j, k)] = o.value
						}
					}
				}
				img.Data[img.Index(i, j, k)] = float32(hu + 20*r.NormFloat64())
			}
		}
	}
	return volumeset.Subject{Name: "abdomen01", Image: img, Labels: lab}
}

// TestTrainingListensOnVolumeset trains the tiny model briefly on a volumeset root built
// from a synthetic labelled volume in which the left and the right kidney share every
// slice, one row per kidney and slice, and checks that the masks follow the question as
// TestTrainingListens does: referring accuracy (the mask for each question overlaps the
// asked kidney more than the other one) and masks alike (the Dice between the masks of the
// two questions of a slice). With the text features zeroed before fusion (tried by hand,
// see volumeListenSteps) the model cannot tell the kidneys apart and the test fails.
func TestTrainingListensOnVolumeset(t *testing.T) {
	if testing.Short() {
		t.Skip("trains for about a minute")
	}
	oneThread(t) // as TestTrainingListens: the same run on every machine
	const slices = 24
	s := kidneysVolume(t, 64, 64, slices+4, 2, slices+2, 11)
	root := filepath.Join(t.TempDir(), "posmed")
	table := []volumeset.Label{{Value: 1, Name: "left kidney"}, {Value: 2, Name: "right kidney"}}
	cfg := volumeset.Config{Plane: volume.Axial, MinPixels: 10, Window: window.CenterWidth(40, 400), Fractions: [3]float64{1, 0, 0}, Seed: 3}
	sum, err := volumeset.Build(context.Background(), root, []volumeset.Subject{s}, table, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if sum.PerLabel["left kidney"] != slices || sum.PerLabel["right kidney"] != slices {
		t.Fatalf("rows per label %v, want %d of each kidney", sum.PerLabel, slices)
	}
	ds, err := data.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	set := ds.Samples("train")
	if !prsmed.SeveralFindings(set) {
		t.Fatal("no slice is asked about both kidneys")
	}
	r := trainReferring(t, set, volumeListenSteps1, volumeListenSteps2)
	t.Logf("%d slices, %d questions: referring accuracy %.3f, Dice with asked %.3f, best other %.3f, masks alike %.3f",
		r.Images, r.Questions, r.Accuracy, r.AskedDice, r.OtherDice, r.Alike)
	if r.Images != slices {
		t.Fatalf("%d slices with both kidneys, want %d", r.Images, slices)
	}
	if r.Accuracy < 0.8 || r.Alike > 0.5 {
		t.Errorf("referring accuracy %.3f (want ≥ 0.8), masks alike %.3f (want ≤ 0.5): the masks do not follow the question", r.Accuracy, r.Alike)
	}
}

// Stage lengths of TestTrainingListensOnVolumeset in optimisation steps (48 rows in
// batches of 8: 6 steps an epoch). Measured with one thread on the loaded 2-core machine
// (volume seed 11 unless said): 60 + 60 steps left the masks empty (referring accuracy 0,
// masks alike 1); 120 + 120 gave accuracy 1.000, masks alike 0.000 (Dice with the asked
// kidney 0.939); 120 + 240 gave 1.000 and 0.000 (0.982); 480 + 240, the length kept, gave
// 1.000 and 0.000 (0.983; volume seed 12: 0.985), three times the steps of the shortest
// run that listened; 480 + 720 gave 1.000 and 0.000 (0.998). With the text features zeroed
// before fusion (prsmed/fusion.go, tried by hand) 480 + 240 gave accuracy 0.500 and masks
// alike 1.000 (both kidneys for either question, Dice 0.644 with each), as did 480 + 720
// (0.500, 1.000, 0.663). Listening comes sooner than in TestTrainingListens because each
// kidney keeps its side of the image: the question alone says which half holds the mask.
const volumeListenSteps1, volumeListenSteps2 = 480, 240
