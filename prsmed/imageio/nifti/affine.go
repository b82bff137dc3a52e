package nifti

import (
	"fmt"
	"math"
)

// Geometry holds a header's spatial fields as stored (NIfTI-1 floats widened to float64).
// Analyze 7.5 headers have only Pixdim.
type Geometry struct {
	// Pixdim is pixdim[0..7]; pixdim[0] is qfac, pixdim[1..3] the voxel sizes.
	Pixdim [8]float64
	// QformCode and SformCode are the xform codes (0 unknown, 1 scanner, 2 aligned,
	// 3 Talairach, 4 MNI 152, 5 template).
	QformCode, SformCode int
	// Quatern is quatern_b, quatern_c, quatern_d; Qoffset is qoffset_x, _y, _z.
	Quatern, Qoffset [3]float64
	// Srow is srow_x, srow_y, srow_z.
	Srow [3][4]float64
}

// Geometry returns the header's spatial fields as stored, before any of the fixes Affine
// applies.
func (v *Volume) Geometry() Geometry { return v.geom }

// Affine returns the voxel-to-world matrix as nibabel's img.affine gives it for a loaded
// NIfTI-1 or NIfTI-2 file: the header is first fixed as nibabel fixes it on load (zero
// voxel sizes become 1, negative ones their absolute value, a qfac other than ±1 becomes 1,
// an xform code outside 0..5 becomes 0); then the sform when sform_code ≠ 0, else the qform
// when qform_code ≠ 0, else the Analyze fallback (voxel sizes on the diagonal, x flipped,
// the volume's centre at the origin). code is the xform code of the matrix returned (0 for
// the fallback). Analyze 7.5 files have no orientation and are refused.
func (v *Volume) Affine() (aff [4][4]float64, code int, err error) {
	if v.version == 0 {
		return aff, 0, fmt.Errorf("%w: an Analyze 7.5 header has no orientation", ErrUnsupported)
	}
	g := v.geom
	for i := 1; i <= 3; i++ {
		switch {
		case g.Pixdim[i] == 0:
			g.Pixdim[i] = 1
		case g.Pixdim[i] < 0:
			g.Pixdim[i] = -g.Pixdim[i]
		}
	}
	if g.Pixdim[0] != 1 && g.Pixdim[0] != -1 {
		g.Pixdim[0] = 1
	}
	if g.QformCode < 0 || g.QformCode > 5 {
		g.QformCode = 0
	}
	if g.SformCode < 0 || g.SformCode > 5 {
		g.SformCode = 0
	}
	switch {
	case g.SformCode != 0:
		for i := 0; i < 3; i++ {
			aff[i] = g.Srow[i]
		}
		aff[3] = [4]float64{0, 0, 0, 1}
		code = g.SformCode
	case g.QformCode != 0:
		// nibabel treats w² within 3 float32 eps (NIfTI-1) or 3 float64 eps (NIfTI-2)
		// of zero as zero.
		thresh := 3 * float64(math.Nextafter32(1, 2)-1)
		if v.version == 2 {
			thresh = 3 * (math.Nextafter(1, 2) - 1)
		}
		r, err := QuatToMat(g.Quatern, thresh)
		if err != nil {
			return aff, 0, err
		}
		zoom := [3]float64{g.Pixdim[1], g.Pixdim[2], g.Pixdim[3] * g.Pixdim[0]}
		for i := 0; i < 3; i++ {
			for j := 0; j < 3; j++ {
				aff[i][j] = r[i][j] * zoom[j]
			}
			aff[i][3] = g.Qoffset[i]
		}
		aff[3] = [4]float64{0, 0, 0, 1}
		code = g.QformCode
	default:
		// nibabel's shape_zoom_affine(shape, zooms, x_flip=True).
		shape := [3]float64{1, 1, 1}
		zoom := [3]float64{1, 1, 1}
		for i := 0; i < 3 && i < len(v.dims); i++ {
			shape[i], zoom[i] = float64(v.dims[i]), g.Pixdim[i+1]
		}
		zoom[0] = -zoom[0]
		for i := 0; i < 3; i++ {
			aff[i][i] = zoom[i]
			aff[i][3] = -(shape[i] - 1) / 2 * zoom[i]
		}
		aff[3][3] = 1
	}
	for i := range aff {
		for j := range aff[i] {
			if math.IsNaN(aff[i][j]) || math.IsInf(aff[i][j], 0) {
				return aff, 0, fmt.Errorf("%w: affine element [%d][%d] is %v", ErrMalformed, i, j, aff[i][j])
			}
		}
	}
	return aff, code, nil
}

// QuatToMat returns the rotation matrix of the unit quaternion whose vector part is bcd,
// its scalar part w ≥ 0 filled in as nibabel's quaternions.fillpositive does (w² within
// thresh of zero counts as zero; a clearly negative w² is an error), then converted as
// quaternions.quat2mat.
func QuatToMat(bcd [3]float64, thresh float64) ([3][3]float64, error) {
	x, y, z := bcd[0], bcd[1], bcd[2]
	w2 := 1 - (x*x + y*y + z*z)
	var w float64
	switch {
	case math.Abs(w2) < thresh:
		w = 0
	case w2 < 0 || math.IsNaN(w2):
		return [3][3]float64{}, fmt.Errorf("%w: quaternion (b, c, d) = (%v, %v, %v) has |(b, c, d)| > 1", ErrMalformed, x, y, z)
	default:
		w = math.Sqrt(w2)
	}
	n := w*w + x*x + y*y + z*z
	if n < 2.220446049250313e-16 {
		return [3][3]float64{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}, nil
	}
	s := 2 / n
	X, Y, Z := x*s, y*s, z*s
	wX, wY, wZ := w*X, w*Y, w*Z
	xX, xY, xZ := x*X, x*Y, x*Z
	yY, yZ, zZ := y*Y, y*Z, z*Z
	return [3][3]float64{
		{1 - (yY + zZ), xY - wZ, xZ + wY},
		{xY + wZ, 1 - (xX + zZ), yZ - wX},
		{xZ - wY, yZ + wX, 1 - (xX + yY)},
	}, nil
}

// Float32s returns the first 3-D volume (index 0 along every axis past the third) scaled
// by scl_slope/scl_inter, computed in float64 and rounded to float32, first axis fastest
// (nibabel's get_fdata() in Fortran order). Volumes of fewer than three dimensions have
// size 1 along the missing axes; the returned dims are the three sizes.
func (v *Volume) Float32s() ([]float32, [3]int, error) {
	d := [3]int{1, 1, 1}
	for i := 0; i < len(v.dims) && i < 3; i++ {
		d[i] = v.dims[i]
	}
	n := d[0] * d[1] * d[2]
	if n*v.size > len(v.data) {
		return nil, d, fmt.Errorf("%w: %d voxels, %d bytes of data", ErrMalformed, n, len(v.data))
	}
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(v.value(i))
	}
	return out, d, nil
}
