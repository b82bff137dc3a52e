package dicom

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prsmed/prsmed-go/prsmed/imageio/imageiotest"
	"github.com/prsmed/prsmed-go/prsmed/imageio/window"
)

func readGood(t testing.TB, name string) []byte {
	t.Helper()
	return imageiotest.ReadFile(t, filepath.Join(goldenDir, name))
}

// decodeAll exercises every path a caller can take on parsed data.
func decodeAll(f *File) {
	f.Tag(0x0008, 0x0060)
	f.SOPInstanceUID()
	for i := 0; i < f.Frames() && i < 4; i++ {
		f.Frame(i)
		f.Image(i, window.File())
	}
}

// TestTruncations cuts each synthetic file at many lengths: every cut either parses (a
// cut inside trailing data) or fails with an error; none panics.
func TestTruncations(t *testing.T) {
	names, _ := filepath.Glob(filepath.Join(goldenDir, "*.dcm"))
	if len(names) == 0 {
		t.Fatal("no synthetic files")
	}
	for _, p := range names {
		b := readGood(t, filepath.Base(p))
		step := max(1, len(b)/300)
		for n := 0; n < len(b); n += step {
			f, err := Parse(b[:n])
			if err != nil {
				if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrNotDICOM) && !errors.Is(err, ErrUnsupported) {
					t.Errorf("%s cut at %d: error %v is not one of the package's kinds", filepath.Base(p), n, err)
				}
				continue
			}
			decodeAll(f)
		}
	}
}

// TestCorruptions flips bytes all over each synthetic file: no panics, no hangs.
func TestCorruptions(t *testing.T) {
	names, _ := filepath.Glob(filepath.Join(goldenDir, "*.dcm"))
	for _, p := range names {
		b := readGood(t, filepath.Base(p))
		for i := 0; i < len(b); i += max(1, len(b)/200) {
			for _, v := range []byte{0x00, 0xFF, 0x7F} {
				c := bytes.Clone(b)
				c[i] = v
				if f, err := Parse(c); err == nil {
					decodeAll(f)
				}
			}
		}
	}
}

// elem writes one explicit VR little endian element.
func elem(group, el uint16, vr string, val []byte) []byte {
	var b []byte
	b = binary.LittleEndian.AppendUint16(b, group)
	b = binary.LittleEndian.AppendUint16(b, el)
	b = append(b, vr...)
	if longVR[vr] {
		b = append(b, 0, 0)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(val)))
	} else {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(val)))
	}
	return append(b, val...)
}

func us(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }

// file builds a preamble, a meta group with the transfer syntax, and a data set.
func file(ts string, ds ...[]byte) []byte {
	b := make([]byte, 128)
	b = append(b, "DICM"...)
	if len(ts)%2 == 1 {
		ts += "\x00"
	}
	b = append(b, elem(0x0002, 0x0010, "UI", []byte(ts))...)
	for _, e := range ds {
		b = append(b, e...)
	}
	return b
}

func pixelModule(rows, cols, bits int) [][]byte {
	return [][]byte{
		elem(0x0028, 0x0002, "US", us(1)),
		elem(0x0028, 0x0004, "CS", []byte("MONOCHROME2 ")),
		elem(0x0028, 0x0010, "US", us(uint16(rows))),
		elem(0x0028, 0x0011, "US", us(uint16(cols))),
		elem(0x0028, 0x0100, "US", us(uint16(bits))),
		elem(0x0028, 0x0101, "US", us(uint16(bits))),
		elem(0x0028, 0x0103, "US", us(0)),
	}
}

func TestHostile(t *testing.T) {
	explicit := "1.2.840.10008.1.2.1"
	// Sequences nested 1000 deep, undefined lengths.
	var deep []byte
	for i := 0; i < 1000; i++ {
		deep = append(deep, elem(0x0008, 0x1115, "SQ", nil)[:8]...)
		deep = append(deep, 0, 0, 0, 0)
		deep = binary.LittleEndian.AppendUint32(deep[:len(deep)-4], 0xFFFFFFFF)
		deep = append(deep, 0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF) // item, undefined length
	}
	huge := append(pixelModule(65535, 65535, 16), elem(0x7FE0, 0x0010, "OW", make([]byte, 64)))
	encap := []byte{0xE0, 0x7F, 0x10, 0x00, 'O', 'B', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
		0xFE, 0xFF, 0x00, 0xE0, 0, 0, 0, 0, // empty offset table
		0xFE, 0xFF, 0x00, 0xE0, 0x10, 0, 0, 0} // a fragment of 16 bytes
	encap = append(encap, make([]byte, 16)...)
	encap = append(encap, 0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0)
	rle := append(pixelModule(4096, 4096, 16), encap)
	jll := append(pixelModule(4096, 4096, 16), encap)
	badLen := append(pixelModule(2, 2, 8), []byte{0xE0, 0x7F, 0x10, 0x00, 'O', 'B', 0, 0, 0xF0, 0xFF, 0xFF, 0x7F})
	cases := []struct {
		name string
		data []byte
		want error // from Parse or Frame(0)
	}{
		{"empty", nil, ErrNotDICOM},
		{"preamble only", make([]byte, 132), ErrNotDICOM},
		{"deep nesting", file(explicit, deep), ErrMalformed},
		{"65535² frame", file(explicit, huge...), ErrMalformed},
		{"RLE 4096² frame from 16 bytes", file("1.2.840.10008.1.2.5", rle...), ErrMalformed},
		{"JPEG lossless 4096² frame from 16 bytes", file("1.2.840.10008.1.2.4.70", jll...), ErrMalformed},
		{"pixel data length 2 GiB", file(explicit, badLen...), ErrMalformed},
		{"JPEG 2000", file("1.2.840.10008.1.2.4.90", append(pixelModule(2, 2, 8), encap)...), ErrUnsupported},
		{"unknown syntax", file("1.2.3.4", append(pixelModule(2, 2, 8), encap)...), ErrUnsupported},
		{"bad VR", file(explicit, elem(0x0008, 0x0060, "CS", []byte("CT")), []byte{0x08, 0x00, 0x70, 0x00, 'z', 'z', 2, 0, 'A', 'B'}), ErrMalformed},
		{"no pixel data", file(explicit, elem(0x0008, 0x0060, "CS", []byte("CT"))), ErrNoPixels},
		{"bits allocated 12", file(explicit, append(pixelModule(2, 2, 12), elem(0x7FE0, 0x0010, "OW", make([]byte, 8)))...), ErrMalformed},
		{"short native data", file(explicit, append(pixelModule(4, 4, 16), elem(0x7FE0, 0x0010, "OW", make([]byte, 30)))...), ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := Parse(c.data)
			if err == nil {
				_, err = f.Frame(0)
			}
			if !errors.Is(err, c.want) {
				t.Errorf("error %v, want %v", err, c.want)
			}
		})
	}
}

// TestUnsupportedNamesSyntax: the error names the transfer syntax by name and UID.
func TestUnsupportedNamesSyntax(t *testing.T) {
	encap := []byte{0xE0, 0x7F, 0x10, 0x00, 'O', 'B', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
		0xFE, 0xFF, 0x00, 0xE0, 0, 0, 0, 0, 0xFE, 0xFF, 0x00, 0xE0, 2, 0, 0, 0, 0, 0,
		0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0}
	for _, ts := range []string{"1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.102"} {
		f, err := Parse(file(ts, append(pixelModule(2, 2, 8), encap)...))
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.Frame(0)
		name := lookupSyntax(ts).name
		if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), ts) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: error %v does not name %q", ts, err, name)
		}
	}
}

// TestMonochrome1Inverted: the same values give inverted gray levels under MONOCHROME1.
func TestMonochrome1Inverted(t *testing.T) {
	f, err := Parse(readGood(t, "cr_mono1_u8.dcm"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := f.Image(0, window.MinMaxWindow())
	if err != nil {
		t.Fatal(err)
	}
	v, _ := f.Frame(0)
	norm := window.NormalizeMinMax(nil, v)
	g := img.(*image.Gray)
	for i := range norm {
		if want := window.Level8(1 - norm[i]); g.Pix[i] != want {
			t.Fatalf("pixel %d: %d, want %d (inverted)", i, g.Pix[i], want)
		}
	}
	// Explicit window on CT: HU 40 ± 200 under "abdomen"-like settings.
	ct, err := Parse(readGood(t, "ct_implicit.dcm"))
	if err != nil {
		t.Fatal(err)
	}
	w, _ := window.Preset("bone")
	im, err := ct.Image(0, w)
	if err != nil {
		t.Fatal(err)
	}
	hu, _ := ct.Frame(0)
	want, _ := window.Normalize(nil, hu, 400, 1800, window.Linear)
	gi := im.(*image.Gray)
	for i := range want {
		if gi.Pix[i] != window.Level8(want[i]) {
			t.Fatalf("bone window pixel %d: %d, want %d", i, gi.Pix[i], window.Level8(want[i]))
		}
	}
	// A second file window (index 1: -600/1500).
	c, wd, _, ok, err := ct.FileWindow(1)
	if err != nil || !ok || c != -600 || wd != 1500 {
		t.Errorf("FileWindow(1) = %v %v %v %v", c, wd, ok, err)
	}
	if _, err := ct.Image(0, window.Window{Kind: window.FromFile, Index: 5}); !errors.Is(err, window.ErrBadWindow) {
		t.Errorf("window index 5: %v", err)
	}
}
