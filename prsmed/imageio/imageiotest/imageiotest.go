// Package imageiotest holds what the medical image readers' tests share: reading the
// goldens third_party/golden/medical_ref.py writes under testdata/medical and comparing
// decoded values with them, and having nibabel check written NIfTI files.
package imageiotest

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// ReadFile returns a file's bytes or fails the test.
func ReadFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Files reads the "files" list of a golden JSON file into records of type R.
func Files[R any](t testing.TB, path string) []R {
	t.Helper()
	var g struct {
		Files []R `json:"files"`
	}
	if err := json.Unmarshal(ReadFile(t, path), &g); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return g.Files
}

// SHA256 is the hex SHA-256 of values as little-endian float64s, the checksum the goldens
// hold (numpy's float64 tobytes()).
func SHA256(v []float64) string {
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(x))
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// Close6 reports whether a and b agree within 1e-6 relative (absolute below 1); two NaNs
// agree, a NaN and a number do not.
func Close6(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Abs(a-b) <= 1e-6*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

// NibabelPython returns $PRSMED_PYTHON, the python with nibabel 5 that checks written NIfTI
// files, or skips the test when it is not set.
func NibabelPython(t testing.TB) string {
	t.Helper()
	py := os.Getenv("PRSMED_PYTHON")
	if py == "" {
		t.Skip("PRSMED_PYTHON is not set: the nibabel check of written NIfTI files is skipped (set it to a python with nibabel>=5, e.g. /tmp/t2venv/bin/python)")
	}
	return py
}

// NIfTIWant is what nibabel must read from a written NIfTI file: the shape, the affine,
// the voxels (i fastest) and the xform code (0: nibabel's default 2, aligned).
type NIfTIWant struct {
	Dims      [3]int
	Affine    [4][4]float64
	Data      []float32
	XformCode int
}

// CheckNibabel has third_party/golden/volume_refs.py --check read the NIfTI file at path
// with nibabel (python py) and compare it with want; any difference fails the test.
func CheckNibabel(t testing.TB, py, path string, want NIfTIWant) {
	t.Helper()
	data := make([]float64, len(want.Data))
	for i, x := range want.Data {
		data[i] = float64(x)
	}
	code := want.XformCode
	if code == 0 {
		code = 2
	}
	b, err := json.Marshal(map[string]any{"shape": want.Dims, "affine": want.Affine, "data": data, "code": code})
	if err != nil {
		t.Fatal(err)
	}
	exp := filepath.Join(t.TempDir(), "expected.json")
	if err := os.WriteFile(exp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, refScript(t), "--check", path, exp).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "OK" {
		t.Fatalf("%s: nibabel check: %v\n%s", path, err, out)
	}
}

// refScript finds third_party/golden/volume_refs.py in the folders above the test's own.
func refScript(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		p := filepath.Join(dir, "third_party", "golden", "volume_refs.py")
		if _, err := os.Stat(p); err == nil {
			return p
		}
		up := filepath.Dir(dir)
		if up == dir {
			t.Fatal("third_party/golden/volume_refs.py is not in any folder above the test")
		}
		dir = up
	}
}

// NeedPackageFiles skips the test unless dir, the test files a Debian package ships, is
// installed.
func NeedPackageFiles(t testing.TB, dir, debPackage string) {
	t.Helper()
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("the test files of %s are not installed (apt-get install %s): %v", debPackage, debPackage, err)
	}
}
