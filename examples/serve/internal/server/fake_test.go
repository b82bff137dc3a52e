package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prsmed/prsmed-go/prsmed"
	"github.com/prsmed/prsmed-go/zones"
)

// fake is a Predictor whose mask is the image's left half and whose answer names the top
// left. It records batch sizes and can be slowed, blocked or made to panic.
type fake struct {
	mu      sync.Mutex
	batches []int
	delay   time.Duration
	block   chan struct{} // when set, each batch waits on it or on its context
	panic   bool
	failOn  string  // a batch holding this question fails
	ctxErr  []error // the context's error after each blocked batch
	images  []image.Image
}

func (f *fake) PredictBatch(ctx context.Context, imgs []image.Image, qs []string) ([]*prsmed.Prediction, error) {
	f.mu.Lock()
	f.batches = append(f.batches, len(imgs))
	f.images = append(f.images, imgs...)
	block, delay, pan := f.block, f.delay, f.panic
	f.mu.Unlock()
	if pan {
		panic("fake model failure")
	}
	for _, q := range qs {
		if f.failOn != "" && q == f.failOn {
			return nil, errors.New("fake failure on a poisoned question")
		}
	}
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			f.mu.Lock()
			f.ctxErr = append(f.ctxErr, ctx.Err())
			f.mu.Unlock()
			return nil, ctx.Err()
		}
	}
	time.Sleep(delay)
	var out []*prsmed.Prediction
	for _, img := range imgs {
		b := img.Bounds()
		g := image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()))
		prob := make([]float32, b.Dx()*b.Dy())
		for y := 0; y < b.Dy(); y++ {
			for x := 0; x < b.Dx()/2; x++ {
				g.Pix[y*g.Stride+x] = 255
				prob[y*b.Dx()+x] = 1
			}
		}
		out = append(out, &prsmed.Prediction{Mask: g, Prob: prob, Answer: "The lesion is in the top left of the image.", Zone: zones.TopLeft, Named: true})
	}
	return out, nil
}

func (f *fake) sizes() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]int(nil), f.batches...)
}

// testPNG is a w×h grey gradient.
func testPNG(t testing.TB, w, h int) []byte {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 13)
	}
	img.SetGray(0, 0, color.Gray{7})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// newTest starts a server with f behind a batcher.
func newTest(t *testing.T, f Predictor, bc BatchConfig, cfg Config) (*httptest.Server, *Batcher) {
	t.Helper()
	if bc.MaxBatch == 0 {
		bc = BatchConfig{MaxBatch: 4, MaxWait: 5 * time.Millisecond, Queue: 16}
	}
	b, err := NewBatcher(f, bc)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	ts := httptest.NewServer(New(cfg, b))
	t.Cleanup(func() {
		ts.Close()
		b.Close(context.Background())
	})
	return ts, b
}

// multipartBody builds a form with an image and a question.
func multipartBody(t testing.TB, img []byte, question string) (io.Reader, string) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	if question != "\x00omit" {
		mw.WriteField("question", question)
	}
	if img != nil {
		fw, err := mw.CreateFormFile("image", "scan.png")
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(img)
	}
	mw.Close()
	return &b, mw.FormDataContentType()
}

func jsonBody(img []byte, question string) string {
	return `{"image":"` + base64.StdEncoding.EncodeToString(img) + `","question":"` + question + `"}`
}

func post(t testing.TB, url string, body io.Reader, ct string, hdr ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest("POST", url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ct)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func listenLoopback() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }
