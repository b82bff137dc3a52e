package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prsmed/prsmed-go/internal/gocmd"
	"github.com/prsmed/prsmed-go/prsmed/data"
	"github.com/prsmed/prsmed-go/prsmed/data/synth"
	"github.com/prsmed/prsmed-go/prsmed/imageio"

	"github.com/prsmed/prsmed-go/prsmed/prsmedtest"
)

func runPredict(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

func readAnswers(t *testing.T, path string) []answerLine {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []answerLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l answerLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("answers.jsonl line %q: %v", sc.Text(), err)
		}
		out = append(out, l)
	}
	return out
}

func TestUsageErrors(t *testing.T) {
	code, out, errs := runPredict("-h")
	if code != 0 || !strings.Contains(errs, "masks/<modality>/<name>.png") || !strings.Contains(errs, "-window") || out != "" {
		t.Errorf("-h: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	for _, args := range [][]string{
		{},
		{"-checkpoint", "c", "-out", "o"},
		{"-checkpoint", "c", "-out", "o", "-images", "i", "-data", "d"},
		{"-checkpoint", "c", "-out", "o", "-images", "i", "-batch", "0"},
		{"-checkpoint", "c", "-out", "o", "-data", "d", "-split", "dev"},
		{"-checkpoint", "c", "-out", "o", "-images", "i", "-modality", "../x"},
		{"-checkpoint", "c", "-out", "o", "-images", "i", "extra"},
		{"-bogus"},
	} {
		code, _, errOut := runPredict(args...)
		if code != 2 || strings.Count(strings.TrimSpace(errOut), "\n") > 0 || !strings.HasPrefix(errOut, "predict: ") {
			t.Errorf("%v: exit %d, stderr %q; want 2 and one line", args, code, errOut)
		}
	}
	code, _, errOut := runPredict("-checkpoint", "c", "-out", t.TempDir(), "-images", filepath.Join(t.TempDir(), "none"))
	if code != 1 || strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
		t.Errorf("missing folder: exit %d, %q", code, errOut)
	}
}

// TestPosMedSplit predicts a synthetic PosMed test split, checks the layout, checks that
// examples/evaluate reads it and prints the same table, and that a rerun resumes.
func TestPosMedSplit(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the tiny model and builds examples/evaluate")
	}
	ds := prsmedtest.SynthSet(t, 12, 4)
	root := ds.Root()
	want := map[string]bool{}
	for _, s := range ds.Samples("test") {
		want[s.Modality+"/"+pngName(filepath.Base(s.MaskRel))] = true
	}
	ckpt, out := prsmedtest.TinyBundle(t, 9), t.TempDir()
	code, table, errOut := runPredict("-checkpoint", ckpt, "-data", root, "-out", out, "-batch", "4", "-overlays")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	ans := readAnswers(t, filepath.Join(out, "masks", "answers.jsonl"))
	if len(ans) != len(want) || len(want) == 0 {
		t.Fatalf("%d answers for %d test masks", len(ans), len(want))
	}
	for _, a := range ans {
		if !want[a.File] || a.Answer == "" {
			t.Errorf("answer %+v", a)
		}
		m, err := os.Open(filepath.Join(out, "masks", filepath.FromSlash(a.File)))
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := png.DecodeConfig(m)
		m.Close()
		if err != nil || cfg.Width != 64 || cfg.Height != 64 || cfg.ColorModel != color.GrayModel {
			t.Errorf("%s: %+v %v; want a 64×64 grey PNG", a.File, cfg, err)
		}
		if _, err := os.Stat(filepath.Join(out, "overlays", filepath.FromSlash(a.File))); err != nil {
			t.Errorf("no overlay: %v", err)
		}
	}
	if !strings.Contains(table, "overall") || !strings.Contains(table, "zone acc") {
		t.Fatalf("no evaluation table:\n%s", table)
	}

	// examples/evaluate reads the output and prints the same numbers.
	bin := gocmd.BuildTest(t, "../evaluate")
	ev, err := exec.Command(bin, "-pred", filepath.Join(out, "masks"), "-gt", root, "-split", "test").CombinedOutput()
	if err != nil {
		t.Fatalf("evaluate: %v\n%s", err, ev)
	}
	if strings.TrimSpace(string(ev)) != strings.TrimSpace(table) {
		t.Errorf("evaluate's table differs from predict's:\nevaluate:\n%s\npredict:\n%s", ev, table)
	}

	// A rerun does nothing; after a lost mask and a torn last line it redoes only those.
	code, table2, errOut := runPredict("-checkpoint", ckpt, "-data", root, "-out", out)
	if code != 0 || !strings.Contains(errOut, "already done") || table2 != table {
		t.Fatalf("rerun: exit %d, %s", code, errOut)
	}
	if n := len(readAnswers(t, filepath.Join(out, "masks", "answers.jsonl"))); n != len(want) {
		t.Errorf("rerun left %d answers, want %d", n, len(want))
	}
	os.Remove(filepath.Join(out, "masks", filepath.FromSlash(ans[0].File)))
	f, _ := os.OpenFile(filepath.Join(out, "masks", "answers.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"file":"brain`)
	f.Close()
	code, _, errOut = runPredict("-checkpoint", ckpt, "-data", root, "-out", out)
	if code != 0 || !strings.Contains(errOut, "predicting the other 1") {
		t.Fatalf("resume: exit %d, %s", code, errOut)
	}
	after := readAnswers(t, filepath.Join(out, "masks", "answers.jsonl"))
	if len(after) != len(want)+1 || after[len(after)-1].File != ans[0].File {
		t.Errorf("after resuming: %d answers (last %+v), want %d with %s last", len(after), after[len(after)-1], len(want)+1, ans[0].File)
	}
	if _, err := os.Stat(filepath.Join(out, "masks", filepath.FromSlash(ans[0].File))); err != nil {
		t.Error("the lost mask was not written again")
	}
}

func writeImage(t *testing.T, path string, jpg bool) {
	t.Helper()
	os.MkdirAll(filepath.Dir(path), 0o755)
	img := image.NewRGBA(image.Rect(0, 0, 50, 30))
	for i := range img.Pix {
		img.Pix[i] = uint8(i)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if jpg {
		jpeg.Encode(f, img, nil)
	} else {
		png.Encode(f, img)
	}
}

// TestFolder: a folder of images gives masks under their top-level sub-folders; an
// unreadable image is reported and makes the exit status 1 without stopping the others.
func TestFolder(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the tiny model")
	}
	in := t.TempDir()
	writeImage(t, filepath.Join(in, "ct", "a.png"), false)
	writeImage(t, filepath.Join(in, "ct", "deep", "b.jpg"), true)
	writeImage(t, filepath.Join(in, "c.png"), false)
	os.WriteFile(filepath.Join(in, "broken.png"), []byte("not a png"), 0o644)
	os.WriteFile(filepath.Join(in, "notes.txt"), []byte("skip me"), 0o644)
	out := filepath.Join(in, "out") // inside the input folder: must be skipped
	code, _, errOut := runPredict("-checkpoint", prsmedtest.TinyBundle(t, 9), "-images", in, "-out", out, "-batch", "2", "-question", "Where is the lesion?")
	if code != 1 || !strings.Contains(errOut, "broken.png") || !strings.Contains(errOut, "1 images could not be read") {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	for _, f := range []string{"ct/a.png", "ct/b.png", "images/c.png"} {
		m, err := os.Open(filepath.Join(out, "masks", f))
		if err != nil {
			t.Error(err)
			continue
		}
		cfg, err := png.DecodeConfig(m)
		m.Close()
		if err != nil || cfg.Width != 50 || cfg.Height != 30 {
			t.Errorf("%s: %+v %v", f, cfg, err)
		}
	}
	ans := readAnswers(t, filepath.Join(out, "masks", "answers.jsonl"))
	if len(ans) != 3 || ans[0].Question != "Where is the lesion?" {
		t.Errorf("answers %+v", ans)
	}
}

// TestInterruptResumes sends SIGINT to a running predict: it exits with 130 having
// written whole masks and answer lines only, and the next run finishes the rest.
func TestInterruptResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the program")
	}
	bin := gocmd.BuildTest(t, ".")
	in := t.TempDir()
	for i := range 300 {
		writeImage(t, filepath.Join(in, fmt.Sprintf("scan%03d.png", i)), false)
	}
	ckpt, out := prsmedtest.TinyBundle(t, 9), t.TempDir()
	cmd := exec.Command(bin, "-checkpoint", ckpt, "-images", in, "-out", out, "-batch", "1", "-threads", "1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ansPath := filepath.Join(out, "masks", "answers.jsonl")
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(20 * time.Millisecond) {
		if st, err := os.Stat(ansPath); err == nil && st.Size() > 0 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("no answer after 2 minutes")
		}
	}
	cmd.Process.Signal(os.Interrupt)
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 130 || !strings.Contains(stderr.String(), "run the same command again to resume") {
		t.Fatalf("after SIGINT: exit %d, stderr:\n%s", code, stderr.String())
	}
	n := len(readAnswers(t, ansPath))
	if n == 0 || n >= 300 {
		t.Fatalf("%d answers after the interrupt; want some but not all", n)
	}
	code, _, errOut := runPredict("-checkpoint", ckpt, "-images", in, "-out", out, "-batch", "8")
	if code != 0 || !strings.Contains(errOut, "already done") {
		t.Fatalf("resume: exit %d\n%s", code, errOut)
	}
	if got := len(readAnswers(t, ansPath)); got != 300 {
		t.Errorf("%d answers after resuming, want 300", got)
	}
}

func TestProgressLine(t *testing.T) {
	p := newProgress(nil, true, 100, 20)
	got := p.line(60, 10*time.Second) // 40 images in 10 s: 4/s, 40 left: 10 s
	for _, want := range []string{"[##################............] 60/100", "4.0 img/s", "ETA 0:10"} {
		if !strings.Contains(got, want) {
			t.Errorf("line %q lacks %q", got, want)
		}
	}
	if clock(3725*time.Second) != "1:02:05" {
		t.Errorf("clock(3725 s) = %s", clock(3725*time.Second))
	}
}

// TestDICOMFolder: a DICOM CT slice in -images is windowed as -window says and its answer
// line names the source by SOP Instance UID; the mask has the slice's size.
func TestDICOMFolder(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the tiny model")
	}
	in := t.TempDir()
	raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "medical", "ct_roundtrip.dcm"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(in, "ct"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(in, "ct", "slice.dcm"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	code, _, errOut := runPredict("-checkpoint", prsmedtest.TinyBundle(t, 9), "-images", in, "-out", out, "-window", "lung", "-quiet")
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	ans := readAnswers(t, filepath.Join(out, "masks", "answers.jsonl"))
	if len(ans) != 1 || ans[0].File != "ct/slice.png" || !strings.Contains(ans[0].Source, "SOP Instance UID") || !strings.Contains(ans[0].Source, "lung") {
		t.Fatalf("answers %+v", ans)
	}
	img, src, err := imageio.LoadWith(filepath.Join(in, "ct", "slice.dcm"), imageio.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(out, "masks", "ct", "slice.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	if b := img.Bounds(); err != nil || cfg.Width != b.Dx() || cfg.Height != b.Dy() {
		t.Errorf("mask %+v (%v), slice %v (%s)", cfg, err, b, src)
	}
}

// TestPosMedReferringLine runs predict on a multi-finding data set: the
// table then ends with the referring scores, the same line that
// examples/evaluate's score of the saved masks would give (both come
// from metrics.ReferAccumulator); on one-finding data there is no such
// line (TestPosMedSplit's table).
func TestPosMedReferringLine(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the tiny model")
	}
	root := filepath.Join(t.TempDir(), "posmed")
	if err := synth.Generate(root, synth.Config{N: 8, Size: 64, Seed: 4, Findings: 3, Modalities: []string{"lung_CT"}, Fractions: [3]float64{0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	ds, err := data.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	n := len(ds.Samples("test"))
	code, table, errOut := runPredict("-checkpoint", prsmedtest.TinyBundle(t, 9), "-data", root, "-out", t.TempDir(), "-batch", "8")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want := fmt.Sprintf("referring (8 images with several findings, %d questions): accuracy ", n)
	if !strings.Contains(table, want) {
		t.Errorf("table lacks %q:\n%s", want, table)
	}
}

// TestResumeRefusesAnotherRun: an -out holding a run's masks is resumed only by a run
// with the same checkpoint weights and question; another checkpoint, another question or
// answers without a run record are refused with an error naming what differs, and no
// mask is rewritten.
func TestResumeRefusesAnotherRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the tiny model")
	}
	in := t.TempDir()
	for i := range 2 {
		writeImage(t, filepath.Join(in, "ct", fmt.Sprintf("s%d.png", i)), false)
	}
	ckptA, ckptB, out := prsmedtest.TinyBundle(t, 9), prsmedtest.TinyBundle(t, 10), t.TempDir()
	base := []string{"-images", in, "-out", out, "-batch", "2", "-threads", "1"}
	if code, _, errOut := runPredict(append([]string{"-checkpoint", ckptA}, base...)...); code != 0 {
		t.Fatalf("first run: exit %d\n%s", code, errOut)
	}
	maskPath := filepath.Join(out, "masks", "ct", "s0.png")
	before, err := os.ReadFile(maskPath)
	if err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runPredict(append([]string{"-checkpoint", ckptA}, base...)...); code != 0 || !strings.Contains(errOut, "already done") {
		t.Fatalf("same run again: exit %d\n%s", code, errOut)
	}
	for _, tc := range []struct {
		name  string
		args  []string
		setup func()
		want  string
	}{
		{"another checkpoint", append([]string{"-checkpoint", ckptB}, base...), nil, "weights"},
		{"another question", append([]string{"-checkpoint", ckptA, "-question", "Where is the cyst?"}, base...), nil, "-question"},
		{"answers without a record", append([]string{"-checkpoint", ckptA}, base...),
			func() { os.Remove(filepath.Join(out, "masks", "run.json")) }, "no run.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				tc.setup()
			}
			code, _, errOut := runPredict(tc.args...)
			if code != 1 || !strings.Contains(errOut, tc.want) || !strings.Contains(errOut, "another -out") {
				t.Fatalf("exit %d, want 1 and an error naming %q:\n%s", code, tc.want, errOut)
			}
			after, err := os.ReadFile(maskPath)
			if err != nil || !bytes.Equal(after, before) {
				t.Fatalf("the refused run changed %s (%v)", maskPath, err)
			}
		})
	}
}
