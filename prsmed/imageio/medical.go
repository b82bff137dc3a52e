package imageio

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/prsmed/prsmed-go/prsmed/imageio/dicom"
	"github.com/prsmed/prsmed-go/prsmed/imageio/nifti"
	"github.com/prsmed/prsmed-go/prsmed/imageio/window"
)

// Middle, as Options.Slice, picks the middle slice of the chosen axis.
const Middle = -1

// Options says which 2-D image a medical file gives and how its values become gray
// levels. Plain images (PNG, JPEG, BMP, TIFF) ignore them. Start from DefaultOptions: the
// zero value means axis 0, slice 0.
type Options struct {
	// Window maps DICOM and NIfTI values to 8 bits (default: the file's own window).
	Window window.Window
	// Frame is the DICOM frame (0-based).
	Frame int
	// Axis is the NIfTI axis the slice is cut across: 0, 1 or 2 (nibabel's data[i],
	// data[:, j], data[:, :, k]).
	Axis int
	// Slice is the index along Axis, or Middle.
	Slice int
}

// DefaultOptions is what Load uses: the file's window, frame 0, the middle slice across
// the third axis.
func DefaultOptions() Options { return Options{Axis: 2, Slice: Middle} }

// ParseSlice reads a slice selection: "" or "mid" (the middle slice across axis 2), "K"
// (slice K across axis 2), "AXIS:K" or "AXIS:mid", with AXIS 0, 1, 2 or x, y, z.
func ParseSlice(s string) (axis, index int, err error) {
	s = strings.ToLower(strings.TrimSpace(s))
	axis, index = 2, Middle
	if s == "" || s == "mid" {
		return axis, index, nil
	}
	if a, k, ok := strings.Cut(s, ":"); ok {
		switch a {
		case "0", "x", "i":
			axis = 0
		case "1", "y", "j":
			axis = 1
		case "2", "z", "k":
			axis = 2
		default:
			return 0, 0, fmt.Errorf("imageio: slice axis %q (0, 1, 2 or x, y, z)", a)
		}
		s = k
	}
	if s == "mid" {
		return axis, Middle, nil
	}
	index, err = strconv.Atoi(s)
	if err != nil || index < 0 {
		return 0, 0, fmt.Errorf("imageio: slice index %q (a number >= 0 or mid)", s)
	}
	return axis, index, nil
}

// Source names where an image came from, so a mask can be traced back to it.
type Source struct {
	Path string
	// Format is "dicom", "nifti", or the image format ("png", "jpeg", "bmp", "tiff").
	Format string
	// SOPInstanceUID identifies a DICOM instance (empty for other formats).
	SOPInstanceUID string
	// Frame is the DICOM frame used.
	Frame int
	// Axis and Slice locate a NIfTI slice.
	Axis, Slice int
	// Window is how values were mapped to gray levels (DICOM, NIfTI), as window.Parse reads it.
	Window string
}

// String describes the source in one line.
func (s Source) String() string {
	switch s.Format {
	case "dicom":
		uid := "without SOP Instance UID"
		if s.SOPInstanceUID != "" {
			uid = "SOP Instance UID " + s.SOPInstanceUID
		}
		return fmt.Sprintf("%s (DICOM %s, frame %d, window %s)", s.Path, uid, s.Frame, s.Window)
	case "nifti":
		return fmt.Sprintf("%s (NIfTI axis %d slice %d, window %s)", s.Path, s.Axis, s.Slice, s.Window)
	}
	return s.Path
}

// Kind of file, as LoadWith detects it.
const (
	KindImage = "image"
	KindDICOM = "dicom"
	KindNIfTI = "nifti"
)

// Detect says whether path is a DICOM file ("DICM" after the preamble, or a .dcm/.dicom
// name), a NIfTI/Analyze file (.nii, .nii.gz, .hdr, .img, or a NIfTI-1/2 header), or an
// ordinary image.
func Detect(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	head := make([]byte, 352)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return "", err
	}
	head = head[:n]
	low := strings.ToLower(path)
	switch {
	case dicom.IsDICOM(head):
		return KindDICOM, nil
	case strings.HasSuffix(low, ".nii"), strings.HasSuffix(low, ".nii.gz"), strings.HasSuffix(low, ".hdr"),
		strings.HasSuffix(low, ".hdr.gz"), strings.HasSuffix(low, ".img"), strings.HasSuffix(low, ".img.gz"):
		return KindNIfTI, nil
	case strings.HasSuffix(low, ".dcm"), strings.HasSuffix(low, ".dicom"):
		return KindDICOM, nil
	case len(head) >= 348 && (bytes.Equal(head[344:348], []byte("n+1\x00"))) ||
		len(head) >= 8 && bytes.Equal(head[4:8], []byte("n+2\x00")):
		return KindNIfTI, nil
	}
	return KindImage, nil
}

// LoadWith decodes any supported file: plain images as Load does, DICOM and NIfTI files as
// the 8-bit image o selects (frame, slice, window), and says where the image came from.
func LoadWith(path string, o Options) (image.Image, Source, error) {
	src := Source{Path: path}
	kind, err := Detect(path)
	if err != nil {
		return nil, src, err
	}
	switch kind {
	case KindDICOM:
		d, err := dicom.Open(path)
		if err != nil {
			return nil, src, err
		}
		img, err := d.Image(o.Frame, o.Window)
		if err != nil {
			return nil, src, fmt.Errorf("%s: %w", path, err)
		}
		src.Format, src.SOPInstanceUID, src.Frame, src.Window = KindDICOM, d.SOPInstanceUID(), o.Frame, o.Window.String()
		return img, src, nil
	case KindNIfTI:
		v, err := nifti.Open(path)
		if err != nil {
			return nil, src, err
		}
		idx := o.Slice
		if idx == Middle {
			dims := v.Dims()
			n := 1
			if o.Axis >= 0 && o.Axis < len(dims) {
				n = dims[o.Axis]
			}
			idx = n / 2
		}
		img, err := v.Image(o.Axis, idx, o.Window)
		if err != nil {
			return nil, src, fmt.Errorf("%s: %w", path, err)
		}
		src.Format, src.Axis, src.Slice, src.Window = KindNIfTI, o.Axis, idx, o.Window.String()
		return img, src, nil
	}
	img, format, err := decodePlain(path)
	if err != nil {
		return nil, src, err
	}
	src.Format = format
	return img, src, nil
}

// IsMedical reports whether path names a DICOM or NIfTI file by its extension (for
// directory listings; LoadWith also looks at the content, so extensionless DICOM files
// with a preamble load too).
func IsMedical(path string) bool {
	low := strings.ToLower(path)
	for _, e := range []string{".dcm", ".dicom", ".nii", ".nii.gz", ".hdr", ".hdr.gz"} {
		if strings.HasSuffix(low, e) {
			return true
		}
	}
	return false
}
