// Package volume holds 3-D medical images with their geometry: read from NIfTI-1/2 files
// or DICOM series folders, reoriented to the closest canonical (RAS) axis order, cut into
// axial, coronal and sagittal slices, and written back as NIfTI-1.
//
// # Conventions
//
// Voxels are float32, indexed (i, j, k) with i fastest in memory (NIfTI's and nibabel's
// Fortran order: data[i + Nx*(j + Ny*k)] is nibabel's get_fdata()[i, j, k]).
//
// The affine maps a voxel index (i, j, k, 1) to world coordinates in millimetres, in
// NIfTI's RAS+ frame as nibabel reports it: x grows towards the patient's right, y towards
// anterior, z towards superior.
//
// DICOM patient coordinates are LPS+ (x grows towards the patient's left, y towards
// posterior); a series' affine is converted to RAS+ by negating its first two rows, so
// volumes from either source share one convention and a mask written as NIfTI overlays
// its DICOM source in nibabel, ITK-SNAP and 3D Slicer. For a DICOM series, i runs along
// a row of the image (column index, direction cosine ImageOrientationPatient[0:3]), j down
// the columns (row index, ImageOrientationPatient[3:6]) and k along the slice normal (the
// cross product of the two), slices sorted by ImagePositionPatient projected on it.
//
// Volumes are bounded: at most MaxVoxels voxels (a float32 volume of 1 GiB).
package volume

import (
	"errors"
	"fmt"
	"math"
)

// MaxVoxels bounds the voxels of a volume.
const MaxVoxels = 1 << 28

// Errors a caller can test with errors.Is.
var (
	// ErrGeometry: an affine or a set of slice positions that does not describe a grid.
	ErrGeometry = errors.New("volume: bad geometry")
	// ErrSeries: a DICOM folder whose files do not form one regular series.
	ErrSeries = errors.New("volume: not one regular DICOM series")
	// ErrTooLarge: a volume over MaxVoxels.
	ErrTooLarge = errors.New("volume: too large")
)

// Volume is a 3-D image and its voxel-to-world affine (RAS+, millimetres).
type Volume struct {
	// Dims are the sizes along i, j, k.
	Dims [3]int
	// Data holds Dims[0]·Dims[1]·Dims[2] voxels, i fastest.
	Data []float32
	// Affine maps (i, j, k, 1) to (x, y, z, 1) in RAS+ millimetres.
	Affine [4][4]float64
	// XformCode is the NIfTI xform code of the affine (1 scanner, 2 aligned, ...; 0 when
	// it is nibabel's fallback for a file without one). DICOM series get 1.
	XformCode int
}

// New returns a zero volume of the given size and affine, checked as Check does.
func New(dims [3]int, affine [4][4]float64) (*Volume, error) {
	n, err := voxels(dims)
	if err != nil {
		return nil, err
	}
	v := &Volume{Dims: dims, Affine: affine}
	if err := checkAffine(affine); err != nil {
		return nil, err
	}
	v.Data = make([]float32, n)
	return v, nil
}

// voxels checks dims and returns their product.
func voxels(d [3]int) (int, error) {
	n := 1
	for _, s := range d {
		if s < 1 {
			return 0, fmt.Errorf("%w: size %v", ErrGeometry, d)
		}
		if n > MaxVoxels/s {
			return 0, fmt.Errorf("%w: %d×%d×%d voxels (limit %d)", ErrTooLarge, d[0], d[1], d[2], MaxVoxels)
		}
		n *= s
	}
	return n, nil
}

// checkAffine refuses non-finite, singular or non-affine matrices.
func checkAffine(a [4][4]float64) error {
	for i := range a {
		for j := range a[i] {
			if math.IsNaN(a[i][j]) || math.IsInf(a[i][j], 0) {
				return fmt.Errorf("%w: affine element [%d][%d] is %v", ErrGeometry, i, j, a[i][j])
			}
		}
	}
	if a[3] != [4]float64{0, 0, 0, 1} {
		return fmt.Errorf("%w: affine's last row is %v, not [0 0 0 1]", ErrGeometry, a[3])
	}
	if det3(rzs(a)) == 0 {
		return fmt.Errorf("%w: singular affine %v", ErrGeometry, a)
	}
	return nil
}

// Check verifies that the data matches Dims and the affine is usable.
func (v *Volume) Check() error {
	n, err := voxels(v.Dims)
	if err != nil {
		return err
	}
	if len(v.Data) != n {
		return fmt.Errorf("%w: %d voxels for size %v", ErrGeometry, len(v.Data), v.Dims)
	}
	return checkAffine(v.Affine)
}

// Index returns the position of voxel (i, j, k) in Data.
func (v *Volume) Index(i, j, k int) int { return i + v.Dims[0]*(j+v.Dims[1]*k) }

// At returns voxel (i, j, k).
func (v *Volume) At(i, j, k int) float32 { return v.Data[v.Index(i, j, k)] }

// Spacing returns the voxel sizes in millimetres: the lengths of the affine's first three
// columns (nibabel's affines.voxel_sizes).
func (v *Volume) Spacing() [3]float64 {
	var s [3]float64
	for j := 0; j < 3; j++ {
		s[j] = math.Sqrt(v.Affine[0][j]*v.Affine[0][j] + v.Affine[1][j]*v.Affine[1][j] + v.Affine[2][j]*v.Affine[2][j])
	}
	return s
}

// VoxelVolume returns the volume of one voxel in mm³ (|det| of the affine's 3×3 part).
func (v *Volume) VoxelVolume() float64 { return math.Abs(det3(rzs(v.Affine))) }

// Directions returns the unit direction of each voxel axis in RAS+ world space (the
// affine's columns divided by the spacing).
func (v *Volume) Directions() [3][3]float64 {
	s := v.Spacing()
	var d [3][3]float64
	for j := 0; j < 3; j++ {
		for i := 0; i < 3; i++ {
			d[j][i] = v.Affine[i][j] / s[j]
		}
	}
	return d
}

// CheckFinite reports the first NaN or infinite voxel, if any.
func (v *Volume) CheckFinite() error {
	for n, x := range v.Data {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			i, j, k := n%v.Dims[0], (n/v.Dims[0])%v.Dims[1], n/(v.Dims[0]*v.Dims[1])
			return fmt.Errorf("volume: voxel (%d, %d, %d) is %v", i, j, k, x)
		}
	}
	return nil
}

// SameGrid reports an error unless w has v's size and, within tol millimetres per
// element, its affine (for label maps drawn on an image).
func (v *Volume) SameGrid(w *Volume, tol float64) error {
	if v.Dims != w.Dims {
		return fmt.Errorf("%w: size %v and %v differ", ErrGeometry, v.Dims, w.Dims)
	}
	for i := 0; i < 3; i++ {
		for j := 0; j < 4; j++ {
			if math.Abs(v.Affine[i][j]-w.Affine[i][j]) > tol {
				return fmt.Errorf("%w: affines differ at [%d][%d]: %v and %v", ErrGeometry, i, j, v.Affine[i][j], w.Affine[i][j])
			}
		}
	}
	return nil
}
