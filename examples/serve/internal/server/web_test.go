package server

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"image/png"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

// pageScript uploads an image through the page's own form (a File put into the file
// input with a DataTransfer, the way a user's choice arrives), submits it, waits for the
// page to finish and reports what it shows. %q is replaced by the image as base64 (or ""
// to draw a 64×48 test image on a canvas), QUESTION by the question.
const pageScript = `(async () => {
  const b64 = %q;
  let blob;
  if (b64) {
    const bin = atob(b64), u = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) u[i] = bin.charCodeAt(i);
    blob = new Blob([u], {type: "image/png"});
  } else {
    const c = document.createElement("canvas");
    c.width = 64; c.height = 48;
    const g = c.getContext("2d");
    g.fillStyle = "#606060"; g.fillRect(0, 0, 64, 48);
    g.fillStyle = "#e0e0e0"; g.beginPath(); g.arc(16, 12, 7, 0, 2 * Math.PI); g.fill();
    blob = await new Promise((r) => c.toBlob(r, "image/png"));
  }
  const dt = new DataTransfer();
  dt.items.add(new File([blob], "scan.png", {type: "image/png"}));
  document.getElementById("file").files = dt.files;
  document.getElementById("question").value = QUESTION;
  document.getElementById("form").requestSubmit();
  for (let i = 0; i < 1200 && !document.body.dataset.state; i++) await new Promise((r) => setTimeout(r, 50));
  const ov = document.getElementById("overlay");
  const px = (x, y) => ov.width ? Array.from(ov.getContext("2d").getImageData(x, y, 1, 1).data) : [];
  return {
    state: document.body.dataset.state || "",
    answer: document.getElementById("answer").textContent,
    zone: document.getElementById("zone").textContent,
    error: document.getElementById("error").textContent,
    resultHidden: getComputedStyle(document.getElementById("result")).display === "none",
    tokenShown: getComputedStyle(document.getElementById("token-row")).display !== "none",
    width: ov.width, height: ov.height,
    foreground: Number(ov.dataset.foreground || -1),
    left: px(5, 40), right: px(50, 40),
  };
})()`

type pageResult struct {
	State, Answer, Zone, Error string
	ResultHidden, TokenShown   bool
	Width, Height, Foreground  int
	Left, Right                []int
}

// TestWebPage drives the embedded page in a real headless Chromium: it uploads an image,
// and checks that the answer, the zone and the overlay (the fake model's mask, the left
// half, tinted red) appear. It skips when Chromium is not installed.
//
// PRSMED_WEB_URL points it at a running server instead of a fake-model one (then only the
// answer and overlay's presence are checked), PRSMED_WEB_IMAGE names the PNG to upload,
// PRSMED_WEB_QUESTION the question, and PRSMED_SCREENSHOT saves a screenshot of the page (how docs/serve.png is made).
func TestWebPage(t *testing.T) {
	bin := findChromium()
	if bin == "" && os.Getenv("PRSMED_REQUIRE_CHROMIUM") != "" {
		t.Fatal("PRSMED_REQUIRE_CHROMIUM is set but chromium is not installed (third_party/chromium/install.sh)")
	}
	if bin == "" {
		t.Skip("chromium is not installed (Debian: apt-get install chromium); the web page test needs a real browser")
	}
	url := os.Getenv("PRSMED_WEB_URL")
	external := url != ""
	if !external {
		b, err := NewBatcher(&fake{}, BatchConfig{MaxBatch: 4, Queue: 8})
		if err != nil {
			t.Fatal(err)
		}
		ts := httptest.NewServer(New(Config{Info: ModelInfo{Preset: "fake", ImageSize: 64, Device: "cpu", DType: "float32"}}, b))
		defer ts.Close()
		url = ts.URL
	}
	var img string
	if p := os.Getenv("PRSMED_WEB_IMAGE"); p != "" {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		img = base64.StdEncoding.EncodeToString(raw)
	}

	br := startBrowser(t, bin)
	if err := br.call("Emulation.setDeviceMetricsOverride", map[string]any{"width": 1000, "height": 720, "deviceScaleFactor": 1, "mobile": false}, nil); err != nil {
		t.Fatal(err)
	}
	if err := br.call("Page.navigate", map[string]any{"url": url + "/"}, nil); err != nil {
		t.Fatal(err)
	}
	var ready bool
	for i := 0; i < 200 && !ready; i++ {
		if err := br.eval(`document.readyState === "complete" && !!document.getElementById("form") && document.getElementById("model").textContent !== ""`, &ready); err != nil {
			t.Fatal(err)
		}
	}
	if !ready {
		t.Fatal("the page did not load")
	}
	var r pageResult
	question := "Where is the tumour in this image?"
	if q := os.Getenv("PRSMED_WEB_QUESTION"); q != "" {
		question = q
	}
	qj, _ := json.Marshal(question)
	script := strings.Replace(strings.Replace(pageScript, "%q", jsString(img), 1), "QUESTION", string(qj), 1)
	if err := br.eval(script, &r); err != nil {
		t.Fatal(err)
	}
	t.Logf("page shows: %+v", r)
	if r.State != "done" || r.Error != "" || r.ResultHidden || r.Answer == "" || r.Width == 0 || r.Foreground < 0 {
		t.Fatalf("the page did not show a result: %+v", r)
	}
	if !external && r.TokenShown {
		t.Error("the access token field is shown although the server wants no token")
	}
	if !external && img == "" {
		if r.Answer != "The lesion is in the top left of the image." || r.Zone != "top left" || r.Width != 64 || r.Height != 48 {
			t.Errorf("answer %q zone %q overlay %d×%d; want the fake's answer, top left, 64×48", r.Answer, r.Zone, r.Width, r.Height)
		}
		if r.Foreground != 32*48 {
			t.Errorf("the overlay tints %d pixels, want the mask's %d (the left half)", r.Foreground, 32*48)
		}
		// Grey 0x60 tinted: red (0x60+255)/2 = 175, green 0x60/2 = 48; the right half keeps its grey.
		if len(r.Left) != 4 || len(r.Right) != 4 || r.Left[0] != 175 || r.Left[1] != 48 || r.Right[0] != 0x60 || r.Right[1] != 0x60 {
			t.Errorf("overlay pixels: left %v, right %v; want [175 48 48 255] and [96 96 96 255]", r.Left, r.Right)
		}
	}
	var shot struct{ Data string }
	if err := br.call("Page.captureScreenshot", map[string]any{"format": "png"}, &shot); err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(shot.Data)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(bytes.NewReader(raw)); err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if p := os.Getenv("PRSMED_SCREENSHOT"); p != "" {
		if err := os.WriteFile(p, raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// jsString quotes s as a JavaScript string literal (JSON's quoting is valid JavaScript).
func jsString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	b.WriteString(s) // base64 needs no escaping
	b.WriteByte('"')
	return b.String()
}
