// Package server is the HTTP side of examples/serve: request parsing and validation,
// dynamic batching in front of a Predictor, authentication, logging and the embedded web
// page. It holds no model code, so most of its tests run against a fake predictor.
package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"io/fs"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prsmed/prsmed-go/prsmed/imageio/volume"
)

//go:embed static
var staticFiles embed.FS

// Config is the server's behaviour; zero fields take the defaults of examples/serve.
type Config struct {
	MaxBody     int64 // largest request body in bytes (413 above)
	MaxPixels   int64 // largest image, width × height (400 above)
	MaxQuestion int   // longest question in characters (400 above)
	MaxDecodes  int   // most images decoded at once (admitted requests wait for a turn)
	// Volumes (POST /v1/segment-volume) and NIfTI uploads to /v1/segment:
	MaxVolumeBody   int64         // largest /v1/segment-volume body in bytes (413 above)
	MaxVolumeVoxels int64         // most voxels a NIfTI upload may declare (400 above)
	MaxVolumes      int           // volumes predicted at once (503 above)
	VolumeTimeout   time.Duration // per-volume limit (504 after)
	Timeout         time.Duration // per-request limit (504 after)
	Token           string        // bearer token; empty: no authentication
	CORSOrigins     []string      // origins allowed cross-origin requests; empty: none
	LogQuestions    bool          // log question text (off: only its length)
	Info            ModelInfo     // what GET /v1/model reports
	Logger          *slog.Logger
}

// ModelInfo is the body of GET /v1/model.
type ModelInfo struct {
	Preset     string         `json:"preset"`
	ImageSize  int64          `json:"image_size"`
	MaskSize   int64          `json:"mask_size"`
	Device     string         `json:"device"`
	DType      string         `json:"dtype"`
	Params     int64          `json:"parameters"`
	Checkpoint string         `json:"checkpoint,omitempty"`
	Tokenizer  string         `json:"tokenizer_sha256,omitempty"`
	Batching   BatchingInfo   `json:"batching"`
	Limits     map[string]any `json:"limits"`
}

// BatchingInfo describes dynamic batching in ModelInfo.
type BatchingInfo struct {
	MaxBatch  int     `json:"max_batch"`
	MaxWaitMS float64 `json:"max_wait_ms"`
	Queue     int     `json:"queue"`
}

// DefaultMaxDecodes is Config.MaxDecodes when it is zero. Decoding takes milliseconds
// against the model's hundreds, so two decoders keep the model fed while bounding the
// memory decoding takes at once to two images (up to MaxPixels × 8 bytes each, for 16-bit
// RGBA).
const DefaultMaxDecodes = 2

// Defaults fills zero fields.
func (c *Config) defaults() {
	if c.MaxBody == 0 {
		c.MaxBody = 20 << 20
	}
	if c.MaxPixels == 0 {
		c.MaxPixels = 4096 * 4096
	}
	if c.MaxQuestion == 0 {
		c.MaxQuestion = 1000
	}
	if c.MaxDecodes == 0 {
		c.MaxDecodes = DefaultMaxDecodes
	}
	if c.Timeout == 0 {
		c.Timeout = 2 * time.Minute
	}
	if c.MaxVolumeBody == 0 {
		c.MaxVolumeBody = 256 << 20
	}
	if c.MaxVolumeVoxels == 0 {
		c.MaxVolumeVoxels = volume.MaxVoxels / 2
	}
	if c.MaxVolumes == 0 {
		c.MaxVolumes = 1
	}
	if c.VolumeTimeout == 0 {
		c.VolumeTimeout = 15 * time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Server is the HTTP handler.
type Server struct {
	cfg      Config
	b        *Batcher
	decodes  chan struct{} // one element per image being decoded
	volumes  chan struct{} // one element per volume admitted
	volCtx   context.Context
	volStop  context.CancelFunc // cancels running volumes (StopVolumes)
	mux      *http.ServeMux
	draining atomic.Bool
	token    [32]byte // SHA-256 of the token
}

// New builds the handler around a running batcher.
func New(cfg Config, b *Batcher) *Server {
	cfg.defaults()
	s := &Server{cfg: cfg, b: b, mux: http.NewServeMux(), decodes: make(chan struct{}, max(1, cfg.MaxDecodes)), volumes: make(chan struct{}, max(1, cfg.MaxVolumes))}
	s.volCtx, s.volStop = context.WithCancel(context.Background())
	if cfg.Token != "" {
		s.token = sha256.Sum256([]byte(cfg.Token))
	}
	s.cfg.Info.Limits = map[string]any{"max_body_bytes": cfg.MaxBody, "max_pixels": cfg.MaxPixels,
		"max_question_chars": cfg.MaxQuestion, "timeout_s": cfg.Timeout.Seconds(), "max_decodes": cfg.MaxDecodes,
		"max_volume_body_bytes": cfg.MaxVolumeBody, "max_volume_voxels": cfg.MaxVolumeVoxels, "max_volumes": cfg.MaxVolumes, "volume_timeout_s": cfg.VolumeTimeout.Seconds()}
	s.cfg.Info.Batching.Queue = cap(b.queue)
	s.cfg.Info.Batching.MaxBatch = b.cfg.MaxBatch
	s.cfg.Info.Batching.MaxWaitMS = float64(b.cfg.MaxWait) / float64(time.Millisecond)

	sub, err := fs.Sub(staticFiles, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.FileServerFS(sub)
	s.mux.Handle("GET /", staticHeaders(files))
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.Handle("GET /v1/model", s.auth(http.HandlerFunc(s.model)))
	s.mux.Handle("POST /v1/segment", s.auth(http.HandlerFunc(s.segment)))
	s.mux.Handle("POST /v1/segment-volume", s.auth(http.HandlerFunc(s.segmentVolume)))
	s.mux.Handle("OPTIONS /v1/", http.HandlerFunc(s.preflight))
	return s
}

// StopVolumes cancels the volumes being predicted (they stop after their current batch
// and answer 503) and returns once none runs; later volumes are refused with 503. Call it
// after http.Server.Shutdown and before closing the model, which a volume uses directly.
func (s *Server) StopVolumes() {
	s.volStop()
	for i := 0; i < cap(s.volumes); i++ {
		s.volumes <- struct{}{}
	}
}

// Drain makes /healthz report that the server is shutting down.
func (s *Server) Drain() { s.draining.Store(true) }

// ServeHTTP adds the request id, CORS headers, panic recovery and the access log.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := requestID(r)
	rw := &recorder{ResponseWriter: w, status: http.StatusOK}
	rw.Header().Set("X-Request-Id", id)
	s.cors(rw, r)
	ri := &reqInfo{id: id}
	r = r.WithContext(withInfo(r.Context(), ri))
	defer func() {
		if v := recover(); v != nil {
			s.cfg.Logger.Error("panic", "id", id, "panic", v)
			if !rw.wrote {
				writeError(rw, http.StatusInternalServerError, "internal", "internal server error")
			}
		}
		attrs := []any{"id", id, "method", r.Method, "path", r.URL.Path, "status", rw.status,
			"bytes", rw.n, "ms", float64(time.Since(start).Microseconds()) / 1000, "remote", r.RemoteAddr}
		attrs = append(attrs, ri.attrs...)
		if ri.question != "" && s.cfg.LogQuestions {
			attrs = append(attrs, "question", ri.question)
		}
		level := slog.LevelInfo
		if rw.status >= 500 {
			level = slog.LevelWarn
		}
		s.cfg.Logger.Log(r.Context(), level, "request", attrs...)
	}()
	s.mux.ServeHTTP(rw, r)
}

// auth requires the bearer token when one is configured.
func (s *Server) auth(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Token != "" {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			sum := sha256.Sum256([]byte(strings.TrimSpace(got)))
			if subtle.ConstantTimeCompare(sum[:], s.token[:]) != 1 || !ok {
				w.Header().Set("WWW-Authenticate", `Bearer realm="prsmed"`)
				writeError(w, http.StatusUnauthorized, "unauthorized", "a valid bearer token is required (Authorization: Bearer <token>)")
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

// cors sets the CORS headers for an allowed origin; with no configured origins it sets
// none, so browsers refuse cross-origin calls.
func (s *Server) cors(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	if origin == "" || len(s.cfg.CORSOrigins) == 0 {
		return
	}
	if !slices.Contains(s.cfg.CORSOrigins, origin) && !slices.Contains(s.cfg.CORSOrigins, "*") {
		return
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Add("Vary", "Origin")
	h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
	h.Set("Access-Control-Expose-Headers", "X-Request-Id, X-Answer, X-Zone, X-Batch-Size")
	h.Set("Access-Control-Max-Age", "600")
}

// preflight answers CORS preflight requests (headers already set by cors).
func (s *Server) preflight(w http.ResponseWriter, r *http.Request) {
	if w.Header().Get("Access-Control-Allow-Origin") == "" {
		writeError(w, http.StatusForbidden, "cors", "cross-origin requests are not allowed from this origin")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// staticHeaders adds the security headers of the web page.
func staticHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; frame-ancestors 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cache-Control", "no-cache")
		h.ServeHTTP(w, r)
	})
}

// requestID is the client's X-Request-Id when it is short and plain, else a new one.
func requestID(r *http.Request) string {
	if id := r.Header.Get("X-Request-Id"); id != "" && len(id) <= 64 && strings.Trim(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == "" {
		return id
	}
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// recorder remembers the status and size of a response.
type recorder struct {
	http.ResponseWriter
	status int
	n      int64
	wrote  bool
}

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	n, err := r.ResponseWriter.Write(b)
	r.n += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
