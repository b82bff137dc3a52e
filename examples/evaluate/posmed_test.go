package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// posmedRoot builds a tiny PosMed data root and a predictions folder:
//
//	brain: test 1.png (top-left block, predicted exactly, official layout),
//	       test 2.png (bottom-right block; a 4×4 prediction twice its size
//	       after resizing: Dice 2/3, IoU 1/2; relative layout),
//	       train 3.png (not in the test split);
//	polyp: test a.jpg listed twice (central block, prediction a.png under
//	       the official layout, so the .png fallback is used).
func posmedRoot(t *testing.T) (root, pred string) {
	dir := t.TempDir()
	root, pred = filepath.Join(dir, "data"), filepath.Join(dir, "pred")
	writeMask(t, filepath.Join(root, "brain_tumors_ct_scan/test_masks/1.png"), 8, 8, block(0, 0, 2, 2))
	writeMask(t, filepath.Join(root, "brain_tumors_ct_scan/test_masks/2.png"), 8, 8, block(6, 6, 8, 8))
	writeMask(t, filepath.Join(root, "brain_tumors_ct_scan/train_masks/3.png"), 8, 8, block(0, 0, 8, 8))
	writeMask(t, filepath.Join(root, "polyp_endoscopy/test_masks/a.png"), 8, 8, block(3, 3, 5, 5))
	if err := os.Rename(filepath.Join(root, "polyp_endoscopy/test_masks/a.png"), filepath.Join(root, "polyp_endoscopy/test_masks/a.jpg")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(root, "brain_tumors_ct_scan.csv"), `image_path,image_name,question,answer,position,split
brain_tumors_ct_scan/test_masks/1.png,1.png,"Where is the tumour, exactly?","The tumour is in the top left, far from the center.",Position top left contains the tumor,test
brain_tumors_ct_scan/test_masks/2.png,2.png,Where?,bottom right,Position bottom right,test
brain_tumors_ct_scan/train_masks/3.png,3.png,Where?,center,Position center,train
`)
	writeFile(t, filepath.Join(root, "polyp_endoscopy.csv"), "\ufeffimage_path,image_name,question,answer,position,split\r\n"+
		"polyp_endoscopy/test_masks/a.jpg,a.jpg,Where is the polyp?,center,center,test\r\n"+
		"polyp_endoscopy/test_masks/a.jpg,a.jpg,Which region?,middle,center,Test\r\n")
	writeFile(t, filepath.Join(root, "notes.csv"), "name,value\nx,1\n")

	writeMask(t, filepath.Join(pred, "brain_tumors_ct_scan/1.png"), 8, 8, block(0, 0, 2, 2))
	writeMask(t, filepath.Join(pred, "brain_tumors_ct_scan/test_masks/2.png"), 4, 4, block(2, 3, 4, 4))
	writeMask(t, filepath.Join(pred, "polyp_endoscopy/a.png"), 8, 8, block(3, 3, 5, 5))
	return root, pred
}

func TestPosMedWithAnswers(t *testing.T) {
	root, pred := posmedRoot(t)
	writeFile(t, filepath.Join(pred, "answers.jsonl"), strings.Join([]string{
		`{"file": "brain_tumors_ct_scan/1.png", "answer": "The tumour is in the upper-left quadrant."}`,
		`{"file": "brain_tumors_ct_scan/test_masks/2.png", "answer": "The tumour is in the top right."}`,
		``,
		`{"file": "polyp_endoscopy/test_masks/a.jpg", "answer": "It lies in the middle of the image."}`,
		`{"file": "polyp_endoscopy/a.png", "answer": "No idea."}`,
		`{"file": "brain_tumors_ct_scan/train_masks/3.png", "answer": "center"}`,
	}, "\n"))
	out := filepath.Join(t.TempDir(), "s.json")
	code, table, errs := runTool("-pred", pred, "-gt", root, "-json", out)
	if code != 0 {
		t.Fatalf("code %d, stderr %q", code, errs)
	}
	if !strings.Contains(errs, "ignoring notes.csv") || !strings.Contains(errs, "skipped 1 answers for files that were not scored") {
		t.Errorf("stderr %q lacks the expected warnings", errs)
	}
	for _, want := range []string{
		"modality",
		"brain_tumors_ct_scan       2   0.8333   0.7500",
		"0.5000 (1/2)",
		"polyp_endoscopy            1   1.0000   1.0000",
		"overall                    3   0.8889   0.8333",
		"0.5000 (2/4)",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	var r report
	b, _ := os.ReadFile(out)
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if r.Mode != "posmed" || r.Split != "test" || r.Overall.Images != 3 || r.Overall.Answers != 4 ||
		r.Overall.ZoneCorrect != 2 || r.Overall.ZoneUnparsed != 1 || !strings.HasSuffix(r.Answers, "answers.jsonl") {
		t.Errorf("report = %+v", r)
	}
}

func TestPosMedSplits(t *testing.T) {
	root, pred := posmedRoot(t)
	writeMask(t, filepath.Join(pred, "brain_tumors_ct_scan/3.png"), 8, 8, block(0, 0, 8, 8))

	code, table, errs := runTool("-pred", pred, "-gt", root, "-split", "train")
	if code != 0 || !strings.Contains(table, "brain_tumors_ct_scan       1   1.0000") || strings.Contains(table, "polyp") {
		t.Errorf("train: code %d, stderr %q, table:\n%s", code, errs, table)
	}
	code, table, _ = runTool("-pred", pred, "-gt", root, "-split", "all")
	if code != 0 || !strings.Contains(table, "overall                    4") {
		t.Errorf("all: code %d, table:\n%s", code, table)
	}
	code, _, errs = runTool("-pred", pred, "-gt", root, "-split", "val")
	if code != 1 || !strings.Contains(errs, `no annotation row has split "val" (splits present: Test, test, train)`) {
		t.Errorf("val: code %d, stderr %q", code, errs)
	}
}

func TestAnswersCSVAndSeparateAnnotations(t *testing.T) {
	root, pred := posmedRoot(t)
	ann := filepath.Join(t.TempDir(), "annotations")
	for _, f := range []string{"brain_tumors_ct_scan.csv", "polyp_endoscopy.csv"} {
		if err := os.MkdirAll(ann, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(root, f), filepath.Join(ann, f)); err != nil {
			t.Fatal(err)
		}
	}
	answers := filepath.Join(t.TempDir(), "my_answers.csv")
	writeFile(t, answers, "id,file,answer\n1,polyp_endoscopy/a.png,\"Central, near nothing else.\"\n2,brain_tumors_ct_scan/1.png,lower left\n")
	code, table, errs := runTool("-pred", pred, "-gt", root, "-annotations", ann, "-answers", answers)
	if code != 0 {
		t.Fatalf("code %d, stderr %q", code, errs)
	}
	if !strings.Contains(table, "0.0000 (0/1)") || !strings.Contains(table, "1.0000 (1/1)") {
		t.Errorf("table:\n%s", table)
	}
	// Without -annotations, the root now has only notes.csv: folder mode,
	// which picks up every mask including train and jpg, and -split warns.
	code, _, errs = runTool("-pred", pred, "-gt", root, "-split", "test", "-allow-missing")
	if code != 0 || !strings.Contains(errs, "-split applies only") {
		t.Errorf("folder fallback: code %d, stderr %q", code, errs)
	}
}

func TestBadAnnotationPath(t *testing.T) {
	root, pred := posmedRoot(t)
	writeFile(t, filepath.Join(root, "lung_CT.csv"), "image_path,image_name,question,answer,position,split\n../../etc/passwd,x,q,a,p,test\n")
	code, _, errs := runTool("-pred", pred, "-gt", root)
	if code != 1 || !strings.Contains(errs, "lung_CT.csv:2: image_path") {
		t.Errorf("code %d, stderr %q", code, errs)
	}
}

// TestPosMedReferring scores a data root whose image 1 holds two findings
// asked about by two rows: predictions that follow the question give
// referring accuracy 1 and masks alike 0; the same mask for both questions
// gives accuracy 1/2 and masks alike 1. Image 2 holds one finding and is
// left out of the referring scores. Data with one finding per image prints
// no referring line.
func TestPosMedReferring(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "data")
	writeMask(t, filepath.Join(root, "brain_tumors_ct_scan/test_masks/1_1.png"), 8, 8, block(0, 0, 3, 3))
	writeMask(t, filepath.Join(root, "brain_tumors_ct_scan/test_masks/1_2.png"), 8, 8, block(5, 5, 8, 8))
	writeMask(t, filepath.Join(root, "brain_tumors_ct_scan/test_masks/2_1.png"), 8, 8, block(0, 0, 2, 2))
	writeFile(t, filepath.Join(root, "brain_tumors_ct_scan.csv"), `image_path,image_name,question,answer,position,split
brain_tumors_ct_scan/test_masks/1_1.png,1.png,Where is the upper tumour?,top left,top left,test
brain_tumors_ct_scan/test_masks/1_2.png,1,Where is the lower tumour?,bottom right,bottom right,test
brain_tumors_ct_scan/test_masks/2_1.png,2.png,Where is the tumour?,top left,top left,test
`)
	for _, c := range []struct {
		name       string
		second     []int // block predicted for the question about 1_2
		want       string
		acc, alike float64
	}{
		{"listens", []int{5, 5, 8, 8}, "accuracy 1.0000 (2/2), Dice with asked 1.0000, best other 0.0000, masks alike 0.0000 (1 pairs)", 1, 0},
		{"deaf", []int{0, 0, 3, 3}, "accuracy 0.5000 (1/2), Dice with asked 0.5000, best other 0.5000, masks alike 1.0000 (1 pairs)", 0.5, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			pred := filepath.Join(t.TempDir(), "pred")
			writeMask(t, filepath.Join(pred, "brain_tumors_ct_scan/1_1.png"), 8, 8, block(0, 0, 3, 3))
			writeMask(t, filepath.Join(pred, "brain_tumors_ct_scan/1_2.png"), 8, 8, block(c.second[0], c.second[1], c.second[2], c.second[3]))
			writeMask(t, filepath.Join(pred, "brain_tumors_ct_scan/2_1.png"), 8, 8, block(0, 0, 2, 2))
			out := filepath.Join(t.TempDir(), "s.json")
			code, table, errs := runTool("-pred", pred, "-gt", root, "-json", out)
			if code != 0 {
				t.Fatalf("code %d, stderr %q", code, errs)
			}
			if !strings.Contains(table, "referring (1 images with several findings, 2 questions): "+c.want) {
				t.Errorf("table lacks the referring line %q:\n%s", c.want, table)
			}
			var r report
			b, _ := os.ReadFile(out)
			if err := json.Unmarshal(b, &r); err != nil {
				t.Fatal(err)
			}
			if r.Referring == nil || r.Referring.Accuracy != c.acc || r.Referring.Alike != c.alike || r.Referring.Images != 1 {
				t.Errorf("json referring %+v", r.Referring)
			}
		})
	}
	root2, pred2 := posmedRoot(t)
	out := filepath.Join(t.TempDir(), "s.json")
	if code, table, errs := runTool("-pred", pred2, "-gt", root2, "-json", out); code != 0 || strings.Contains(table, "referring") {
		t.Errorf("one-finding data: code %d, table %q, stderr %q", code, table, errs)
	}
	if b, _ := os.ReadFile(out); strings.Contains(string(b), "referring") {
		t.Errorf("one-finding data: json holds referring scores: %s", b)
	}
}
