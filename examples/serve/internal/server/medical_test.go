package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"image"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prsmed/prsmed-go/prsmed/imageio"
	"github.com/prsmed/prsmed-go/prsmed/imageio/volume"
	"github.com/prsmed/prsmed-go/prsmed/imageio/window"
	"github.com/prsmed/prsmed-go/prsmed/volpredict"
)

const volumeData = "../../../../testdata/volume"

func readTestFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(volumeData, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// formBody builds a multipart form with the file under fileField and the other fields.
func formBody(t *testing.T, fileField string, file []byte, fields ...string) (io.Reader, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for i := 0; i+1 < len(fields); i += 2 {
		mw.WriteField(fields[i], fields[i+1])
	}
	fw, err := mw.CreateFormFile(fileField, "upload")
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(file)
	mw.Close()
	return &b, mw.FormDataContentType()
}

func sameGray(t *testing.T, what string, got, want image.Image) {
	t.Helper()
	if got.Bounds() != want.Bounds() {
		t.Fatalf("%s: model saw %v, want %v", what, got.Bounds(), want.Bounds())
	}
	b := want.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if g, w := got.At(x, y), want.At(x, y); g != w {
				t.Fatalf("%s: pixel (%d,%d) %v, want %v", what, x, y, g, w)
			}
		}
	}
}

// TestSegmentMedicalFields: DICOM and NIfTI uploads with window, frame and slice fields
// reach the model as the image imageio.LoadWith makes of the same file and options.
func TestSegmentMedicalFields(t *testing.T) {
	for _, c := range []struct {
		file, window, frame, slice string
		opt                        imageio.Options
	}{
		{"series/im02.dcm", "", "0", "", imageio.DefaultOptions()},
		{"series/im02.dcm", "40,400", "", "", imageio.Options{Window: window.CenterWidth(40, 400), Axis: 2, Slice: imageio.Middle}},
		{"qform_n1.nii.gz", "minmax", "", "1:2", imageio.Options{Window: window.MinMaxWindow(), Axis: 1, Slice: 2}},
		{"sform_n1.nii", "", "", "", imageio.DefaultOptions()},
	} {
		f := &fake{}
		ts, _ := newTest(t, f, BatchConfig{}, Config{})
		body, ct := formBody(t, "image", readTestFile(t, c.file), "question", "Where?", "window", c.window, "frame", c.frame, "slice", c.slice)
		resp := post(t, ts.URL+"/v1/segment", body, ct)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", c.file, resp.StatusCode, b)
		}
		want, _, err := imageio.LoadWith(filepath.Join(volumeData, c.file), c.opt)
		if err != nil {
			t.Fatal(err)
		}
		sameGray(t, c.file, f.images[0], want)
	}
}

// hostileNIfTI returns hostile variants of a NIfTI-1 file.
func hostileNIfTI(t *testing.T) map[string][]byte {
	good := readTestFile(t, "sform_n1.nii")
	huge := append([]byte(nil), good[:352]...)
	for i := 1; i <= 3; i++ {
		binary.LittleEndian.PutUint16(huge[40+2*i:], 32767)
	}
	var gz bytes.Buffer
	z := gzip.NewWriter(&gz)
	z.Write(good)
	z.Write(make([]byte, 4<<20)) // far more than its 60 voxels need
	z.Close()
	var trunc bytes.Buffer
	z = gzip.NewWriter(&trunc)
	z.Write(good)
	z.Close()
	return map[string][]byte{
		"truncated":          good[:400],
		"huge header":        huge,
		"inflates too far":   gz.Bytes(),
		"truncated gzip":     trunc.Bytes()[:trunc.Len()-30],
		"header only":        good[:200],
		"garbage after DICM": append(make([]byte, 128), []byte("DICMxxxx")...),
	}
}

func TestSegmentHostileMedical(t *testing.T) {
	f := &fake{}
	ts, _ := newTest(t, f, BatchConfig{}, Config{})
	dcm := readTestFile(t, "series/im00.dcm")
	nii := readTestFile(t, "sform_n1.nii")
	cases := map[string]hostileCase{
		"frame past the end": {dcm, []string{"frame", "3"}, 400, "frame 3 of a DICOM file with 1 frames"},
		"slice on DICOM":     {dcm, []string{"slice", "4"}, 400, `"slice" applies to NIfTI`},
		"slice out of range": {nii, []string{"slice", "2:9"}, 400, "cannot be rendered"},
		"bad window":         {nii, []string{"window", "wide"}, 400, `"window"`},
		"window on PNG":      {testPNG(t, 8, 8), []string{"window", "lung"}, 400, "DICOM and NIfTI files only"},
	}
	for name, b := range hostileNIfTI(t) {
		cases[name] = hostileCase{b, nil, 400, map[string]string{"truncated": "cannot be read", "huge header": "declares", "inflates too far": "inflates past",
			"truncated gzip": "cannot be decompressed", "header only": "", "garbage after DICM": "DICOM"}[name]}
	}
	postHostile(t, ts.URL+"/v1/segment", "image", cases)
	if len(f.sizes()) != 0 {
		t.Fatalf("hostile inputs reached the model: %v", f.sizes())
	}
}

// hostileCase is a file posted with extra form fields and the answer it must get.
type hostileCase struct {
	file   []byte
	fields []string
	status int
	msg    string
}

// postHostile posts each case's file as the form field named field (with a question) and
// checks the status and that the error message holds the case's words.
func postHostile(t *testing.T, url, field string, cases map[string]hostileCase) {
	t.Helper()
	for name, c := range cases {
		body, ct := formBody(t, field, c.file, append([]string{"question", "Where?"}, c.fields...)...)
		resp := post(t, url, body, ct)
		var e apiError
		json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode != c.status || !strings.Contains(e.Error.Message, c.msg) {
			t.Errorf("%s: %d %q, want %d mentioning %q", name, resp.StatusCode, e.Error.Message, c.status, c.msg)
		}
	}
}

// TestSegmentVolume posts NIfTI volumes (multipart and JSON) and checks the returned mask
// against volpredict.Predict run locally with the same predictor: same grid, same voxels.
func TestSegmentVolume(t *testing.T) {
	for _, name := range []string{"qform_n1.nii.gz", "sform_n1.nii"} {
		for _, asJSON := range []bool{false, true} {
			f := &fake{}
			ts, _ := newTest(t, f, BatchConfig{}, Config{})
			raw := readTestFile(t, name)
			var resp *http.Response
			if asJSON {
				resp = post(t, ts.URL+"/v1/segment-volume", strings.NewReader(`{"volume":"`+base64.StdEncoding.EncodeToString(raw)+`","question":"Where?","plane":"coronal","window":"minmax"}`), "application/json")
			} else {
				body, ct := formBody(t, "volume", raw, "question", "Where?", "plane", "coronal", "window", "minmax")
				resp = post(t, ts.URL+"/v1/segment-volume", body, ct)
			}
			var out VolumeResponse
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("%s: %d %s", name, resp.StatusCode, b)
			}
			if err := json.Unmarshal(b, &out); err != nil {
				t.Fatal(err)
			}
			z, err := gzip.NewReader(bytes.NewReader(out.MaskNIfTI))
			if err != nil {
				t.Fatal(err)
			}
			nb, err := io.ReadAll(z)
			if err != nil {
				t.Fatal(err)
			}
			got, err := volume.ParseNIfTI(nb)
			if err != nil {
				t.Fatal(err)
			}
			src, err := volume.ReadNIfTI(filepath.Join(volumeData, name))
			if err != nil {
				t.Fatal(err)
			}
			want, sum, err := volpredict.Predict(context.Background(), &fake{}, src, "Where?", volpredict.Options{Plane: volume.Coronal, Window: window.MinMaxWindow()})
			if err != nil {
				t.Fatal(err)
			}
			if err := src.SameGrid(got, 1e-5); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			for i := range want.Data {
				if got.Data[i] != want.Data[i] {
					t.Fatalf("%s: voxel %d = %v, want %v", name, i, got.Data[i], want.Data[i])
				}
			}
			if out.Summary == nil || out.Summary.Voxels != sum.Voxels || out.Summary.Plane != "coronal" || sum.Voxels == 0 {
				t.Fatalf("%s: summary %+v, want %d voxels", name, out.Summary, sum.Voxels)
			}
		}
	}
}

func TestSegmentVolumeHostile(t *testing.T) {
	f := &fake{}
	ts, _ := newTest(t, f, BatchConfig{}, Config{MaxVolumeBody: 1 << 20})
	cases := map[string]hostileCase{
		"DICOM file":  {readTestFile(t, "series/im00.dcm"), nil, 400, "takes a NIfTI file"},
		"PNG":         {testPNG(t, 8, 8), nil, 400, "not a single-file NIfTI"},
		"frame field": {readTestFile(t, "sform_n1.nii"), []string{"frame", "1"}, 400, "belong to /v1/segment"},
		"bad plane":   {readTestFile(t, "sform_n1.nii"), []string{"plane", "oblique"}, 400, `"plane"`},
		"too large":   {make([]byte, 2<<20), nil, 413, "larger than 1048576 bytes"},
	}
	for name, b := range hostileNIfTI(t) {
		if name == "garbage after DICM" {
			continue
		}
		cases[name] = hostileCase{b, nil, 400, map[string]string{"truncated": "cannot be read", "huge header": "declares", "inflates too far": "inflates past",
			"truncated gzip": "cannot be decompressed", "header only": "cannot be read"}[name]}
	}
	postHostile(t, ts.URL+"/v1/segment-volume", "volume", cases)
	if len(f.sizes()) != 0 {
		t.Fatalf("hostile volumes reached the model: %v", f.sizes())
	}
}

// startVolume posts a volume in the background and returns once the model holds its
// first batch; the channel then yields the response status (0 when the request failed).
func startVolume(t *testing.T, url string, raw []byte, f *fake) <-chan int {
	t.Helper()
	body, ct := formBody(t, "volume", raw, "question", "Where?")
	done := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("POST", url+"/v1/segment-volume", body)
		req.Header.Set("Content-Type", ct)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	for len(f.sizes()) == 0 {
		time.Sleep(time.Millisecond)
	}
	return done
}

// TestSegmentVolumeBusy: while a volume runs, a second one is refused at once with 503.
func TestSegmentVolumeBusy(t *testing.T) {
	f := &fake{block: make(chan struct{})}
	ts, _ := newTest(t, f, BatchConfig{}, Config{})
	raw := readTestFile(t, "sform_n1.nii")
	done := startVolume(t, ts.URL, raw, f)
	body, ct := formBody(t, "volume", raw, "question", "Where?")
	resp := post(t, ts.URL+"/v1/segment-volume", body, ct)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("second volume: %d, want 503", resp.StatusCode)
	}
	close(f.block)
	if code := <-done; code != 200 {
		t.Fatalf("first volume: %d", code)
	}
}

// TestStopVolumes: StopVolumes cancels a running volume (answered 503), returns once it
// has stopped, and refuses later volumes.
func TestStopVolumes(t *testing.T) {
	f := &fake{block: make(chan struct{})}
	b, err := NewBatcher(f, BatchConfig{MaxBatch: 4, MaxWait: time.Millisecond, Queue: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(context.Background())
	srv := New(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, b)
	ts := httptest.NewServer(srv)
	defer ts.Close()
	raw := readTestFile(t, "sform_n1.nii")
	done := startVolume(t, ts.URL, raw, f)
	srv.StopVolumes() // returns only after the running volume gave its slot back
	if code := <-done; code != http.StatusServiceUnavailable {
		t.Fatalf("stopped volume: %d, want 503", code)
	}
	if n := len(f.sizes()); n != 1 {
		t.Fatalf("%d batches ran, want the one that was cancelled", n)
	}
	body, ct := formBody(t, "volume", raw, "question", "Where?")
	resp := post(t, ts.URL+"/v1/segment-volume", body, ct)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("volume after StopVolumes: %d, want 503", resp.StatusCode)
	}
}
