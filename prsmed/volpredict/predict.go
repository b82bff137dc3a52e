// Package volpredict runs a PRS-Med model over every slice of a 3-D volume and stacks the
// masks into a label volume on the source's grid.
//
// Each slice is cut with volume.Slice in radiological display orientation (the orientation
// examples/volumeset writes training slices in), windowed to gray levels as volumeset does
// (an explicit centre/width or the slice's own minimum and maximum), predicted in batches,
// thresholded, and written back with volume.PutSlice, the exact inverse of Slice. The mask
// volume therefore has the input's size, voxel order and affine: written as NIfTI it
// overlays the input in ITK-SNAP, 3D Slicer and nibabel.
package volpredict

import (
	"context"
	"errors"
	"fmt"
	"image"

	"github.com/prsmed/prsmed-go/prsmed"
	"github.com/prsmed/prsmed-go/prsmed/imageio/volume"
	"github.com/prsmed/prsmed-go/prsmed/imageio/window"
	"github.com/prsmed/prsmed-go/zones"
)

// Predictor predicts masks for a batch of images; *prsmed.Model is one. Each prediction's
// Prob must hold the image's own size of probabilities, row by row.
type Predictor interface {
	PredictBatch(ctx context.Context, imgs []image.Image, questions []string) ([]*prsmed.Prediction, error)
}

// Options tunes Predict.
type Options struct {
	// Plane is the slicing plane (volume.Axial, the zero value, by default).
	Plane volume.Plane
	// Window maps voxel values to gray levels: window.Explicit (centre/width or a
	// preset) or window.MinMax per slice. A volume has no file window, so
	// window.FromFile (the zero value) means min–max, as it does for NIfTI files
	// without cal_min/cal_max.
	Window window.Window
	// BatchSize is the number of slices per model call (8 when ≤ 0).
	BatchSize int
	// Threshold is the probability above which a voxel is in the mask (0.5 when ≤ 0).
	Threshold float64
	// Progress, when set, is called after each batch with the slices done and the total.
	Progress func(done, total int)
}

// SliceCount is one slice that holds mask.
type SliceCount struct {
	// Index is the slice's index in Plane (volume.Slice's numbering).
	Index int `json:"index"`
	// Voxels is the number of mask voxels in it.
	Voxels int `json:"voxels"`
}

// Summary describes a volume's prediction.
type Summary struct {
	Question string `json:"question"`
	Plane    string `json:"plane"`
	// Dims is the volume's (and mask's) size; Slices the number of slices in Plane.
	Dims   [3]int `json:"dims"`
	Slices int    `json:"slices"`
	// Window is the window used (Parse syntax).
	Window string `json:"window"`
	// Threshold is the probability cut.
	Threshold float64 `json:"threshold"`
	// Spacing is the voxel size in millimetres along i, j, k.
	Spacing [3]float64 `json:"spacing_mm"`
	// WithFinding lists the slices whose mask is not empty, in index order.
	WithFinding []SliceCount `json:"slices_with_finding"`
	// Voxels is the number of mask voxels; VolumeML their volume in millilitres
	// (voxels × the voxel volume from the affine / 1000).
	Voxels   int     `json:"voxels"`
	VolumeML float64 `json:"volume_ml"`
	// Largest is the slice with the most mask voxels (the first when tied), absent when
	// the mask is empty.
	Largest *LargestSlice `json:"largest_slice,omitempty"`
}

// LargestSlice is the slice with the most mask and what the model said about it.
type LargestSlice struct {
	Index  int `json:"index"`
	Voxels int `json:"voxels"`
	// AreaMM2 is the mask's area in the slice, in mm².
	AreaMM2 float64 `json:"area_mm2"`
	// Answer is the model's answer for this slice; Zone the zone it names ("" when it
	// names none or several).
	Answer string `json:"answer"`
	Zone   string `json:"zone,omitempty"`
	// MaskZone is the zone of the mask's bounding box in the displayed slice
	// (zones.Locate), and MaskNear whether it lies near the centre.
	MaskZone string `json:"mask_zone"`
	MaskNear bool   `json:"mask_near"`
}

// ErrInput is wrapped by errors about Predict's arguments.
var ErrInput = errors.New("volpredict: bad input")

// Predict segments what question asks about in every slice of v along opt.Plane and
// returns the mask volume (1 inside, 0 outside; v's size and affine) and a summary. It
// stops with ctx's error when ctx is cancelled between batches.
func Predict(ctx context.Context, p Predictor, v *volume.Volume, question string, opt Options) (*volume.Volume, *Summary, error) {
	if p == nil || v == nil {
		return nil, nil, fmt.Errorf("%w: nil predictor or volume", ErrInput)
	}
	if question == "" {
		return nil, nil, fmt.Errorf("%w: empty question", ErrInput)
	}
	if err := v.Check(); err != nil {
		return nil, nil, err
	}
	if err := v.CheckFinite(); err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrInput, err)
	}
	if opt.Window.Kind == window.Explicit && !(opt.Window.Width > 0) {
		return nil, nil, fmt.Errorf("%w: window width %v", ErrInput, opt.Window.Width)
	}
	if opt.Window.Kind == window.FromFile {
		opt.Window = window.MinMaxWindow()
	}
	if opt.BatchSize <= 0 {
		opt.BatchSize = 8
	}
	if opt.Threshold <= 0 {
		opt.Threshold = 0.5
	}
	n, err := v.Slices(opt.Plane)
	if err != nil {
		return nil, nil, err
	}
	mask, err := volume.New(v.Dims, v.Affine)
	if err != nil {
		return nil, nil, err
	}
	mask.XformCode = v.XformCode
	sum := &Summary{Question: question, Plane: opt.Plane.String(), Dims: v.Dims, Slices: n,
		Window: opt.Window.String(), Threshold: opt.Threshold, Spacing: v.Spacing()}
	var largest *prsmed.Prediction
	var largestImg *image.Gray
	for start := 0; start < n; start += opt.BatchSize {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		end := min(start+opt.BatchSize, n)
		imgs := make([]image.Image, 0, end-start)
		qs := make([]string, 0, end-start)
		for k := start; k < end; k++ {
			img, err := sliceImage(v, opt.Plane, k, opt.Window)
			if err != nil {
				return nil, nil, err
			}
			imgs, qs = append(imgs, img), append(qs, question)
		}
		ps, err := p.PredictBatch(ctx, imgs, qs)
		if err != nil {
			return nil, nil, fmt.Errorf("slices %d–%d: %w", start, end-1, err)
		}
		if len(ps) != len(imgs) {
			return nil, nil, fmt.Errorf("volpredict: %d predictions for %d slices", len(ps), len(imgs))
		}
		for b, pr := range ps {
			k := start + b
			bd := imgs[b].Bounds()
			h, w := bd.Dy(), bd.Dx()
			if pr == nil || len(pr.Prob) != h*w {
				return nil, nil, fmt.Errorf("volpredict: slice %d: prediction is not %d×%d", k, h, w)
			}
			vals := make([]float32, h*w)
			count := 0
			for i, x := range pr.Prob {
				if float64(x) > opt.Threshold {
					vals[i] = 1
					count++
				}
			}
			if count == 0 {
				continue
			}
			if err := mask.PutSlice(opt.Plane, k, vals); err != nil {
				return nil, nil, err
			}
			sum.WithFinding = append(sum.WithFinding, SliceCount{Index: k, Voxels: count})
			sum.Voxels += count
			if sum.Largest == nil || count > sum.Largest.Voxels {
				sum.Largest = &LargestSlice{Index: k, Voxels: count}
				largest = pr
				largestImg = binaryImage(vals, h, w)
			}
		}
		if opt.Progress != nil {
			opt.Progress(end, n)
		}
	}
	vox := v.VoxelVolume()
	sum.VolumeML = float64(sum.Voxels) * vox / 1000
	if l := sum.Largest; l != nil {
		ns, err := normalSpacing(v, opt.Plane)
		if err != nil {
			return nil, nil, err
		}
		l.AreaMM2 = float64(l.Voxels) * vox / ns
		l.Answer = largest.Answer
		if largest.Named {
			l.Zone = largest.Zone.String()
		}
		loc, err := zones.Locate(largestImg)
		if err != nil {
			return nil, nil, err
		}
		l.MaskZone, l.MaskNear = loc.Zone.String(), loc.Near
	}
	return mask, sum, nil
}

// sliceImage cuts and windows slice k as volumeset does.
func sliceImage(v *volume.Volume, p volume.Plane, k int, w window.Window) (*image.Gray, error) {
	px, h, wd, err := v.Slice(p, k)
	if err != nil {
		return nil, err
	}
	vals := make([]float64, len(px))
	for i, x := range px {
		vals[i] = float64(x)
	}
	var norm []float64
	if w.Kind == window.Explicit {
		if norm, err = window.Normalize(nil, vals, w.Center, w.Width, window.Linear); err != nil {
			return nil, err
		}
	} else {
		norm = window.NormalizeMinMax(nil, vals)
	}
	return window.Gray8(norm, h, wd, false), nil
}

func binaryImage(vals []float32, h, w int) *image.Gray {
	g := image.NewGray(image.Rect(0, 0, w, h))
	for i, x := range vals {
		if x != 0 {
			g.Pix[i] = 255
		}
	}
	return g
}

// normalSpacing is the voxel size along the voxel axis that runs closest to plane p's
// normal (the axis Slice steps along), so that a slice's pixel area is the voxel volume
// divided by it.
func normalSpacing(v *volume.Volume, p volume.Plane) (float64, error) {
	world := map[volume.Plane]int{volume.Sagittal: 0, volume.Coronal: 1, volume.Axial: 2}[p]
	o, err := v.Orientation()
	if err != nil {
		return 0, err
	}
	s := v.Spacing()
	for j, m := range o {
		if m.World == world {
			return s[j], nil
		}
	}
	return 0, fmt.Errorf("volpredict: no voxel axis along the %s normal", p)
}
