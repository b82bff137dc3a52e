package data

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/prsmed/prsmed-go/zones"
)

const (
	goodHeader = "image_path,image_name,question,answer,position,split\n"
	goodRow    = "brain_tumors_ct_scan/train_masks/10.png,10.png,Where is the tumour?,\"The tumour is in the top left, near the center.\",The tumor is in position top left and near the center.,train\n"
)

func TestOpenCSV(t *testing.T) {
	tests := []struct {
		name    string
		csv     string
		wantErr []string // substrings of the error; nil for success
		check   func(t *testing.T, s []Sample)
	}{
		{
			name: "official order",
			csv:  goodHeader + goodRow,
			check: func(t *testing.T, s []Sample) {
				if len(s) != 1 {
					t.Fatalf("got %d samples, want 1", len(s))
				}
				got := s[0]
				if got.Modality != "brain_tumors_ct_scan" || got.Split != "train" || got.Row != 2 ||
					got.Zone != zones.TopLeft || got.Question != "Where is the tumour?" ||
					got.Answer != "The tumour is in the top left, near the center." ||
					got.MaskRel != "brain_tumors_ct_scan/train_masks/10.png" || got.ImageName != "10.png" {
					t.Errorf("sample = %+v", got)
				}
				if !strings.HasSuffix(got.ImagePath, filepath.FromSlash("brain_tumors_ct_scan/train_images/10.png")) {
					t.Errorf("ImagePath = %s", got.ImagePath)
				}
			},
		},
		{
			name: "reordered columns, extra column, BOM, spaces, upper-case split",
			csv: "\ufeffsplit, position ,answer,Question,image_name,extra,image_path\n" +
				"TRAIN ,Position center shows the tumor and which is near the center.,It is central.,Where?,10.png,x,brain_tumors_ct_scan/train_masks/10.png\n",
			check: func(t *testing.T, s []Sample) {
				if len(s) != 1 || s[0].Split != "train" || s[0].Zone != zones.Center || s[0].Question != "Where?" {
					t.Errorf("samples = %+v", s)
				}
			},
		},
		{
			name: "quoted field over two lines keeps the starting line",
			csv:  goodHeader + goodRow + "brain_tumors_ct_scan/train_masks/10.png,10.png,\"Where\nis it?\",Top left.,Position top left,train\n",
			check: func(t *testing.T, s []Sample) {
				if len(s) != 2 || s[1].Row != 3 || s[1].Question != "Where\nis it?" {
					t.Errorf("samples = %+v", s)
				}
			},
		},
		{
			name: "position naming no single zone",
			csv:  goodHeader + "brain_tumors_ct_scan/train_masks/10.png,10.png,Where?,Somewhere.,top left center,train\n",
			check: func(t *testing.T, s []Sample) {
				if s[0].Zone != 0 {
					t.Errorf("Zone = %v, want none", s[0].Zone)
				}
			},
		},
		{name: "header only", csv: goodHeader, check: func(t *testing.T, s []Sample) {
			if len(s) != 0 {
				t.Errorf("got %d samples", len(s))
			}
		}},
		{name: "empty file", csv: "", wantErr: []string{"brain_tumors_ct_scan.csv", "empty file"}},
		{
			name:    "missing column",
			csv:     "image_path,image_name,question,answer,split\n" + "a,b,c,d,train\n",
			wantErr: []string{"brain_tumors_ct_scan.csv", `no column "position"`},
		},
		{
			name:    "duplicate column",
			csv:     "image_path,image_name,question,answer,position,split,split\n",
			wantErr: []string{"brain_tumors_ct_scan.csv", `column "split" twice`},
		},
		{
			name:    "bad split",
			csv:     goodHeader + goodRow + strings.Replace(goodRow, ",train", ",validation", 1),
			wantErr: []string{"brain_tumors_ct_scan.csv:3:", `split "validation"`},
		},
		{
			name:    "missing mask",
			csv:     goodHeader + goodRow + strings.ReplaceAll(goodRow, "10.png", "11.png"),
			wantErr: []string{"brain_tumors_ct_scan.csv:3:", "mask file", filepath.FromSlash("train_masks/11.png")},
		},
		{
			name:    "missing mask in another split",
			csv:     goodHeader + strings.Replace(strings.Replace(goodRow, "train_masks", "val_masks", 1), ",train\n", ",val\n", 1),
			wantErr: []string{"brain_tumors_ct_scan.csv:2:", "mask file"},
		},
		{
			name:    "path outside the root",
			csv:     goodHeader + strings.Replace(goodRow, "brain_tumors_ct_scan/train_masks/10.png", "../x.png", 1),
			wantErr: []string{"brain_tumors_ct_scan.csv:2:", "image_path", "not a path inside"},
		},
		{
			name:    "empty question",
			csv:     goodHeader + strings.Replace(goodRow, "Where is the tumour?", " ", 1),
			wantErr: []string{"brain_tumors_ct_scan.csv:2:", "empty question"},
		},
		{
			name:    "wrong field count",
			csv:     goodHeader + "a,b,c\n",
			wantErr: []string{"brain_tumors_ct_scan.csv", "line 2", "wrong number of fields"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := tinyRoot(t, tc.csv)
			d, err := Open(root)
			if tc.wantErr != nil {
				if err == nil {
					t.Fatalf("Open succeeded, want error with %q", tc.wantErr)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, d.Samples(""))
		})
	}
}

func TestOpenMissingImage(t *testing.T) {
	root := tinyRoot(t, goodHeader+strings.ReplaceAll(goodRow, "10.png", "12.png"))
	writeFile(t, root, "brain_tumors_ct_scan/train_masks/12.png", grayPNG(t, 8, 8, topLeftMask))
	_, err := Open(root)
	if err == nil {
		t.Fatal("Open succeeded without the image")
	}
	for _, w := range []string{"brain_tumors_ct_scan.csv:2:", "image file not found", "12.png, 12.jpg, 12.jpeg",
		filepath.FromSlash("brain_tumors_ct_scan/train_images")} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
}

func TestOpenNoCSV(t *testing.T) {
	_, err := Open(t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "no annotation .csv file") {
		t.Errorf("err = %v", err)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "absent")); err == nil {
		t.Error("Open of a missing root succeeded")
	}
}

func TestSplitsAndCounts(t *testing.T) {
	root := tinyRoot(t, goodHeader+goodRow+goodRow+strings.Replace(goodRow, ",train\n", ",test\n", 1))
	d, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(d.Samples(SplitTrain)); n != 2 {
		t.Errorf("train = %d", n)
	}
	if n := len(d.Samples(SplitTest)); n != 1 {
		t.Errorf("test = %d", n)
	}
	if n := len(d.Samples("nope")); n != 0 {
		t.Errorf("unknown split gave %d", n)
	}
	if d.Len() != 3 || d.Counts()["brain_tumors_ct_scan"][SplitVal] != 0 || d.Counts()["brain_tumors_ct_scan"][SplitTrain] != 2 {
		t.Errorf("Len %d, Counts %v", d.Len(), d.Counts())
	}
	if m := d.Modalities(); len(m) != 1 || m[0] != "brain_tumors_ct_scan" {
		t.Errorf("Modalities = %v", m)
	}
	if d.AnnotationDir() != root || d.Root() != root {
		t.Errorf("AnnotationDir %s, Root %s", d.AnnotationDir(), d.Root())
	}
}
