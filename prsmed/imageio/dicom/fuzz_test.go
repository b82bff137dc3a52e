package dicom

import (
	"path/filepath"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the parser and decodes every frame it accepts; the
// corpus (testdata/fuzz/FuzzParse) starts from the synthetic files of every transfer
// syntax.
func FuzzParse(f *testing.F) {
	names, _ := filepath.Glob(filepath.Join(goldenDir, "*.dcm"))
	for _, p := range names {
		f.Add(readGood(f, filepath.Base(p)))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if d, err := Parse(b); err == nil {
			decodeAll(d)
		}
	})
}

// FuzzJPEGLossless feeds arbitrary frames to the JPEG lossless decoder.
func FuzzJPEGLossless(f *testing.F) {
	for _, name := range []string{"jpegll_sv1_u16.dcm", "jpegll_p7_rgb_restart.dcm", "jpegll_p4_s16.dcm"} {
		d, err := Parse(readGood(f, name))
		if err != nil {
			f.Fatal(err)
		}
		fr, err := d.frameData(0, true)
		if err != nil {
			f.Fatal(err)
		}
		r, c, s := d.Size()
		f.Add(fr, uint16(r), uint16(c), uint8(s), uint8(d.bitsAlloc))
	}
	f.Fuzz(func(t *testing.T, b []byte, rows, cols uint16, samples, bits uint8) {
		if rows == 0 || cols == 0 || int(rows)*int(cols) > 1<<16 || (samples != 1 && samples != 3) || (bits != 8 && bits != 16) {
			return
		}
		d := &File{rows: int(rows), cols: int(cols), samples: int(samples), bitsAlloc: int(bits), bitsStored: int(bits), frames: 1}
		d.decodeJPEGLossless(make([]float64, int(rows)*int(cols)*int(samples)), b)
	})
}
