package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prsmed/prsmed-go/examples/internal/clitest"
	"github.com/prsmed/prsmed-go/prsmed/data"
	"github.com/prsmed/prsmed-go/prsmed/imageio/volume"
)

// runTool runs the command with args and returns its exit code, stdout and stderr.
func runTool(args ...string) (int, string, string) { return clitest.Run(run, args...) }

const itksnap = `################################################
# ITK-SnAP Label Description File
# IDX   -R-  -G-  -B-  -A--  VIS MSH  LABEL
################################################
    0     0    0    0        0  0  0    "Clear Label"
    1   255    0    0        1  1  1    "left kidney"
    2     0  255    0        1  1  1    "right kidney"
`

// writeCase writes an LPS-ordered image and label map as NIfTI: label 1 at the patient's
// left, label 2 at the patient's right, both on slices 1..4.
func writeCase(t *testing.T, dir string, labelDims [3]int) (string, string) {
	t.Helper()
	aff := [4][4]float64{{-1, 0, 0, 10}, {0, -1, 0, 10}, {0, 0, 2, 0}, {0, 0, 0, 1}}
	img, err := volume.New([3]int{20, 16, 6}, aff)
	if err != nil {
		t.Fatal(err)
	}
	lab, err := volume.New(labelDims, aff)
	if err != nil {
		t.Fatal(err)
	}
	for k := 1; k < 5; k++ {
		for j := 4; j < 10; j++ {
			for i := 2; i < 6; i++ {
				lab.Data[lab.Index(i, j, k)] = 2
				lab.Data[lab.Index(19-i, j, k)] = 1
			}
		}
	}
	for i := range img.Data {
		img.Data[i] = float32(i % 97)
	}
	ip, lp := filepath.Join(dir, "ct.nii.gz"), filepath.Join(dir, "seg.nii.gz")
	if err := volume.WriteNIfTI(ip, img, volume.Int16); err != nil {
		t.Fatal(err)
	}
	if err := volume.WriteNIfTI(lp, lab, volume.Uint8); err != nil {
		t.Fatal(err)
	}
	return ip, lp
}

func TestVolumeset(t *testing.T) {
	dir := t.TempDir()
	ip, lp := writeCase(t, dir, [3]int{20, 16, 6})
	table := filepath.Join(dir, "labels.txt")
	if err := os.WriteFile(table, []byte(itksnap), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "set")
	code, stdout, stderr := runTool("-image", ip, "-labels", lp, "-table", table, "-out", out, "-min", "4", "-block", "2", "-window", "40,100")
	if code != 0 {
		t.Fatalf("code %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "left kidney") || !strings.Contains(stdout, "right kidney") {
		t.Fatalf("summary %q", stdout)
	}
	ds, err := data.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	// 4 slices × 2 labels, less the guard slices' rows.
	if n := ds.Len(); n < 4 || n > 8 || n%2 != 0 {
		t.Fatalf("%d rows", n)
	}
	for _, s := range ds.Samples("") {
		left := strings.Contains(s.Question, "left kidney")
		// The patient's left is on the image's right.
		if wantRight := strings.Contains(s.Position, "right"); left != wantRight {
			t.Fatalf("%s: question %q, position %q", s, s.Question, s.Position)
		}
	}
	// Usage errors and a label map of another size.
	for _, args := range [][]string{{}, {"-out", out}, {"-image", ip, "-table", table, "-out", out}, {"-image", ip, "-labels", lp, "-table", table, "-out", out, "-plane", "oblique"}} {
		if code, _, stderr := runTool(args...); code != 2 || !strings.HasPrefix(stderr, "volumeset: ") {
			t.Errorf("%q: code %d, %q", args, code, stderr)
		}
	}
	bad := t.TempDir()
	_, lp2 := writeCase(t, bad, [3]int{20, 16, 5})
	code, _, stderr = runTool("-image", ip, "-labels", lp2, "-table", table, "-out", filepath.Join(bad, "set"))
	if code != 1 || !strings.Contains(stderr, "not on the image's grid") {
		t.Fatalf("mismatched grids: code %d, %q", code, stderr)
	}
}

// TestSubjectsList: a -subjects list with relative paths splits by subject.
func TestSubjectsList(t *testing.T) {
	dir := t.TempDir()
	writeCase(t, dir, [3]int{20, 16, 6})
	list := filepath.Join(dir, "subjects.tsv")
	body := "# name\timage\tlabels\na\tct.nii.gz\tseg.nii.gz\nb\tct.nii.gz\tseg.nii.gz\nc\tct.nii.gz\tseg.nii.gz\n"
	if err := os.WriteFile(list, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	table := filepath.Join(dir, "labels.tsv")
	if err := os.WriteFile(table, []byte("value\tname\n1\tleft kidney\n2\tright kidney\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "set")
	if code, _, stderr := runTool("-subjects", list, "-table", table, "-out", out, "-min", "4", "-plane", "coronal"); code != 0 {
		t.Fatalf("code %d: %s", code, stderr)
	}
	ds, err := data.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	splitOf := map[string]string{}
	for _, s := range ds.Samples("") {
		subj := strings.SplitN(filepath.Base(s.MaskPath), "_", 2)[0]
		if sp, ok := splitOf[subj]; ok && sp != s.Split {
			t.Fatalf("subject %s in %s and %s", subj, sp, s.Split)
		}
		splitOf[subj] = s.Split
	}
	if len(splitOf) != 3 {
		t.Fatalf("subjects %v", splitOf)
	}
}
