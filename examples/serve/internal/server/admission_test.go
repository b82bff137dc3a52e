package server

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"io"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The load tests send images in a format registered here, so that they can count the
// decodes the server starts and how many run at once. A "big" image is the magic, then
// width and height (uint32, big endian); decoding it allocates a real RGBA image of that
// size (4 bytes a pixel) after a pause that lets concurrent decodes overlap.
const bigMagic = "PRSMED-BIG-IMAGE"

var bigDecodes struct {
	started, inFlight, peak atomic.Int64
	pause                   atomic.Int64 // nanoseconds
}

func init() {
	image.RegisterFormat("prsmedbig", bigMagic, decodeBig, decodeBigConfig)
}

func decodeBigConfig(r io.Reader) (image.Config, error) {
	var hdr [len(bigMagic) + 8]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return image.Config{}, err
	}
	w := binary.BigEndian.Uint32(hdr[len(bigMagic):])
	h := binary.BigEndian.Uint32(hdr[len(bigMagic)+4:])
	if w > 1<<14 || h > 1<<14 {
		return image.Config{}, errors.New("big test image: too large")
	}
	return image.Config{ColorModel: color.RGBAModel, Width: int(w), Height: int(h)}, nil
}

func decodeBig(r io.Reader) (image.Image, error) {
	cfg, err := decodeBigConfig(r)
	if err != nil {
		return nil, err
	}
	bigDecodes.started.Add(1)
	n := bigDecodes.inFlight.Add(1)
	defer bigDecodes.inFlight.Add(-1)
	for {
		p := bigDecodes.peak.Load()
		if n <= p || bigDecodes.peak.CompareAndSwap(p, n) {
			break
		}
	}
	time.Sleep(time.Duration(bigDecodes.pause.Load()))
	img := image.NewRGBA(image.Rect(0, 0, cfg.Width, cfg.Height))
	for i := 0; i < len(img.Pix); i += 4096 {
		img.Pix[i] = 1 // touch every page, as a real decoder writes every pixel
	}
	return img, nil
}

func bigImage(w, h int) []byte {
	b := []byte(bigMagic)
	b = binary.BigEndian.AppendUint32(b, uint32(w))
	return binary.BigEndian.AppendUint32(b, uint32(h))
}

func resetBigDecodes(pause time.Duration) {
	bigDecodes.started.Store(0)
	bigDecodes.inFlight.Store(0)
	bigDecodes.peak.Store(0)
	bigDecodes.pause.Store(int64(pause))
}

func totalAlloc() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.TotalAlloc
}

// TestFullQueueRefusesBeforeDecoding is a load test: with the model busy and the queue
// full, a burst of requests carrying 16-megabyte images is answered 503 without one of
// them being decoded, and allocates far less than one decoded image in all.
func TestFullQueueRefusesBeforeDecoding(t *testing.T) {
	resetBigDecodes(0)
	const w, h, burst = 2048, 2048, 16
	const imageBytes = 4 * w * h
	f := &fake{block: make(chan struct{})}
	ts, b := newTest(t, f, BatchConfig{MaxBatch: 1, MaxWait: 0, Queue: 2}, Config{})
	img := bigImage(w, h)
	body := jsonBody(img, "Where?")
	var wg sync.WaitGroup
	admitted := make([]int, 3)
	for i := range admitted {
		wg.Go(func() {
			resp := post(t, ts.URL+"/v1/segment", strings.NewReader(body), "application/json")
			admitted[i] = resp.StatusCode
			resp.Body.Close()
		})
		// The first in the model, then two in the queue.
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			if (i == 0 && len(f.sizes()) == 1) || (i > 0 && b.QueueLen() == i && int(bigDecodes.started.Load()) == i+1 && bigDecodes.inFlight.Load() == 0) {
				break
			}
		}
	}
	if n := bigDecodes.started.Load(); n != 3 {
		t.Fatalf("%d decodes for the 3 admitted requests", n)
	}

	before := totalAlloc()
	codes := make([]int, burst)
	var bwg sync.WaitGroup
	for i := range codes {
		bwg.Go(func() {
			resp := post(t, ts.URL+"/v1/segment", strings.NewReader(body), "application/json")
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			codes[i] = resp.StatusCode
			if resp.StatusCode != 503 || !bytes.Contains(raw, []byte("overloaded")) || resp.Header.Get("Retry-After") == "" {
				t.Errorf("request %d to a full queue: %d %s, want 503 overloaded with Retry-After", i, resp.StatusCode, raw)
			}
		})
	}
	bwg.Wait()
	alloc := totalAlloc() - before
	if n := bigDecodes.started.Load() - 3; n != 0 {
		t.Errorf("%d of %d refused requests had their image decoded first, want none", n, burst)
	}
	t.Logf("the burst of %d refused requests allocated %.1f MB in all (one decoded image: %.1f MB)", burst, float64(alloc)/1e6, float64(imageBytes)/1e6)
	if alloc > imageBytes {
		t.Errorf("the burst of %d refused requests allocated %d bytes, more than one decoded image (%d)", burst, alloc, imageBytes)
	}

	close(f.block)
	wg.Wait()
	for i, c := range admitted {
		if c != 200 {
			t.Errorf("admitted request %d got %d, want 200", i, c)
		}
	}
	if n := b.QueueLen(); n != 0 {
		t.Errorf("%d admissions still held after every request finished", n)
	}
}

// TestDecodesInFlightBounded: admitted requests decode at most MaxDecodes images at once,
// and a request whose image fails to decode gives its place in the queue back.
func TestDecodesInFlightBounded(t *testing.T) {
	resetBigDecodes(40 * time.Millisecond)
	const n, maxDecodes = 8, 2
	f := &fake{}
	ts, b := newTest(t, f, BatchConfig{MaxBatch: n, MaxWait: 20 * time.Millisecond, Queue: n}, Config{MaxDecodes: maxDecodes})
	body := jsonBody(bigImage(256, 256), "Where?")
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range codes {
		wg.Go(func() {
			resp := post(t, ts.URL+"/v1/segment", strings.NewReader(body), "application/json")
			codes[i] = resp.StatusCode
			resp.Body.Close()
		})
	}
	wg.Wait()
	for i, c := range codes {
		if c != 200 {
			t.Errorf("request %d: %d, want 200", i, c)
		}
	}
	if s, p := bigDecodes.started.Load(), bigDecodes.peak.Load(); s != n || p > maxDecodes || p < 1 {
		t.Errorf("%d decodes, at most %d at once; want %d, at most %d", s, p, n, maxDecodes)
	}

	// A broken image: 400, and the queue slot is free again.
	resp := post(t, ts.URL+"/v1/segment", strings.NewReader(jsonBody([]byte(bigMagic+"\x00"), "Where?")), "application/json")
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("a truncated image: %d, want 400", resp.StatusCode)
	}
	if q := b.QueueLen(); q != 0 {
		t.Errorf("%d queue places held after every request finished, want 0", q)
	}
}
