package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func decodeSegment(t *testing.T, resp *http.Response) SegmentResponse {
	t.Helper()
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var r SegmentResponse
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	return r
}

func TestSegment(t *testing.T) {
	ts, _ := newTest(t, &fake{}, BatchConfig{}, Config{})
	img := testPNG(t, 30, 20)
	check := func(name string, r SegmentResponse) {
		t.Helper()
		if r.Answer != "The lesion is in the top left of the image." || r.Zone == nil || *r.Zone != "top left" || !r.ZoneNamed ||
			r.Width != 30 || r.Height != 20 || r.BatchSize != 1 || r.RequestID == "" || r.TimingMS["total"] <= 0 {
			t.Errorf("%s: %+v", name, r)
		}
		m, err := png.Decode(bytes.NewReader(r.MaskPNG))
		if err != nil {
			t.Fatalf("%s: mask: %v", name, err)
		}
		if b := m.Bounds(); b.Dx() != 30 || b.Dy() != 20 {
			t.Errorf("%s: mask is %v", name, b)
		}
		if r, _, _, _ := m.At(3, 3).RGBA(); r>>8 != 255 {
			t.Errorf("%s: mask at (3,3) is %d, want 255 (left half)", name, r>>8)
		}
		if r, _, _, _ := m.At(20, 3).RGBA(); r != 0 {
			t.Errorf("%s: mask at (20,3) is %d, want 0", name, r)
		}
	}
	body, ct := multipartBody(t, img, "Where is the tumour?")
	check("multipart", decodeSegment(t, post(t, ts.URL+"/v1/segment", body, ct)))
	check("json", decodeSegment(t, post(t, ts.URL+"/v1/segment", strings.NewReader(jsonBody(img, "Where?")), "application/json")))
	dataURL := `{"image":"data:image/png;base64,` + base64.StdEncoding.EncodeToString(img) + `","question":"Where?"}`
	check("data URL", decodeSegment(t, post(t, ts.URL+"/v1/segment", strings.NewReader(dataURL), "application/json; charset=utf-8")))

	body, ct = multipartBody(t, img, "Where is the tumour?")
	resp := post(t, ts.URL+"/v1/segment?format=png", body, ct)
	defer resp.Body.Close()
	m, err := png.Decode(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" || err != nil || m.Bounds().Dx() != 30 ||
		resp.Header.Get("X-Zone") != "top left" || !strings.Contains(resp.Header.Get("X-Answer"), "top%20left") {
		t.Errorf("?format=png: status %d, headers %v, err %v", resp.StatusCode, resp.Header, err)
	}
}

func TestBadInput(t *testing.T) {
	ts, _ := newTest(t, &fake{}, BatchConfig{}, Config{MaxBody: 64 << 10, MaxPixels: 100 * 100, MaxQuestion: 20})
	img := testPNG(t, 30, 20)
	mp := func(img []byte, q string) (io.Reader, string) { return multipartBody(t, img, q) }
	js := func(s string) (io.Reader, string) { return strings.NewReader(s), "application/json" }
	tests := []struct {
		name   string
		body   func() (io.Reader, string)
		status int
		code   string
		msg    string
	}{
		{"wrong content type", func() (io.Reader, string) { return strings.NewReader("x"), "text/plain" }, 415, "content_type", "multipart/form-data"},
		{"no content type", func() (io.Reader, string) { return strings.NewReader("x"), "" }, 415, "content_type", "Content-Type"},
		{"invalid JSON", func() (io.Reader, string) { return js(`{"image":`) }, 400, "json", "invalid"},
		{"unknown JSON field", func() (io.Reader, string) { return js(`{"img":"x","question":"q"}`) }, 400, "json", "img"},
		{"no image in JSON", func() (io.Reader, string) { return js(`{"question":"q"}`) }, 400, "image", `no "image"`},
		{"bad base64", func() (io.Reader, string) { return js(`{"image":"@@@","question":"q"}`) }, 400, "image", "base64"},
		{"no image in form", func() (io.Reader, string) { return mp(nil, "Where?") }, 400, "image", `no "image"`},
		{"no question in form", func() (io.Reader, string) { return mp(img, "\x00omit") }, 400, "question", `no "question"`},
		{"empty question", func() (io.Reader, string) { return mp(img, "   ") }, 400, "question", "empty"},
		{"long question", func() (io.Reader, string) { return mp(img, strings.Repeat("é", 21)) }, 400, "question", "21 characters; the limit is 20"},
		{"invalid UTF-8", func() (io.Reader, string) { return mp(img, "where\xff") }, 400, "question", "UTF-8"},
		{"empty image", func() (io.Reader, string) { return mp([]byte{}, "Where?") }, 400, "image", "empty"},
		{"unsupported format", func() (io.Reader, string) { return mp([]byte("GIF89a\x01\x00\x01\x00"), "Where?") }, 400, "image_format", "not supported"},
		{"undecodable PNG", func() (io.Reader, string) { return mp(img[:40], "Where?") }, 400, "image", "cannot be decoded"},
		{"too many pixels", func() (io.Reader, string) { return mp(testPNG(t, 101, 100), "Where?") }, 400, "image_too_large", "10100 pixels; the limit is 10000"},
		{"body too large", func() (io.Reader, string) { return mp(bytes.Repeat([]byte{1}, 70<<10), "Where?") }, 413, "too_large", "65536 bytes"},
		{"JSON too large", func() (io.Reader, string) { return js(`{"image":"` + strings.Repeat("A", 70<<10) + `"}`) }, 413, "too_large", "larger"},
	}
	for _, tt := range tests {
		body, ct := tt.body()
		resp := post(t, ts.URL+"/v1/segment", body, ct)
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var e apiError
		json.Unmarshal(raw, &e)
		if resp.StatusCode != tt.status || e.Error.Code != tt.code || !strings.Contains(e.Error.Message, tt.msg) ||
			resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: %d %s; want %d with code %q mentioning %q", tt.name, resp.StatusCode, raw, tt.status, tt.code, tt.msg)
		}
	}
}

// TestDynamicBatching: eight concurrent requests to a slow model arrive in batches of
// more than one, none larger than -max-batch.
func TestDynamicBatching(t *testing.T) {
	f := &fake{delay: 30 * time.Millisecond}
	ts, b := newTest(t, f, BatchConfig{MaxBatch: 4, MaxWait: 200 * time.Millisecond, Queue: 16}, Config{})
	img := testPNG(t, 16, 16)
	var wg sync.WaitGroup
	sizes := make([]int, 8)
	for i := range 8 {
		wg.Go(func() {
			r := decodeSegment(t, post(t, ts.URL+"/v1/segment", strings.NewReader(jsonBody(img, "Where?")), "application/json"))
			sizes[i] = r.BatchSize
		})
	}
	wg.Wait()
	total, big := 0, 0
	for _, n := range f.sizes() {
		total += n
		if n > 4 {
			t.Errorf("a batch of %d exceeds -max-batch 4", n)
		}
		big = max(big, n)
	}
	if total != 8 || big < 2 {
		t.Errorf("batches %v: want 8 requests in batches of up to 4, at least one of several", f.sizes())
	}
	if nb, nr := b.Stats(); nr != 8 || int(nb) != len(f.sizes()) {
		t.Errorf("stats: %d batches, %d requests", nb, nr)
	}
}

// TestQueueFull: with the worker busy and the queue full, a request is refused with 503
// and Retry-After at once.
func TestQueueFull(t *testing.T) {
	f := &fake{block: make(chan struct{})}
	ts, b := newTest(t, f, BatchConfig{MaxBatch: 1, MaxWait: 0, Queue: 1}, Config{})
	img := testPNG(t, 8, 8)
	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i := range 2 {
		wg.Go(func() {
			resp := post(t, ts.URL+"/v1/segment", strings.NewReader(jsonBody(img, "Where?")), "application/json")
			codes[i] = resp.StatusCode
			resp.Body.Close()
		})
		// Wait until the first is in the model and the second in the queue.
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			if (i == 0 && len(f.sizes()) == 1) || (i == 1 && b.QueueLen() == 1) {
				break
			}
		}
	}
	resp := post(t, ts.URL+"/v1/segment", strings.NewReader(jsonBody(img, "Where?")), "application/json")
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(raw), "overloaded") {
		t.Errorf("full queue: %d %v %s; want 503 with Retry-After", resp.StatusCode, resp.Header, raw)
	}
	close(f.block)
	wg.Wait()
	if codes[0] != 200 || codes[1] != 200 {
		t.Errorf("the queued requests got %v, want 200s", codes)
	}
}

// TestClientDisconnectCancels: when the only client of a running batch goes away, the
// model's context is cancelled.
func TestClientDisconnectCancels(t *testing.T) {
	f := &fake{block: make(chan struct{})}
	defer close(f.block)
	ts, _ := newTest(t, f, BatchConfig{MaxBatch: 2, MaxWait: 0, Queue: 4}, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", ts.URL+"/v1/segment", strings.NewReader(jsonBody(testPNG(t, 8, 8), "Where?")))
	req.Header.Set("Content-Type", "application/json")
	done := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	for deadline := time.Now().Add(5 * time.Second); len(f.sizes()) == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		f.mu.Lock()
		n := len(f.ctxErr)
		f.mu.Unlock()
		if n == 1 {
			return
		}
	}
	t.Fatal("the model's context was not cancelled after the client disconnected")
}

func TestTimeout(t *testing.T) {
	f := &fake{block: make(chan struct{})}
	defer close(f.block)
	ts, _ := newTest(t, f, BatchConfig{}, Config{Timeout: 50 * time.Millisecond})
	resp := post(t, ts.URL+"/v1/segment", strings.NewReader(jsonBody(testPNG(t, 8, 8), "Where?")), "application/json")
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 504 || !strings.Contains(string(raw), `"timeout"`) {
		t.Errorf("got %d %s, want 504 timeout", resp.StatusCode, raw)
	}
}

// TestPanicIsContained: a panicking model gives a 500 JSON error and the server keeps
// serving.
func TestPanicIsContained(t *testing.T) {
	f := &fake{panic: true}
	var logs bytes.Buffer
	ts, _ := newTest(t, f, BatchConfig{}, Config{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	for range 2 {
		resp := post(t, ts.URL+"/v1/segment", strings.NewReader(jsonBody(testPNG(t, 8, 8), "Where?")), "application/json")
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 500 || !strings.Contains(string(raw), `"model"`) || strings.Contains(string(raw), "fake model failure") {
			t.Errorf("got %d %s; want 500 without the panic's text", resp.StatusCode, raw)
		}
	}
	if !strings.Contains(logs.String(), "fake model failure") {
		t.Errorf("the panic is not logged: %s", logs.String())
	}
	resp, err := http.Get(ts.URL + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz after panics: %v %v", resp, err)
	}
	resp.Body.Close()
}

func TestAuth(t *testing.T) {
	ts, _ := newTest(t, &fake{}, BatchConfig{}, Config{Token: "s3cret-token"})
	img := testPNG(t, 8, 8)
	tests := []struct {
		name, path, auth string
		status           int
	}{
		{"segment without token", "/v1/segment", "", 401},
		{"segment with wrong token", "/v1/segment", "Bearer s3cret-tokeN", 401},
		{"segment with a prefix of the token", "/v1/segment", "Bearer s3cret", 401},
		{"segment with basic auth", "/v1/segment", "Basic czNjcmV0LXRva2Vu", 401},
		{"segment with token", "/v1/segment", "Bearer s3cret-token", 200},
		{"model without token", "/v1/model", "", 401},
		{"model with token", "/v1/model", "Bearer s3cret-token", 200},
		{"health needs no token", "/healthz", "", 200},
		{"page needs no token", "/", "", 200},
	}
	for _, tt := range tests {
		method, body := "GET", io.Reader(nil)
		if tt.path == "/v1/segment" {
			method, body = "POST", strings.NewReader(jsonBody(img, "Where?"))
		}
		req, _ := http.NewRequest(method, ts.URL+tt.path, body)
		req.Header.Set("Content-Type", "application/json")
		if tt.auth != "" {
			req.Header.Set("Authorization", tt.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.status || (tt.status == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer")) {
			t.Errorf("%s: %d %v, want %d", tt.name, resp.StatusCode, resp.Header, tt.status)
		}
	}
}

func TestCORS(t *testing.T) {
	get := func(ts string, origin, method string) *http.Response {
		req, _ := http.NewRequest(method, ts+"/v1/model", nil)
		req.Header.Set("Origin", origin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	closed, _ := newTest(t, &fake{}, BatchConfig{}, Config{})
	if r := get(closed.URL, "https://evil.example", "GET"); r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("CORS header without configuration: %v", r.Header)
	}
	if r := get(closed.URL, "https://evil.example", "OPTIONS"); r.StatusCode != 403 {
		t.Errorf("preflight without configuration: %d", r.StatusCode)
	}
	open, _ := newTest(t, &fake{}, BatchConfig{}, Config{CORSOrigins: []string{"https://viewer.hospital.example"}})
	if r := get(open.URL, "https://viewer.hospital.example", "OPTIONS"); r.StatusCode != 204 || r.Header.Get("Access-Control-Allow-Origin") != "https://viewer.hospital.example" {
		t.Errorf("allowed preflight: %d %v", r.StatusCode, r.Header)
	}
	if r := get(open.URL, "https://evil.example", "GET"); r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("CORS header for another origin: %v", r.Header)
	}
}

func TestStaticAndInfo(t *testing.T) {
	ts, _ := newTest(t, &fake{}, BatchConfig{MaxBatch: 6, MaxWait: 7 * time.Millisecond, Queue: 9}, Config{Info: ModelInfo{Preset: "tiny", Device: "cpu", DType: "float32"}})
	tests := []struct {
		path, contains string
		status         int
	}{
		{"/", `<canvas id="overlay"`, 200},
		{"/app.js", "v1/segment", 200},
		{"/style.css", "canvas", 200},
		{"/../server.go", "", 404},
		{"/static/index.html", "", 404},
		{"/nope.txt", "", 404},
		{"/healthz", `"status":"ok"`, 200},
		{"/v1/model", `"max_batch":6`, 200},
	}
	for _, tt := range tests {
		resp, err := http.Get(ts.URL + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status || !strings.Contains(string(raw), tt.contains) {
			t.Errorf("GET %s: %d, want %d containing %q", tt.path, resp.StatusCode, tt.status, tt.contains)
		}
		if tt.path == "/" && !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'self'") {
			t.Errorf("GET /: no CSP: %v", resp.Header)
		}
	}
	var info ModelInfo
	resp, _ := http.Get(ts.URL + "/v1/model")
	json.NewDecoder(resp.Body).Decode(&info)
	resp.Body.Close()
	if info.Preset != "tiny" || info.Batching.MaxWaitMS != 7 || info.Batching.Queue != 9 || info.Limits["max_pixels"] == nil {
		t.Errorf("/v1/model: %+v", info)
	}
}

// TestLogs: one structured line per request with its id; question text only when asked;
// image bytes never.
func TestLogs(t *testing.T) {
	img := testPNG(t, 12, 12)
	marker := base64.StdEncoding.EncodeToString(img)[20:40]
	for _, logQ := range []bool{false, true} {
		var logs bytes.Buffer
		ts, _ := newTest(t, &fake{}, BatchConfig{}, Config{LogQuestions: logQ, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
		resp := post(t, ts.URL+"/v1/segment", strings.NewReader(jsonBody(img, "Is the lesion in the left lung")), "application/json", "X-Request-Id", "abc-123")
		resp.Body.Close()
		if resp.Header.Get("X-Request-Id") != "abc-123" {
			t.Errorf("X-Request-Id %q", resp.Header.Get("X-Request-Id"))
		}
		var line map[string]any
		if err := json.Unmarshal(bytes.TrimSpace(logs.Bytes()), &line); err != nil {
			t.Fatalf("log is not one JSON line: %v\n%s", err, logs.String())
		}
		if line["id"] != "abc-123" || line["status"] != float64(200) || line["batch"] != float64(1) || line["question_chars"] != float64(30) {
			t.Errorf("log line %v", line)
		}
		if got := strings.Contains(logs.String(), "left lung"); got != logQ {
			t.Errorf("-log-questions=%v: question in log = %v", logQ, got)
		}
		if strings.Contains(logs.String(), marker) {
			t.Error("image bytes in the log")
		}
	}
}

// TestGracefulShutdown: Shutdown waits for an in-flight request, which completes.
func TestGracefulShutdown(t *testing.T) {
	f := &fake{delay: 300 * time.Millisecond}
	b, err := NewBatcher(f, BatchConfig{MaxBatch: 2, MaxWait: 0, Queue: 4})
	if err != nil {
		t.Fatal(err)
	}
	srv := New(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, b)
	hs := &http.Server{Handler: srv}
	ln, err := listenLoopback()
	if err != nil {
		t.Fatal(err)
	}
	go hs.Serve(ln)
	url := "http://" + ln.Addr().String()
	status := make(chan int, 1)
	go func() {
		resp := post(t, url+"/v1/segment", strings.NewReader(jsonBody(testPNG(t, 8, 8), "Where?")), "application/json")
		resp.Body.Close()
		status <- resp.StatusCode
	}()
	for len(f.sizes()) == 0 {
		time.Sleep(time.Millisecond)
	}
	srv.Drain()
	if err := hs.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := <-status; s != 200 {
		t.Errorf("in-flight request got %d during shutdown, want 200", s)
	}
	if _, err := b.Submit(context.Background(), nil, "q"); err != ErrClosed {
		t.Errorf("Submit after Close: %v, want ErrClosed", err)
	}
}

// TestBadRequestDoesNotFailItsBatch: when a batch fails, its requests are retried one by
// one, so only the request that makes the model fail gets the error.
func TestBadRequestDoesNotFailItsBatch(t *testing.T) {
	f := &fake{failOn: "poison", delay: 20 * time.Millisecond}
	ts, _ := newTest(t, f, BatchConfig{MaxBatch: 4, MaxWait: 100 * time.Millisecond, Queue: 8}, Config{})
	img := testPNG(t, 8, 8)
	codes := make([]int, 4)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			q := "Where?"
			if i == 2 {
				q = "poison"
			}
			resp := post(t, ts.URL+"/v1/segment", strings.NewReader(jsonBody(img, q)), "application/json")
			resp.Body.Close()
			codes[i] = resp.StatusCode
		})
	}
	wg.Wait()
	if codes[0] != 200 || codes[1] != 200 || codes[2] != 500 || codes[3] != 200 {
		t.Errorf("status codes %v, want [200 200 500 200]", codes)
	}
	if s := f.sizes(); len(s) < 2 || s[0] < 2 {
		t.Errorf("batches %v: want a failed batch of several, then single retries", s)
	}
}
