package main

import (
	"context"
	"image"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prsmed/prsmed-go/examples/serve/internal/server"
	"github.com/prsmed/prsmed-go/prsmed"
)

// slowModel answers every batch after a fixed delay, like a model whose cost barely
// grows with the batch.
type slowModel struct{ delay time.Duration }

func (m slowModel) PredictBatch(ctx context.Context, imgs []image.Image, qs []string) ([]*prsmed.Prediction, error) {
	time.Sleep(m.delay)
	var out []*prsmed.Prediction
	for _, img := range imgs {
		b := img.Bounds()
		out = append(out, &prsmed.Prediction{Mask: image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy())), Answer: "center"})
	}
	return out, nil
}

func startFake(t *testing.T, maxBatch int) string {
	b, err := server.NewBatcher(slowModel{20 * time.Millisecond}, server.BatchConfig{MaxBatch: maxBatch, MaxWait: 5 * time.Millisecond, Queue: 64})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(server.New(server.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, b))
	t.Cleanup(func() { ts.Close(); b.Close(context.Background()) })
	return ts.URL
}

// TestShortLoad is the short load test CI runs: eight clients for one second against a
// fake model with a fixed cost per batch. Every request must succeed, and batching must
// form batches larger than one (the throughput it buys is measured in BENCHMARKS.md).
func TestShortLoad(t *testing.T) {
	run := func(maxBatch int) *Report {
		r, err := Run(context.Background(), Options{URL: startFake(t, maxBatch), Concurrency: 8, Duration: time.Second, Image: syntheticPNG(),
			Question: "Where?", Format: "json", PID: os.Getpid(), RSSAt: []int{5}})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("max batch %d: %d requests, %.1f/s, p50 %.1f ms, p99 %.1f ms, mean batch %.2f, errors %d",
			maxBatch, r.Requests, r.PerSecond, r.P50MS, r.P99MS, r.MeanBatch, r.Errors)
		if r.Errors != 0 || r.Requests == 0 {
			t.Errorf("max batch %d: %d errors of %d requests (%v, %s)", maxBatch, r.Errors, r.Requests, r.Statuses, r.FirstError)
		}
		if r.RSSMiB[5] <= 0 {
			t.Errorf("no RSS read after 5 requests: %v", r.RSSMiB)
		}
		return r
	}
	one, many := run(1), run(8)
	if one.MeanBatch != 1 {
		t.Errorf("-max-batch 1 formed batches of %.2f on average", one.MeanBatch)
	}
	if many.MeanBatch <= 2 {
		t.Errorf("eight clients formed batches of only %.2f on average with -max-batch 8", many.MeanBatch)
	}
}

func TestRequestLimit(t *testing.T) {
	r, err := Run(context.Background(), Options{URL: startFake(t, 4), Concurrency: 3, Duration: time.Minute, MaxRequests: 10, Image: syntheticPNG(), Question: "q", Format: "png"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests != 10 || r.Errors != 0 {
		t.Errorf("-n 10: %d requests, %d errors", r.Requests, r.Errors)
	}
}

func TestCheckLoopback(t *testing.T) {
	tests := []struct {
		url string
		ok  bool
	}{
		{"http://127.0.0.1:8080", true},
		{"https://[::1]:8443/", true},
		{"http://localhost:8080", true},
		{"http://10.1.2.3:8080", false},
		{"http://8.8.8.8", false},
		{"ftp://127.0.0.1", false},
		{"127.0.0.1:8080", false},
	}
	for _, tt := range tests {
		err := CheckLoopback(tt.url)
		if (err == nil) != tt.ok {
			t.Errorf("CheckLoopback(%q) = %v, want ok=%v", tt.url, err, tt.ok)
		}
		if err != nil && !tt.ok && strings.Contains(tt.url, "10.1.2.3") && !strings.Contains(err.Error(), "loopback") {
			t.Errorf("error does not say why: %v", err)
		}
	}
}
