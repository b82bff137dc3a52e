package dicom

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkDecode times Open + Frame(0) (read, parse, decode, rescale) of the files
// third_party/golden/medical_bench.sh writes into $MEDICAL_BENCH_DIR: a 512×512 16-bit CT
// slice and a 1024×1024 JPEG lossless frame. It reports the sum of the values so the
// driver can check that pydicom decoded the same.
func BenchmarkDecode(b *testing.B) {
	dir := os.Getenv("MEDICAL_BENCH_DIR")
	if dir == "" {
		b.Skip("MEDICAL_BENCH_DIR not set (see third_party/golden/medical_bench.sh)")
	}
	for _, name := range []string{"ct512.dcm", "jll1024.dcm"} {
		b.Run(name, func(b *testing.B) {
			var sum float64
			for i := 0; i < b.N; i++ {
				f, err := Open(filepath.Join(dir, name))
				if err != nil {
					b.Fatal(err)
				}
				v, err := f.Frame(0)
				if err != nil {
					b.Fatal(err)
				}
				sum = 0
				for _, x := range v {
					sum += x
				}
			}
			b.ReportMetric(sum, "sum")
		})
	}
}
