package main

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"image"
	"image/color"
	"image/png"
	"io"
	"math/big"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prsmed/prsmed-go/examples/serve/internal/server"
	"github.com/prsmed/prsmed-go/internal/gocmd"
	"github.com/prsmed/prsmed-go/prsmed/prsmedtest"
)

func TestUsage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the program")
	}
	bin := gocmd.BuildTest(t, ".")
	out, err := exec.Command(bin, "-h").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "POST /v1/segment") || !strings.Contains(string(out), "-max-batch") {
		t.Errorf("-h: %v\n%s", err, out)
	}
	for _, args := range [][]string{
		{},
		{"-checkpoint", "x", "-max-batch", "0"},
		{"-checkpoint", "x", "-max-decodes", "0"},
		{"-checkpoint", "x", "-tls-cert", "c.pem"},
		{"-checkpoint", "x", "-addr", "nocolon"},
		{"-checkpoint", "x", "-log-format", "xml"},
		{"-checkpoint", "x", "extra"},
		{"-nosuchflag"},
	} {
		cmd := exec.Command(bin, args...)
		out, err := cmd.CombinedOutput()
		if cmd.ProcessState.ExitCode() != 2 || strings.Count(strings.TrimSpace(string(out)), "\n") > 0 || !strings.HasPrefix(string(out), "serve: ") {
			t.Errorf("%v: exit %v, output %q; want exit 2 and one line", args, err, out)
		}
	}
	// A missing checkpoint is a runtime error (exit 1) in one line.
	cmd := exec.Command(bin, "-checkpoint", filepath.Join(t.TempDir(), "none"), "-addr", "127.0.0.1:0")
	out, _ = cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != 1 || !strings.Contains(string(out), "serve: ") || !strings.Contains(string(out), "config.json") {
		t.Errorf("missing checkpoint: exit %d, %q", cmd.ProcessState.ExitCode(), out)
	}
}

// startServe runs the program and returns its base URL once it listens.
func startServe(t *testing.T, bin string, args ...string) (string, *exec.Cmd, *syncBuf) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"-addr", "127.0.0.1:0"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	logs := &syncBuf{}
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logs.add(sc.Text())
			var line struct{ Msg, URL string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				urlc <- strings.TrimSuffix(line.URL, "/")
			}
		}
		close(urlc)
	}()
	select {
	case u, ok := <-urlc:
		if !ok {
			t.Fatalf("the server exited:\n%s", logs)
		}
		return u, cmd, logs
	case <-time.After(2 * time.Minute):
		t.Fatalf("the server did not start:\n%s", logs)
	}
	return "", nil, nil
}

// scanPNG is a 48×40 image with a bright disc in its top left.
func scanPNG(t *testing.T) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 48, 40))
	for y := 0; y < 40; y++ {
		for x := 0; x < 48; x++ {
			v := uint8(40 + x)
			if (x-12)*(x-12)+(y-10)*(y-10) < 49 {
				v = 230
			}
			img.SetRGBA(x, y, color.RGBA{v, v, v, 255})
		}
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	return b.Bytes()
}

// TestEndToEnd runs the real program on a tiny random-weight bundle: concurrent multipart
// requests are answered with masks of the image's size, /v1/model describes the model,
// and SIGTERM stops the server cleanly.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the program and runs the tiny model")
	}
	bin := gocmd.BuildTest(t, ".")
	ckpt := prsmedtest.TinyBundle(t, 5)
	tokFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokFile, []byte("0123456789abcdef-test\n"), 0o600)
	certFile, keyFile, client := selfSigned(t)
	url, cmd, logs := startServe(t, bin, "-checkpoint", ckpt, "-token-file", tokFile, "-tls-cert", certFile, "-tls-key", keyFile,
		"-max-batch", "4", "-max-wait", "50ms", "-threads", "1")
	if !strings.HasPrefix(url, "https://127.0.0.1:") {
		t.Fatalf("listening on %s, want https on the loopback address", url)
	}
	img := scanPNG(t)

	req := func() (*http.Response, []byte) {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		mw.WriteField("question", "Where is the tumour in this image?")
		fw, _ := mw.CreateFormFile("image", "scan.png")
		fw.Write(img)
		mw.Close()
		r, _ := http.NewRequest("POST", url+"/v1/segment", &body)
		r.Header.Set("Content-Type", mw.FormDataContentType())
		r.Header.Set("Authorization", "Bearer 0123456789abcdef-test")
		resp, err := client.Do(r)
		if err != nil {
			t.Error(err)
			return nil, nil
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp, raw
	}
	var wg sync.WaitGroup
	batches := make([]int, 4)
	for i := range 4 {
		wg.Go(func() {
			resp, raw := req()
			if resp == nil {
				return
			}
			var r server.SegmentResponse
			if resp.StatusCode != 200 || json.Unmarshal(raw, &r) != nil {
				t.Errorf("status %d: %s", resp.StatusCode, raw)
				return
			}
			m, err := png.Decode(bytes.NewReader(r.MaskPNG))
			if err != nil || m.Bounds().Dx() != 48 || m.Bounds().Dy() != 40 || r.Width != 48 || r.Height != 40 {
				t.Errorf("mask %v (%v), size %d×%d; want 48×40", m.Bounds(), err, r.Width, r.Height)
			}
			if r.Answer == "" || r.TimingMS["model"] <= 0 {
				t.Errorf("response %+v", r)
			}
			batches[i] = r.BatchSize
		})
	}
	wg.Wait()
	t.Logf("batch sizes seen by the 4 requests: %v", batches)

	r, _ := http.NewRequest("GET", url+"/v1/model", nil)
	r.Header.Set("Authorization", "Bearer 0123456789abcdef-test")
	resp, err := client.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	var info server.ModelInfo
	json.NewDecoder(resp.Body).Decode(&info)
	resp.Body.Close()
	if info.Preset != "tiny" || info.ImageSize != 64 || info.Device != "cpu" || info.DType != "float32" || len(info.Tokenizer) != 64 || info.Batching.MaxBatch != 4 {
		t.Errorf("/v1/model: %+v", info)
	}
	// Without the token: 401.
	resp, err = client.Post(url+"/v1/segment", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("no token: %d, want 401", resp.StatusCode)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v\n%s", err, logs)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no exit 30 s after SIGTERM")
	}
	if !strings.Contains(logs.String(), `"msg":"stopped"`) || strings.Contains(logs.String(), "Where is the tumour") {
		t.Errorf("logs:\n%s", logs)
	}
}

// syncBuf collects log lines from a goroutine.
type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuf) add(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.WriteString(line + "\n")
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns a client that
// trusts it.
func selfSigned(t *testing.T) (certFile, keyFile string, client *http.Client) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "prsmed test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}
