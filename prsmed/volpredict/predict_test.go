package volpredict

import (
	"context"
	"errors"
	"image"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prsmed/prsmed-go/prsmed"
	"github.com/prsmed/prsmed-go/prsmed/imageio/imageiotest"
	"github.com/prsmed/prsmed-go/prsmed/imageio/volume"
	"github.com/prsmed/prsmed-go/prsmed/imageio/window"
	"github.com/prsmed/prsmed-go/prsmed/prsmedtest"
	"github.com/prsmed/prsmed-go/zones"
)

const goldenDir = "../../testdata/volume"

// stub predicts a mask from each image alone: mask(img) for every image.
type stub struct {
	mask  func(img *image.Gray) []float32
	calls int
	seen  []*image.Gray
}

func (s *stub) PredictBatch(ctx context.Context, imgs []image.Image, qs []string) ([]*prsmed.Prediction, error) {
	s.calls++
	var out []*prsmed.Prediction
	for _, im := range imgs {
		g := im.(*image.Gray)
		s.seen = append(s.seen, g)
		out = append(out, &prsmed.Prediction{Prob: s.mask(g), Answer: "It is in the top left.", Zone: zones.TopLeft, Named: true})
	}
	return out, nil
}

// bright is the stub mask "every pixel brighter than mid-gray".
func bright(g *image.Gray) []float32 {
	b := g.Bounds()
	p := make([]float32, b.Dx()*b.Dy())
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			if g.Pix[y*g.Stride+x] > 127 {
				p[y*b.Dx()+x] = 0.9
			}
		}
	}
	return p
}

// topLeft is the stub mask "the top-left quadrant of the displayed slice".
func topLeft(g *image.Gray) []float32 {
	b := g.Bounds()
	p := make([]float32, b.Dx()*b.Dy())
	for y := 0; y < b.Dy()/2; y++ {
		for x := 0; x < b.Dx()/2; x++ {
			p[y*b.Dx()+x] = 1
		}
	}
	return p
}

func readGolden(t *testing.T, name string) *volume.Volume {
	t.Helper()
	if name == "series" {
		s, err := volume.ReadDICOMSeries(context.Background(), filepath.Join(goldenDir, "series"), volume.SeriesOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return s.Volume
	}
	v, err := volume.ReadNIfTI(filepath.Join(goldenDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestMaskLandsOnSourceVoxels: with a predictor whose mask is "the bright pixels of the
// slice it was shown", the mask volume must be exactly the bright voxels of the source,
// in the source's own voxel order, whatever that order (LPS DICOM series, oblique and
// left-handed NIfTI) and whatever the plane.
func TestMaskLandsOnSourceVoxels(t *testing.T) {
	for _, name := range []string{"series", "sform_n1.nii", "qform_n1.nii.gz", "sform_n2.nii"} {
		for _, plane := range []volume.Plane{volume.Axial, volume.Coronal, volume.Sagittal} {
			v := readGolden(t, name)
			want := make([]float32, len(v.Data))
			for n := range v.Data {
				v.Data[n] = 0
				if (n*7+n/3)%5 < 2 {
					v.Data[n] = 1000
					want[n] = 1
				}
			}
			st := &stub{mask: bright}
			mask, sum, err := Predict(context.Background(), st, v, "Where is it?", Options{Plane: plane, BatchSize: 2, Window: window.CenterWidth(500, 1000)})
			if err != nil {
				t.Fatal(err)
			}
			if mask.Dims != v.Dims || mask.Affine != v.Affine || mask.XformCode != v.XformCode {
				t.Fatalf("%s %s: mask grid %v %v, want %v %v", name, plane, mask.Dims, mask.Affine, v.Dims, v.Affine)
			}
			count := 0
			for n := range want {
				if mask.Data[n] != want[n] {
					t.Fatalf("%s %s: mask voxel %d = %v, want %v", name, plane, n, mask.Data[n], want[n])
				}
				count += int(want[n])
			}
			slices, _ := v.Slices(plane)
			if len(st.seen) != slices || st.calls != (slices+1)/2 {
				t.Fatalf("%s %s: %d slices in %d calls, want %d in %d", name, plane, len(st.seen), st.calls, slices, (slices+1)/2)
			}
			if sum.Voxels != count || math.Abs(sum.VolumeML-float64(count)*v.VoxelVolume()/1000) > 1e-12 {
				t.Fatalf("%s %s: summary %d voxels %v mL, want %d", name, plane, sum.Voxels, sum.VolumeML, count)
			}
		}
	}
}

// TestDisplayQuadrantIsAnatomical: a mask in the top-left quadrant of every displayed
// axial slice is anterior and on the patient's right (radiological display), whatever
// the voxel order; here an LPS voxel order, where that is small i and small j.
func TestDisplayQuadrantIsAnatomical(t *testing.T) {
	v, err := volume.New([3]int{8, 6, 5}, [4][4]float64{{-2, 0, 0, 10}, {0, -2, 0, 20}, {0, 0, 3, -5}, {0, 0, 0, 1}})
	if err != nil {
		t.Fatal(err)
	}
	for n := range v.Data {
		v.Data[n] = float32(n % 17)
	}
	mask, sum, err := Predict(context.Background(), &stub{mask: topLeft}, v, "Where is it?", Options{})
	if err != nil {
		t.Fatal(err)
	}
	for k := 0; k < 5; k++ {
		for j := 0; j < 6; j++ {
			for i := 0; i < 8; i++ {
				want := float32(0)
				if i < 4 && j < 3 {
					want = 1
				}
				if got := mask.At(i, j, k); got != want {
					t.Fatalf("voxel (%d,%d,%d) = %v, want %v", i, j, k, got, want)
				}
			}
		}
	}
	if len(sum.WithFinding) != 5 || sum.Largest == nil || sum.Largest.Index != 0 || sum.Largest.Voxels != 12 ||
		sum.Largest.MaskZone != zones.TopLeft.String() || sum.Largest.Zone != zones.TopLeft.String() {
		t.Fatalf("summary %+v largest %+v", sum, sum.Largest)
	}
	// 12 voxels of 2×2×3 mm; a slice's pixel is 2×2 mm.
	if sum.VolumeML != 60*12/1000.0 || sum.Largest.AreaMM2 != 48 {
		t.Fatalf("volume %v mL, area %v mm², want 0.72 and 48", sum.VolumeML, sum.Largest.AreaMM2)
	}
}

func TestPredictRefusesAndCancels(t *testing.T) {
	v := readGolden(t, "series")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := Predict(ctx, &stub{mask: bright}, v, "q", Options{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	v.Data[3] = float32(math.NaN())
	if _, _, err := Predict(context.Background(), &stub{mask: bright}, v, "q", Options{}); !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), "NaN") {
		t.Fatalf("NaN voxel: %v", err)
	}
	v.Data[3] = 0
	short := &stub{mask: func(*image.Gray) []float32 { return make([]float32, 3) }}
	if _, _, err := Predict(context.Background(), short, v, "q", Options{}); err == nil || !strings.Contains(err.Error(), "prediction is not") {
		t.Fatalf("wrong-sized prediction: %v", err)
	}
	if _, _, err := Predict(context.Background(), &stub{mask: bright}, v, "", Options{}); !errors.Is(err, ErrInput) {
		t.Fatalf("empty question: %v", err)
	}
}

// TestTinyModelVolume runs the tiny preset over a small volume through the Predictor
// interface: the summary must agree with the mask it returns.
func TestTinyModelVolume(t *testing.T) {
	m := prsmedtest.TinyModel(t, 3)
	v := readGolden(t, "series")
	mask, sum, err := Predict(context.Background(), m, v, "Where is the lesion in this image?", Options{BatchSize: 3, Threshold: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	count := 0
	for _, x := range mask.Data {
		if x != 0 && x != 1 {
			t.Fatalf("mask value %v", x)
		}
		count += int(x)
	}
	per := 0
	for _, s := range sum.WithFinding {
		per += s.Voxels
	}
	if count != sum.Voxels || per != count {
		t.Fatalf("mask holds %d voxels, summary %d (%d per slice)", count, sum.Voxels, per)
	}
}

// TestMaskNIfTIReadByNibabel writes a predicted mask volume as NIfTI (.nii.gz, uint8) and
// has nibabel (PRSMED_PYTHON) compare shape, affine, sform/qform codes and voxels with the
// Go mask volume, for an LPS DICOM series and an oblique NIfTI input.
func TestMaskNIfTIReadByNibabel(t *testing.T) {
	py := imageiotest.NibabelPython(t)
	dir := t.TempDir()
	for _, name := range []string{"series", "sform_n1.nii", "qform_n1.nii.gz"} {
		t.Run(name, func(t *testing.T) {
			v := readGolden(t, name)
			mask, _, err := Predict(context.Background(), &stub{mask: bright}, v, "Where is it?", Options{Plane: volume.Coronal})
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "mask.nii.gz")
			if err := volume.WriteNIfTI(path, mask, volume.Uint8); err != nil {
				t.Fatal(err)
			}
			// The input's geometry, the mask's voxels and xform code.
			imageiotest.CheckNibabel(t, py, path, imageiotest.NIfTIWant{Dims: v.Dims, Affine: v.Affine, Data: mask.Data, XformCode: mask.XformCode})
		})
	}
}

// cancelling is a stub that cancels the run's context during its first call.
type cancelling struct {
	stub
	cancel context.CancelFunc
}

func (c *cancelling) PredictBatch(ctx context.Context, imgs []image.Image, qs []string) ([]*prsmed.Prediction, error) {
	c.cancel()
	return c.stub.PredictBatch(ctx, imgs, qs)
}

// TestPredictStopsBetweenBatches: a context cancelled during a batch stops the run before
// the next one.
func TestPredictStopsBetweenBatches(t *testing.T) {
	v := readGolden(t, "series")
	ctx, cancel := context.WithCancel(context.Background())
	c := &cancelling{stub: stub{mask: bright}, cancel: cancel}
	if _, _, err := Predict(ctx, c, v, "q", Options{BatchSize: 1}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if c.calls != 1 {
		t.Fatalf("%d batches after the cancel, want 1", c.calls)
	}
}
