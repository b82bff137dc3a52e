// Command serve answers PRS-Med requests over HTTP: it loads a checkpoint once, gathers
// concurrent requests into batches for the model, and serves a small web page for trying
// it. See docs/serving.md for the API, the security settings and the measurements.
//
//	go run ./examples/serve -checkpoint runs/tiny/checkpoint
//	curl -F image=@scan.png -F question="Where is the tumour?" http://127.0.0.1:8080/v1/segment
//
// Exit status: 0 after a clean shutdown (SIGINT or SIGTERM), 1 when serving fails, 2 for
// a usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prsmed/prsmed-go/examples/internal/cli"
	"github.com/prsmed/prsmed-go/examples/serve/internal/server"
	"github.com/prsmed/prsmed-go/prsmed"
	"github.com/prsmed/prsmed-go/torch"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options are the parsed flags.
type options struct {
	model                                  cli.BundleFlags
	addr, tokenFile, tlsCert, tlsKey, cors string
	logFormat                              string
	maxBatch, queue, maxQuestion           int
	maxDecodes                             int
	maxWait, timeout, shutdown             time.Duration
	maxBody, maxPixels                     int64
	maxVolumeBody, maxVolumeVoxels         int64
	volumeTimeout                          time.Duration
	logQuestions                           bool
}

const usageText = `Usage: serve -checkpoint DIR [flags]

Serves a PRS-Med checkpoint over HTTP:

  POST /v1/segment   multipart form (image file, question) or JSON
                     {"image": base64, "question": "..."}; answers JSON
                     {answer, zone, zone_named, width, height, mask_png,
                     timing_ms}, or the mask PNG itself with ?format=png
  GET  /v1/model     preset, sizes, device, dtype, batching and limits
  GET  /healthz      liveness
  GET  /             a web page for trying the model

Concurrent requests are gathered into batches of up to -max-batch, waiting at
most -max-wait for more. The server listens on the loopback address unless
-addr says otherwise. Images are never written to disk or logs.

Flags:
`

// parseFlags parses args; -h prints the help to help (standard error, as every example
// program does).
func parseFlags(args []string, help io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o.model.Register(fs, "intra-op threads of the model (0: libtorch's default)")
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "listen address (host:port); give a non-loopback host to serve the network")
	fs.IntVar(&o.maxBatch, "max-batch", 8, "most requests in one model call")
	fs.DurationVar(&o.maxWait, "max-wait", 10*time.Millisecond, "how long a batch waits for more requests")
	fs.IntVar(&o.queue, "queue", 64, "most requests admitted and waiting for the model; more are answered 503 before their image is decoded")
	fs.IntVar(&o.maxDecodes, "max-decodes", server.DefaultMaxDecodes, "most images decoded at once; admitted requests wait for a turn")
	fs.Int64Var(&o.maxBody, "max-body", 20<<20, "largest request body in bytes (413 above)")
	fs.Int64Var(&o.maxPixels, "max-pixels", 4096*4096, "largest image in pixels, width × height")
	fs.Int64Var(&o.maxVolumeBody, "max-volume-body", 256<<20, "largest /v1/segment-volume body in bytes (413 above)")
	fs.Int64Var(&o.maxVolumeVoxels, "max-volume-voxels", 1<<27, "most voxels a NIfTI upload may declare (400 above)")
	fs.DurationVar(&o.volumeTimeout, "volume-timeout", 15*time.Minute, "per-volume time limit of /v1/segment-volume (504 after)")
	fs.IntVar(&o.maxQuestion, "max-question", 1000, "longest question in characters")
	fs.DurationVar(&o.timeout, "timeout", 2*time.Minute, "per-request time limit (504 after)")
	fs.DurationVar(&o.shutdown, "shutdown-timeout", 30*time.Second, "how long SIGTERM waits for in-flight requests")
	fs.StringVar(&o.tokenFile, "token-file", "", "file holding a bearer token that /v1/ requests must send")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "TLS certificate (PEM); with -tls-key serves HTTPS")
	fs.StringVar(&o.tlsKey, "tls-key", "", "TLS private key (PEM)")
	fs.StringVar(&o.cors, "cors-origin", "", "comma-separated origins allowed cross-origin requests (default: none)")
	fs.BoolVar(&o.logQuestions, "log-questions", false, "log question text (default: only its length)")
	fs.StringVar(&o.logFormat, "log-format", "json", "log format: json or text")
	if err := cli.ParseFlags(fs, args, help, usageText); err != nil {
		return o, err
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case o.model.Checkpoint == "":
		return o, errors.New("-checkpoint is required")
	case o.maxBatch < 1 || o.queue < 1 || o.maxDecodes < 1:
		return o, fmt.Errorf("-max-batch (%d), -queue (%d) and -max-decodes (%d) must be at least 1", o.maxBatch, o.queue, o.maxDecodes)
	case o.maxWait < 0 || o.timeout <= 0:
		return o, errors.New("-max-wait must be ≥ 0 and -timeout > 0")
	case o.maxBody < 1 || o.maxPixels < 1 || o.maxQuestion < 1 || o.maxVolumeBody < 1 || o.maxVolumeVoxels < 1 || o.volumeTimeout <= 0:
		return o, errors.New("-max-body, -max-pixels, -max-question, -max-volume-body and -max-volume-voxels must be at least 1, and -volume-timeout > 0")
	case (o.tlsCert == "") != (o.tlsKey == ""):
		return o, errors.New("-tls-cert and -tls-key go together")
	case o.logFormat != "json" && o.logFormat != "text":
		return o, fmt.Errorf("-log-format %q: want json or text", o.logFormat)
	}
	if _, _, err := net.SplitHostPort(o.addr); err != nil {
		return o, fmt.Errorf("-addr %q: %v", o.addr, err)
	}
	return o, nil
}

func run(args []string, stdout, stderr io.Writer) int {
	return cli.RunParsed("serve", args, stderr, parseFlags, func(ctx context.Context, o options) (int, error) {
		return 0, serve(ctx, o, stderr)
	})
}

// readToken reads the bearer token: the file's content without surrounding space.
func readToken(path string) (string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("-token-file: %w", err)
	}
	tok := strings.TrimSpace(string(raw))
	if tok == "" || strings.ContainsAny(tok, " \t\r\n") {
		return "", fmt.Errorf("-token-file %s: want one token without spaces", path)
	}
	if len(tok) < 16 {
		return "", fmt.Errorf("-token-file %s: the token has %d characters; use at least 16", path, len(tok))
	}
	return tok, nil
}

func serve(ctx context.Context, o options, stderr io.Writer) error {
	var h slog.Handler = slog.NewJSONHandler(stderr, nil)
	if o.logFormat == "text" {
		h = slog.NewTextHandler(stderr, nil)
	}
	log := slog.New(h)
	cfg := server.Config{MaxBody: o.maxBody, MaxPixels: o.maxPixels, MaxQuestion: o.maxQuestion, MaxDecodes: o.maxDecodes,
		Timeout: o.timeout, LogQuestions: o.logQuestions, Logger: log,
		MaxVolumeBody: o.maxVolumeBody, MaxVolumeVoxels: o.maxVolumeVoxels, VolumeTimeout: o.volumeTimeout}
	if o.tokenFile != "" {
		tok, err := readToken(o.tokenFile)
		if err != nil {
			return err
		}
		cfg.Token = tok
	}
	for _, c := range strings.Split(o.cors, ",") {
		if c = strings.TrimSpace(c); c != "" {
			cfg.CORSOrigins = append(cfg.CORSOrigins, c)
		}
	}
	dev, err := o.model.Setup()
	if err != nil {
		return err
	}
	// Listen before loading, so a taken port fails fast.
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	start := time.Now()
	m, mf, err := loadModel(o, dev)
	if err != nil {
		return err
	}
	defer m.Close()
	cfg.Info = server.ModelInfo{Preset: m.Config.Name, ImageSize: m.Config.ImageSize, MaskSize: m.Config.MaskSize,
		Device: dev.String(), DType: m.Store.DType().String(), Params: m.Store.NumParams(false), Checkpoint: o.model.Checkpoint}
	if mf != nil {
		cfg.Info.Tokenizer = mf.Tokenizer.SHA256
	}
	// One PredictBatch at a time: the batcher has a single worker.
	b, err := server.NewBatcher(m, server.BatchConfig{MaxBatch: o.maxBatch, MaxWait: o.maxWait, Queue: o.queue})
	if err != nil {
		return err
	}
	srv := server.New(cfg, b)
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       o.timeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(h, slog.LevelWarn),
	}
	scheme := "http"
	if o.tlsCert != "" {
		scheme = "https"
	}
	log.Info("listening", "addr", ln.Addr().String(), "url", scheme+"://"+ln.Addr().String()+"/", "preset", m.Config.Name,
		"device", dev.String(), "max_batch", o.maxBatch, "max_wait", o.maxWait.String(), "auth", cfg.Token != "",
		"tls", o.tlsCert != "", "load_s", time.Since(start).Seconds())
	if !isLoopback(ln.Addr()) && (cfg.Token == "" || o.tlsCert == "") {
		log.Warn("serving beyond this machine without both -token-file and TLS", "addr", ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() {
		if o.tlsCert != "" {
			errc <- hs.ServeTLS(ln, o.tlsCert, o.tlsKey)
		} else {
			errc <- hs.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		b.Close(context.Background())
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests", "timeout", o.shutdown.String())
	srv.Drain()
	sctx, cancel := context.WithTimeout(context.Background(), o.shutdown)
	defer cancel()
	err = hs.Shutdown(sctx)
	srv.StopVolumes() // a volume still running after the timeout stops after its batch
	if cerr := b.Close(sctx); err == nil {
		err = cerr
	}
	nb, nr := b.Stats()
	log.Info("stopped", "batches", nb, "requests", nr)
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

func loadModel(o options, dev torch.Device) (*prsmed.Model, *prsmed.Manifest, error) {
	return prsmed.LoadBundle(o.model.Checkpoint, dev, prsmed.BundleOptions{Tokenizer: o.model.Tokenizer, TinySAM: o.model.TinySAM, LLaVAMed: o.model.LLaVA})
}

func isLoopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}
