package nifti

import (
	"path/filepath"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the single-file reader and decodes every slice it
// accepts; the corpus is in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"vol_i16_scaled.nii", "vol_nifti2_f64.nii", "vol_i32_be_scaled.nii", "vol_u16_2d.nii"} {
		f.Add(readGood(f, name))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if v, err := Parse(b); err == nil {
			decodeAll(v)
		}
	})
}

// FuzzParsePair feeds a header and image data to the .hdr/.img reader.
func FuzzParsePair(f *testing.F) {
	for _, n := range []string{"vol_u8_pair", "vol_analyze_be"} {
		f.Add(readGood(f, filepath.Join(n+".hdr")), readGood(f, n+".img"))
	}
	f.Fuzz(func(t *testing.T, hdr, img []byte) {
		if v, err := ParsePair(hdr, img); err == nil {
			decodeAll(v)
		}
	})
}
