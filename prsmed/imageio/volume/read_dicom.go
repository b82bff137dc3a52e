package volume

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/prsmed/prsmed-go/prsmed/imageio/dicom"
)

// MaxSeriesFiles bounds the files a series folder may hold.
const MaxSeriesFiles = 1 << 16

// SeriesOptions tunes ReadDICOMSeries.
type SeriesOptions struct {
	// SeriesUID chooses one series when the folder holds several; empty accepts a folder
	// of one series only.
	SeriesUID string
	// Tolerance is the largest departure of a slice from its place on a regular grid, as a
	// fraction of the slice spacing; 0 means 0.01. It also bounds how far orientations and
	// pixel spacings of the files may differ (as an absolute difference of direction
	// cosines, and a fraction of the spacing).
	Tolerance float64
}

// Series is a volume read from a DICOM series folder, with what later writers (DICOM SEG)
// need to refer back to it.
type Series struct {
	*Volume
	// SeriesUID is the SeriesInstanceUID read.
	SeriesUID string
	// Files are the slice files in volume order (k = 0 first); SOPInstanceUIDs and
	// SOPClassUIDs are theirs, in the same order.
	Files, SOPInstanceUIDs, SOPClassUIDs []string
	// Skipped names the files of the folder left out, each with the reason (not DICOM, no
	// pixel data, or another series).
	Skipped []string
}

// sliceMeta is what one file says about its place in the series.
type sliceMeta struct {
	path, series, sop, class string
	rows, cols               int
	iop                      [6]float64
	ipp                      [3]float64
	spacing                  [2]float64 // PixelSpacing: row spacing, column spacing
	thickness                float64    // SpacingBetweenSlices, else SliceThickness, else 0
	proj                     float64    // ipp projected on the slice normal
}

// ReadDICOMSeries reads the DICOM files directly in dir (not its subfolders) as one
// volume. Files are grouped by SeriesInstanceUID (several series are an error unless
// opt.SeriesUID picks one), ordered by ImagePositionPatient projected on the slice normal
// (the cross product of ImageOrientationPatient's row and column directions), and their
// pixel values rescaled (RescaleSlope/RescaleIntercept). The affine is converted from
// DICOM's LPS+ to RAS+ (see the package doc). Files that are not DICOM or carry no pixel
// data are skipped and listed in Series.Skipped. Differing sizes, orientations or pixel
// spacings, duplicate positions, gaps (a missing slice) and irregular spacing are errors
// naming the files; so are multi-frame and colour files.
func ReadDICOMSeries(ctx context.Context, dir string, opt SeriesOptions) (*Series, error) {
	tol := opt.Tolerance
	if tol <= 0 {
		tol = 0.01
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var paths []string
	for _, e := range ents {
		if e.Type().IsRegular() {
			paths = append(paths, filepath.Join(dir, e.Name()))
		}
	}
	if len(paths) > MaxSeriesFiles {
		return nil, fmt.Errorf("%w: %s holds %d files (limit %d)", ErrSeries, dir, len(paths), MaxSeriesFiles)
	}
	s := &Series{}
	groups := map[string][]*sliceMeta{}
	var uids []string
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		m, skip, err := readSliceMeta(p)
		if err != nil {
			return nil, err
		}
		if skip != "" {
			s.Skipped = append(s.Skipped, p+": "+skip)
			continue
		}
		if _, ok := groups[m.series]; !ok {
			uids = append(uids, m.series)
		}
		groups[m.series] = append(groups[m.series], m)
	}
	var metas []*sliceMeta
	switch {
	case opt.SeriesUID != "":
		metas = groups[opt.SeriesUID]
		if len(metas) == 0 {
			return nil, fmt.Errorf("%w: %s has no series %s (it has %s)", ErrSeries, dir, opt.SeriesUID, describeSeries(uids, groups))
		}
		for _, u := range uids {
			if u != opt.SeriesUID {
				for _, m := range groups[u] {
					s.Skipped = append(s.Skipped, m.path+": series "+u)
				}
			}
		}
	case len(uids) == 0:
		return nil, fmt.Errorf("%w: %s holds no DICOM image files", ErrSeries, dir)
	case len(uids) > 1:
		return nil, fmt.Errorf("%w: %s holds %d series (%s); choose one", ErrSeries, dir, len(uids), describeSeries(uids, groups))
	default:
		metas = groups[uids[0]]
	}
	aff, err := seriesGeometry(metas, tol)
	if err != nil {
		return nil, err
	}
	first := metas[0]
	dims := [3]int{first.cols, first.rows, len(metas)}
	vol, err := New(dims, aff)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	vol.XformCode = 1
	plane := first.rows * first.cols
	for k, m := range metas {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		f, err := dicom.Open(m.path)
		if err != nil {
			return nil, err
		}
		px, err := f.Frame(0)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.path, err)
		}
		if len(px) != plane {
			return nil, fmt.Errorf("%w: %s: frame of %d values, want %d", ErrSeries, m.path, len(px), plane)
		}
		dst := vol.Data[k*plane : (k+1)*plane]
		for i, x := range px {
			dst[i] = float32(x)
		}
		s.Files = append(s.Files, m.path)
		s.SOPInstanceUIDs = append(s.SOPInstanceUIDs, m.sop)
		s.SOPClassUIDs = append(s.SOPClassUIDs, m.class)
	}
	s.Volume = vol
	s.SeriesUID = first.series
	return s, nil
}

func describeSeries(uids []string, groups map[string][]*sliceMeta) string {
	var parts []string
	for _, u := range uids {
		parts = append(parts, fmt.Sprintf("%s: %d files", u, len(groups[u])))
	}
	return strings.Join(parts, "; ")
}

// readSliceMeta reads one file's geometry; skip is non-empty (the reason) for files that
// are not DICOM images.
func readSliceMeta(path string) (*sliceMeta, string, error) {
	f, err := dicom.Open(path)
	if err != nil {
		if errors.Is(err, dicom.ErrNotDICOM) {
			return nil, "not DICOM", nil
		}
		return nil, "", err
	}
	if errors.Is(f.Err(), dicom.ErrNoPixels) {
		return nil, "no pixel data", nil
	}
	if f.Err() != nil {
		return nil, "", fmt.Errorf("%s: %w", path, f.Err())
	}
	m := &sliceMeta{path: path, sop: f.SOPInstanceUID()}
	m.class, _ = f.Tag(0x0008, 0x0016)
	m.series, _ = f.Tag(0x0020, 0x000E)
	if m.series == "" {
		return nil, "", fmt.Errorf("%w: %s has no SeriesInstanceUID", ErrSeries, path)
	}
	if f.Frames() != 1 {
		return nil, "", fmt.Errorf("%w: %s has %d frames (multi-frame files are not read as a series)", ErrSeries, path, f.Frames())
	}
	var samples int
	m.rows, m.cols, samples = f.Size()
	if samples != 1 {
		return nil, "", fmt.Errorf("%w: %s has %d samples per pixel (want gray)", ErrSeries, path, samples)
	}
	nums := func(g, e uint16, name string, n int) ([]float64, error) {
		s, ok := f.Tag(g, e)
		if !ok || strings.TrimSpace(s) == "" {
			return nil, fmt.Errorf("%w: %s has no %s", ErrSeries, path, name)
		}
		parts := strings.Split(s, `\`)
		if len(parts) != n {
			return nil, fmt.Errorf("%w: %s: %s has %d values, want %d", ErrSeries, path, name, len(parts), n)
		}
		out := make([]float64, n)
		for i, p := range parts {
			v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("%w: %s: %s value %q is not a number", ErrSeries, path, name, p)
			}
			out[i] = v
		}
		return out, nil
	}
	iop, err := nums(0x0020, 0x0037, "ImageOrientationPatient", 6)
	if err != nil {
		return nil, "", err
	}
	ipp, err := nums(0x0020, 0x0032, "ImagePositionPatient", 3)
	if err != nil {
		return nil, "", err
	}
	ps, err := nums(0x0028, 0x0030, "PixelSpacing", 2)
	if err != nil {
		return nil, "", err
	}
	if ps[0] <= 0 || ps[1] <= 0 {
		return nil, "", fmt.Errorf("%w: %s: PixelSpacing %v", ErrSeries, path, ps)
	}
	copy(m.iop[:], iop)
	copy(m.ipp[:], ipp)
	copy(m.spacing[:], ps)
	for _, t := range [][2]uint16{{0x0018, 0x0088}, {0x0018, 0x0050}} {
		if v, err := nums(t[0], t[1], "slice spacing", 1); err == nil && v[0] > 0 {
			m.thickness = v[0]
			break
		}
	}
	return m, "", nil
}

// seriesGeometry checks that the slices form a regular grid, sorts them along the normal
// and returns the RAS+ affine.
func seriesGeometry(ms []*sliceMeta, tol float64) ([4][4]float64, error) {
	var aff [4][4]float64
	first := ms[0]
	row := [3]float64{first.iop[0], first.iop[1], first.iop[2]}
	col := [3]float64{first.iop[3], first.iop[4], first.iop[5]}
	if math.Abs(norm(row)-1) > 1e-3 || math.Abs(norm(col)-1) > 1e-3 || math.Abs(dot(row, col)) > 1e-3 {
		return aff, fmt.Errorf("%w: %s: ImageOrientationPatient %v is not two orthonormal directions", ErrSeries, first.path, first.iop)
	}
	normal := cross(row, col)
	for _, m := range ms[1:] {
		if m.rows != first.rows || m.cols != first.cols {
			return aff, fmt.Errorf("%w: %s is %d×%d but %s is %d×%d", ErrSeries, m.path, m.rows, m.cols, first.path, first.rows, first.cols)
		}
		for i := range m.iop {
			if math.Abs(m.iop[i]-first.iop[i]) > tol/10 {
				return aff, fmt.Errorf("%w: orientation %v of %s differs from %v of %s", ErrSeries, m.iop, m.path, first.iop, first.path)
			}
		}
		for i := range m.spacing {
			if math.Abs(m.spacing[i]-first.spacing[i]) > tol*first.spacing[i] {
				return aff, fmt.Errorf("%w: pixel spacing %v of %s differs from %v of %s", ErrSeries, m.spacing, m.path, first.spacing, first.path)
			}
		}
	}
	for _, m := range ms {
		m.proj = dot(m.ipp, normal)
	}
	sort.SliceStable(ms, func(a, b int) bool { return ms[a].proj < ms[b].proj })
	n := len(ms)
	var step [3]float64
	if n == 1 {
		t := first.thickness
		if t == 0 {
			t = 1
		}
		step = scale(normal, t)
	} else {
		steps := make([]float64, n-1)
		for k := 1; k < n; k++ {
			d := ms[k].proj - ms[k-1].proj
			if d < 1e-4 {
				return aff, fmt.Errorf("%w: %s and %s are at the same position %v along the slice normal", ErrSeries, ms[k-1].path, ms[k].path, ms[k].proj)
			}
			steps[k-1] = d
		}
		// The smallest step is the series' step: a missing slice makes one step a
		// multiple of it.
		unit := steps[0]
		for _, d := range steps {
			unit = math.Min(unit, d)
		}
		for k, d := range steps {
			if math.Abs(d-unit) > tol*unit {
				what := "irregular spacing"
				if r := d / unit; r > 1.5 {
					what = fmt.Sprintf("a gap (about %.0f missing slices)", math.Round(r)-1)
				}
				return aff, fmt.Errorf("%w: %s between %s and %s: step %.4g mm, the series' step is %.4g mm", ErrSeries, what, ms[k].path, ms[k+1].path, d, unit)
			}
		}
		for i := 0; i < 3; i++ {
			step[i] = (ms[n-1].ipp[i] - ms[0].ipp[i]) / float64(n-1)
		}
		// Every slice must sit on the line of the first and the last.
		for k, m := range ms {
			for i := 0; i < 3; i++ {
				if e := m.ipp[i] - (ms[0].ipp[i] + float64(k)*step[i]); math.Abs(e) > tol*unit {
					return aff, fmt.Errorf("%w: %s is %.4g mm off the line of the series' slice positions", ErrSeries, m.path, math.Abs(e))
				}
			}
		}
	}
	colsp, rowsp := first.spacing[1], first.spacing[0]
	for i := 0; i < 3; i++ {
		aff[i] = [4]float64{row[i] * colsp, col[i] * rowsp, step[i], ms[0].ipp[i]}
	}
	aff[3] = [4]float64{0, 0, 0, 1}
	for j := 0; j < 4; j++ { // LPS+ to RAS+
		aff[0][j], aff[1][j] = -aff[0][j], -aff[1][j]
	}
	return aff, nil
}

func dot(a, b [3]float64) float64 { return a[0]*b[0] + a[1]*b[1] + a[2]*b[2] }
func norm(a [3]float64) float64   { return math.Sqrt(dot(a, a)) }
func scale(a [3]float64, s float64) [3]float64 {
	return [3]float64{a[0] * s, a[1] * s, a[2] * s}
}
func cross(a, b [3]float64) [3]float64 {
	return [3]float64{a[1]*b[2] - a[2]*b[1], a[2]*b[0] - a[0]*b[2], a[0]*b[1] - a[1]*b[0]}
}
