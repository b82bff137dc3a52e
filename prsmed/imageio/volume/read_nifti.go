package volume

import (
	"fmt"

	"github.com/prsmed/prsmed-go/prsmed/imageio/nifti"
)

// ReadNIfTI reads a NIfTI-1 or NIfTI-2 file (.nii, .nii.gz, .hdr/.img) into a volume with
// the affine nibabel's img.affine gives (see nifti.Volume.Affine) and the voxels of
// get_fdata() (scaled by scl_slope/scl_inter) rounded to float32. Files of fewer than three
// dimensions get size 1 along the missing axes; a 4-D or larger file holding more than one
// volume is refused, as are Analyze 7.5 files (no orientation).
func ReadNIfTI(path string) (*Volume, error) {
	f, err := nifti.Open(path)
	if err != nil {
		return nil, err
	}
	return fromNIfTI(f, path)
}

// ParseNIfTI reads a single-file NIfTI volume held in memory (already decompressed).
func ParseNIfTI(b []byte) (*Volume, error) {
	f, err := nifti.Parse(b)
	if err != nil {
		return nil, err
	}
	return fromNIfTI(f, "NIfTI data")
}

func fromNIfTI(f *nifti.Volume, name string) (*Volume, error) {
	dims := f.Dims()
	for i := 3; i < len(dims); i++ {
		if dims[i] != 1 {
			return nil, fmt.Errorf("%s: %w: %d-D image of shape %v holds several volumes", name, nifti.ErrUnsupported, len(dims), dims)
		}
	}
	aff, code, err := f.Affine()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := checkAffine(aff); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	d := [3]int{1, 1, 1}
	for i := 0; i < 3 && i < len(dims); i++ {
		d[i] = dims[i]
	}
	if _, err := voxels(d); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	data, d, err := f.Float32s()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &Volume{Dims: d, Data: data, Affine: aff, XformCode: code}, nil
}
