// Package imageiotest holds what the medical image readers' tests share: reading the
// goldens third_party/golden/medical_ref.py writes under testdata/medical and comparing
// decoded values with them.
package imageiotest

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
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
