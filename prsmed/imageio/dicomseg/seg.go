// Package dicomseg writes a binary mask on a DICOM series' grid as a DICOM Segmentation
// object (SEG IOD, SegmentationType BINARY), in explicit VR little endian.
//
// The object holds one segment and one frame per source slice that holds mask (slices
// without mask are left out, as the standard allows). Each frame names its source image in
// its Derivation Image Sequence (Source Image Sequence: the slice's SOP Class and Instance
// UIDs), its position (Plane Position Sequence: ImagePositionPatient of the slice) and its
// segment; the Referenced Series Sequence lists every instance of the source series. The
// patient, study and frame of reference attributes are copied from the series' first file,
// so viewers (3D Slicer, OHIF, highdicom, pydicom) place it on its source.
//
// Pixels are packed one bit per pixel, least significant bit first, frames back to back, as
// the standard's BitsAllocated 1 requires.
package dicomseg

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/prsmed/prsmed-go/prsmed/imageio/dicom"
	"github.com/prsmed/prsmed-go/prsmed/imageio/volume"
)

// UIDs of the standard.
const (
	SegmentationStorage = "1.2.840.10008.5.1.4.1.1.66.4"
	explicitVRLE        = "1.2.840.10008.1.2.1"
	// implementationUID is a UUID-derived UID (2.25 arc) naming this writer.
	implementationUID = "2.25.203851348212618330957206342396785618493"
)

// ErrEmpty is returned for a mask with no voxel set: a SEG needs at least one frame.
var ErrEmpty = errors.New("dicomseg: the mask is empty")

// Options describes the segment.
type Options struct {
	// Label is the SegmentLabel (e.g. the question's structure); "finding" when empty.
	Label string
	// Description is the SeriesDescription and ContentDescription.
	Description string
	// Algorithm is the SegmentAlgorithmName ("PRS-Med" when empty).
	Algorithm string
	// SeriesNumber of the new series (300 when 0).
	SeriesNumber int
	// Now is the content date and time (time.Now when zero).
	Now time.Time
}

// Result says what Encode wrote.
type Result struct {
	// SOPInstanceUID and SeriesInstanceUID of the new object.
	SOPInstanceUID, SeriesInstanceUID string
	// Slices are the source slice indices (k) of the frames, in frame order.
	Slices []int
}

// Write writes the SEG of mask (on src's grid: src's size and affine; non-zero voxels are
// in the segment) to path.
func Write(path string, src *volume.Series, mask *volume.Volume, opt Options) (*Result, error) {
	b, res, err := Encode(src, mask, opt)
	if err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".seg-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	return res, os.Rename(tmp.Name(), path)
}

// newUID returns a fresh UUID-derived UID (2.25.<128-bit number>).
func newUID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	b[6] = b[6]&0x0F | 0x40 // version 4
	b[8] = b[8]&0x3F | 0x80 // variant
	return "2.25." + new(big.Int).SetBytes(b[:]).String(), nil
}

// Encode returns the SEG file's bytes.
func Encode(src *volume.Series, mask *volume.Volume, opt Options) ([]byte, *Result, error) {
	if src == nil || src.Volume == nil || mask == nil {
		return nil, nil, fmt.Errorf("dicomseg: nil series or mask")
	}
	if err := mask.Check(); err != nil {
		return nil, nil, err
	}
	if err := src.SameGrid(mask, 1e-4); err != nil {
		return nil, nil, fmt.Errorf("dicomseg: the mask is not on the series' grid: %w", err)
	}
	cols, rows, nk := src.Dims[0], src.Dims[1], src.Dims[2]
	if len(src.SOPInstanceUIDs) != nk || len(src.SOPClassUIDs) != nk || len(src.Files) != nk {
		return nil, nil, fmt.Errorf("dicomseg: the series lists %d instances for %d slices", len(src.SOPInstanceUIDs), nk)
	}
	if rows > 0xFFFF || cols > 0xFFFF {
		return nil, nil, fmt.Errorf("dicomseg: %d×%d slices are too large for DICOM", rows, cols)
	}
	if opt.Label == "" {
		opt.Label = "finding"
	}
	if opt.Algorithm == "" {
		opt.Algorithm = "PRS-Med"
	}
	if opt.SeriesNumber == 0 {
		opt.SeriesNumber = 300
	}
	if opt.Now.IsZero() {
		opt.Now = time.Now()
	}
	plane := rows * cols
	var slices []int
	for k := 0; k < nk; k++ {
		for _, x := range mask.Data[k*plane : (k+1)*plane] {
			if x != 0 {
				slices = append(slices, k)
				break
			}
		}
	}
	if len(slices) == 0 {
		return nil, nil, ErrEmpty
	}
	first, err := dicom.Open(src.Files[0])
	if err != nil {
		return nil, nil, err
	}
	res := &Result{Slices: slices}
	if res.SOPInstanceUID, err = newUID(); err != nil {
		return nil, nil, err
	}
	if res.SeriesInstanceUID, err = newUID(); err != nil {
		return nil, nil, err
	}
	copied := func(g, e uint16) string { s, _ := first.Tag(g, e); return s }
	study := copied(0x0020, 0x000D)
	if study == "" {
		if study, err = newUID(); err != nil {
			return nil, nil, err
		}
	}
	frameOfRef := copied(0x0020, 0x0052)
	if frameOfRef == "" {
		if frameOfRef, err = newUID(); err != nil {
			return nil, nil, err
		}
	}
	dimOrg, err := newUID()
	if err != nil {
		return nil, nil, err
	}

	// Geometry in DICOM's LPS+ frame (the volume's affine is RAS+).
	a := src.Affine
	lps := func(i, j, k float64) [3]float64 {
		var p [3]float64
		for r := 0; r < 3; r++ {
			p[r] = a[r][0]*i + a[r][1]*j + a[r][2]*k + a[r][3]
		}
		return [3]float64{-p[0], -p[1], p[2]}
	}
	sp := src.Spacing()
	dir := src.Directions()
	iop := ds(-dir[0][0], -dir[0][1], dir[0][2], -dir[1][0], -dir[1][1], dir[1][2])

	var refInstances [][]elem
	for k := 0; k < nk; k++ {
		refInstances = append(refInstances, []elem{
			text(tag(0x0008, 0x1150), "UI", src.SOPClassUIDs[k]),
			text(tag(0x0008, 0x1155), "UI", src.SOPInstanceUIDs[k]),
		})
	}
	var frames [][]elem
	for f, k := range slices {
		p := lps(0, 0, float64(k))
		frames = append(frames, []elem{
			seq(tag(0x0008, 0x9124), []elem{ // Derivation Image Sequence
				seq(tag(0x0008, 0x2112), []elem{ // Source Image Sequence
					text(tag(0x0008, 0x1150), "UI", src.SOPClassUIDs[k]),
					text(tag(0x0008, 0x1155), "UI", src.SOPInstanceUIDs[k]),
					seq(tag(0x0040, 0xA170), code("121322", "DCM", "Source image for image processing operation")),
				}),
				seq(tag(0x0008, 0x9215), code("113076", "DCM", "Segmentation")),
			}),
			seq(tag(0x0020, 0x9111), []elem{ul(tag(0x0020, 0x9157), 1, uint32(f+1))}), // Frame Content
			seq(tag(0x0020, 0x9113), []elem{text(tag(0x0020, 0x0032), "DS", ds(p[0], p[1], p[2]))}),
			seq(tag(0x0062, 0x000A), []elem{us(tag(0x0062, 0x000B), 1)}), // Segment Identification
		})
	}
	bits := make([]byte, (len(slices)*plane+7)/8)
	n := 0
	for _, k := range slices {
		for _, x := range mask.Data[k*plane : (k+1)*plane] {
			if x != 0 {
				bits[n/8] |= 1 << (n % 8)
			}
			n++
		}
	}
	date, clock := opt.Now.Format("20060102"), opt.Now.Format("150405")
	ds0 := []elem{
		text(tag(0x0008, 0x0008), "CS", `DERIVED\PRIMARY`),
		text(tag(0x0008, 0x0016), "UI", SegmentationStorage),
		text(tag(0x0008, 0x0018), "UI", res.SOPInstanceUID),
		text(tag(0x0008, 0x0020), "DA", copied(0x0008, 0x0020)),
		text(tag(0x0008, 0x0023), "DA", date),
		text(tag(0x0008, 0x0030), "TM", copied(0x0008, 0x0030)),
		text(tag(0x0008, 0x0033), "TM", clock),
		text(tag(0x0008, 0x0050), "SH", copied(0x0008, 0x0050)),
		text(tag(0x0008, 0x0060), "CS", "SEG"),
		text(tag(0x0008, 0x0070), "LO", "prsmed-go"),
		text(tag(0x0008, 0x0090), "PN", copied(0x0008, 0x0090)),
		text(tag(0x0008, 0x103E), "LO", truncate(opt.Description, 64)),
		seq(tag(0x0008, 0x1115), []elem{ // Referenced Series Sequence
			seq(tag(0x0008, 0x114A), refInstances...),
			text(tag(0x0020, 0x000E), "UI", src.SeriesUID),
		}),
		text(tag(0x0010, 0x0010), "PN", copied(0x0010, 0x0010)),
		text(tag(0x0010, 0x0020), "LO", copied(0x0010, 0x0020)),
		text(tag(0x0010, 0x0030), "DA", copied(0x0010, 0x0030)),
		text(tag(0x0010, 0x0040), "CS", copied(0x0010, 0x0040)),
		text(tag(0x0018, 0x1020), "LO", "prsmed-go"),
		text(tag(0x0020, 0x000D), "UI", study),
		text(tag(0x0020, 0x000E), "UI", res.SeriesInstanceUID),
		text(tag(0x0020, 0x0010), "SH", copied(0x0020, 0x0010)),
		text(tag(0x0020, 0x0011), "IS", strconv.Itoa(opt.SeriesNumber)),
		text(tag(0x0020, 0x0013), "IS", "1"),
		text(tag(0x0020, 0x0052), "UI", frameOfRef),
		seq(tag(0x0020, 0x9221), []elem{text(tag(0x0020, 0x9164), "UI", dimOrg)}),
		seq(tag(0x0020, 0x9222),
			[]elem{text(tag(0x0020, 0x9164), "UI", dimOrg), at(tag(0x0020, 0x9165), tag(0x0062, 0x000B)), at(tag(0x0020, 0x9167), tag(0x0062, 0x000A))},
			[]elem{text(tag(0x0020, 0x9164), "UI", dimOrg), at(tag(0x0020, 0x9165), tag(0x0020, 0x0032)), at(tag(0x0020, 0x9167), tag(0x0020, 0x9113))},
		),
		us(tag(0x0028, 0x0002), 1),
		text(tag(0x0028, 0x0004), "CS", "MONOCHROME2"),
		text(tag(0x0028, 0x0008), "IS", strconv.Itoa(len(slices))),
		us(tag(0x0028, 0x0010), uint16(rows)),
		us(tag(0x0028, 0x0011), uint16(cols)),
		us(tag(0x0028, 0x0100), 1),
		us(tag(0x0028, 0x0101), 1),
		us(tag(0x0028, 0x0102), 0),
		us(tag(0x0028, 0x0103), 0),
		text(tag(0x0028, 0x2110), "CS", "00"),
		text(tag(0x0062, 0x0001), "CS", "BINARY"),
		seq(tag(0x0062, 0x0002), []elem{ // Segment Sequence
			seq(tag(0x0062, 0x0003), code("M-01000", "SRT", "Morphologically Altered Structure")),
			us(tag(0x0062, 0x0004), 1),
			text(tag(0x0062, 0x0005), "LO", truncate(opt.Label, 64)),
			text(tag(0x0062, 0x0008), "CS", "AUTOMATIC"),
			text(tag(0x0062, 0x0009), "LO", truncate(opt.Algorithm, 64)),
			seq(tag(0x0062, 0x000F), code("M-03000", "SRT", "Mass")),
		}),
		text(tag(0x0070, 0x0080), "CS", "PRSMED"),
		text(tag(0x0070, 0x0081), "LO", truncate(opt.Description, 64)),
		text(tag(0x0070, 0x0084), "PN", "PRS-Med"),
		seq(tag(0x5200, 0x9229), []elem{ // Shared Functional Groups
			seq(tag(0x0020, 0x9116), []elem{text(tag(0x0020, 0x0037), "DS", iop)}),
			seq(tag(0x0028, 0x9110), []elem{
				text(tag(0x0018, 0x0050), "DS", ds(sp[2])),
				text(tag(0x0018, 0x0088), "DS", ds(sp[2])),
				text(tag(0x0028, 0x0030), "DS", ds(sp[1], sp[0])),
			}),
		}),
		seq(tag(0x5200, 0x9230), frames...),
		{tag: tag(0x7FE0, 0x0010), vr: "OB", val: bits},
	}

	var body bytes.Buffer
	if err := encode(&body, ds0); err != nil {
		return nil, nil, err
	}
	var meta bytes.Buffer
	if err := encode(&meta, []elem{
		{tag: tag(0x0002, 0x0001), vr: "OB", val: []byte{0, 1}},
		text(tag(0x0002, 0x0002), "UI", SegmentationStorage),
		text(tag(0x0002, 0x0003), "UI", res.SOPInstanceUID),
		text(tag(0x0002, 0x0010), "UI", explicitVRLE),
		text(tag(0x0002, 0x0012), "UI", implementationUID),
		text(tag(0x0002, 0x0013), "SH", "PRSMED_GO"),
	}); err != nil {
		return nil, nil, err
	}
	var out bytes.Buffer
	out.Write(make([]byte, 128))
	out.WriteString("DICM")
	if err := encode(&out, []elem{ul(tag(0x0002, 0x0000), uint32(meta.Len()))}); err != nil {
		return nil, nil, err
	}
	out.Write(meta.Bytes())
	out.Write(body.Bytes())
	return out.Bytes(), res, nil
}

// truncate cuts s to at most n bytes (a LO value holds 64 characters).
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
