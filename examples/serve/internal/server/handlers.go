package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // JPEG uploads
	"image/png"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	_ "golang.org/x/image/bmp"  // BMP uploads
	_ "golang.org/x/image/tiff" // TIFF uploads
)

// reqInfo collects what the access log reports about a request.
type reqInfo struct {
	id       string
	question string
	attrs    []any
}

type infoKey struct{}

func withInfo(ctx context.Context, ri *reqInfo) context.Context {
	return context.WithValue(ctx, infoKey{}, ri)
}

func info(ctx context.Context) *reqInfo {
	if ri, ok := ctx.Value(infoKey{}).(*reqInfo); ok {
		return ri
	}
	return &reqInfo{}
}

// apiError is the JSON body of every error response.
type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	var e apiError
	e.Error.Code, e.Error.Message = code, msg
	writeJSON(w, status, e)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.Encode(v)
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "shutting down"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "queue": s.b.QueueLen()})
}

func (s *Server) model(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.cfg.Info)
}

// SegmentResponse is the JSON answer of POST /v1/segment.
type SegmentResponse struct {
	Answer    string             `json:"answer"`
	Zone      *string            `json:"zone"` // null when the answer names no single zone
	ZoneNamed bool               `json:"zone_named"`
	Width     int                `json:"width"`
	Height    int                `json:"height"`
	MaskPNG   []byte             `json:"mask_png"` // base64 in JSON
	TimingMS  map[string]float64 `json:"timing_ms"`
	BatchSize int                `json:"batch_size"`
	RequestID string             `json:"request_id"`
}

// segmentJSON is the JSON request body of POST /v1/segment (and, with Volume instead of
// Image, of POST /v1/segment-volume).
type segmentJSON struct {
	Image    string `json:"image"` // base64, optionally a data: URL
	Volume   string `json:"volume"`
	Question string `json:"question"`
	// DICOM and NIfTI only: the gray window, the DICOM frame, the NIfTI slice
	// (segment), or the slicing plane (segment-volume).
	Window string `json:"window"`
	Frame  *int   `json:"frame"`
	Slice  string `json:"slice"`
	Plane  string `json:"plane"`
}

// input is what a request carries: the file's bytes, the question and the medical fields.
type input struct {
	raw      []byte
	question string
	med      medFields
}

// badRequest is an input error answered with 4xx.
type badRequest struct {
	status int
	code   string
	msg    string
}

func (e *badRequest) Error() string { return e.msg }

func bad(code, format string, args ...any) *badRequest {
	return &badRequest{http.StatusBadRequest, code, fmt.Sprintf(format, args...)}
}

func (s *Server) segment(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	ri := info(r.Context())
	in, mo, ok := s.readRequest(w, r, "image", s.cfg.MaxBody, func(m medFields) error {
		if m.plane != "" {
			return bad("plane", `"plane" belongs to /v1/segment-volume; /v1/segment takes "slice"`)
		}
		return nil
	})
	if !ok {
		return
	}
	raw, question := in.raw, in.question

	// Admit before decoding: a full queue refuses the request before its image costs
	// anything, and the decoded images in memory are those of admitted requests.
	adm, err := s.b.Admit()
	if err != nil {
		s.submitError(w, r, err)
		return
	}
	defer adm.Release() // a no-op once submitted
	ctx, cancel := context.WithTimeoutCause(r.Context(), s.cfg.Timeout, errTimeout)
	defer cancel()
	img, err := s.decodeAdmitted(ctx, raw, mo)
	raw = nil
	if err != nil {
		var br *badRequest
		if errors.As(err, &br) {
			s.inputError(w, err)
		} else {
			s.submitError(w, r, err) // the time ran out, or the client left, waiting to decode
		}
		return
	}
	ri.attrs = append(ri.attrs, "width", img.Bounds().Dx(), "height", img.Bounds().Dy())
	res, err := adm.Submit(ctx, img, question)
	if err != nil && ctx.Err() != nil {
		err = context.Cause(ctx) // the timeout or the client's disconnect, whoever saw it first
	}
	if err != nil {
		s.submitError(w, r, err)
		return
	}
	ri.attrs = append(ri.attrs, "batch", res.BatchSize, "queue_ms", ms(res.Queued), "model_ms", ms(res.Model))
	zone := res.Zone.String()
	w.Header().Set("X-Batch-Size", strconv.Itoa(res.BatchSize))
	var buf bytes.Buffer
	if err := png.Encode(&buf, res.Mask); err != nil {
		writeError(w, http.StatusInternalServerError, "internal", "encoding the mask failed")
		return
	}
	if r.URL.Query().Get("format") == "png" {
		h := w.Header()
		h.Set("Content-Type", "image/png")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Answer", url.PathEscape(res.Answer))
		if res.Named {
			h.Set("X-Zone", zone)
		}
		w.Write(buf.Bytes())
		return
	}
	out := SegmentResponse{Answer: res.Answer, ZoneNamed: res.Named, Width: res.Mask.Rect.Dx(), Height: res.Mask.Rect.Dy(),
		MaskPNG: buf.Bytes(), BatchSize: res.BatchSize, RequestID: ri.id,
		TimingMS: map[string]float64{"queue": ms(res.Queued), "model": ms(res.Model), "total": ms(time.Since(start))}}
	if res.Named {
		out.Zone = &zone
	}
	writeJSON(w, http.StatusOK, out)
}

var errTimeout = errors.New("the request timed out")

// inputError answers an invalid request.
func (s *Server) inputError(w http.ResponseWriter, err error) {
	var br *badRequest
	if errors.As(err, &br) {
		writeError(w, br.status, br.code, br.msg)
		return
	}
	writeError(w, http.StatusBadRequest, "bad_request", err.Error())
}

// decodeAdmitted decodes an admitted request's image when one of the MaxDecodes decoding
// slots is free, waiting for one until ctx ends. Its errors are a *badRequest, or ctx's
// cause when ctx ended first.
func (s *Server) decodeAdmitted(ctx context.Context, raw []byte, mo medOptions) (image.Image, error) {
	select {
	case s.decodes <- struct{}{}:
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
	defer func() { <-s.decodes }()
	switch medicalKind(raw) {
	case kindDICOM:
		return s.decodeDICOM(raw, mo)
	case kindNIfTI:
		return s.decodeNIfTI(raw, mo)
	}
	if mo.set {
		return nil, bad("image_format", `"window", "frame" and "slice" apply to DICOM and NIfTI files only`)
	}
	return s.decode(raw)
}

// submitError answers a failed Submit.
func (s *Server) submitError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, ErrQueueFull):
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "overloaded", "the server is busy (request queue full); retry later")
	case errors.Is(err, ErrClosed):
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "shutting_down", "the server is shutting down")
	case errors.Is(err, errTimeout):
		writeError(w, http.StatusGatewayTimeout, "timeout", fmt.Sprintf("the request took longer than %v", s.cfg.Timeout))
	case r.Context().Err() != nil:
		// The client went away; nobody reads this, but the log shows 499.
		w.WriteHeader(499)
	default:
		s.cfg.Logger.Error("predict failed", "id", info(r.Context()).id, "err", err)
		writeError(w, http.StatusInternalServerError, "model", "the model failed on this request")
	}
}

// readInput returns the file bytes (the part or JSON field named file: "image" or
// "volume"), question and medical fields of a multipart or JSON request.
// readRequest reads the input of a request whose body may hold up to maxBody bytes (the
// image or volume in the form field file), checks its question, refuses the medical
// fields that belong to the other endpoint (misplaced returns that error) and parses the
// others, and logs the question's length. On an error it answers the request and returns
// ok false.
func (s *Server) readRequest(w http.ResponseWriter, r *http.Request, file string, maxBody int64, misplaced func(medFields) error) (in input, mo medOptions, ok bool) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	in, err := s.readInput(r, file)
	if err == nil {
		err = s.checkQuestion(in.question)
	}
	if err == nil {
		err = misplaced(in.med)
	}
	if err == nil {
		mo, err = in.med.parse()
	}
	if err != nil {
		s.inputError(w, err)
		return in, mo, false
	}
	ri := info(r.Context())
	ri.question = in.question
	ri.attrs = append(ri.attrs, "question_chars", utf8.RuneCountInString(in.question))
	return in, mo, true
}

func (s *Server) readInput(r *http.Request, file string) (in input, err error) {
	ct, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return in, &badRequest{http.StatusUnsupportedMediaType, "content_type", "Content-Type must be multipart/form-data or application/json"}
	}
	switch ct {
	case "application/json":
		var j segmentJSON
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&j); err != nil {
			if tooLarge(err) {
				return in, s.tooLarge(r)
			}
			return in, bad("json", "the JSON body is invalid: %v", err)
		}
		b64, other := j.Image, j.Volume
		if file == "volume" {
			b64, other = j.Volume, j.Image
		}
		if other != "" {
			return in, bad(file, `the JSON body of this endpoint carries the file as %q`, file)
		}
		if b64 == "" {
			return in, bad(file, `the JSON body has no %q (base64)`, file)
		}
		if strings.HasPrefix(b64, "data:") {
			if i := strings.Index(b64, ","); i >= 0 {
				b64 = b64[i+1:]
			}
		}
		raw, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return in, bad(file, `%q is not valid base64: %v`, file, err)
		}
		in = input{raw: raw, question: j.Question, med: medFields{window: j.Window, slice: j.Slice, plane: j.Plane}}
		if j.Frame != nil {
			in.med.frame = strconv.Itoa(*j.Frame)
		}
		return in, nil
	case "multipart/form-data":
		if params["boundary"] == "" {
			return in, bad("multipart", "the multipart body has no boundary")
		}
		return s.readMultipart(r, file)
	}
	return in, &badRequest{http.StatusUnsupportedMediaType, "content_type", fmt.Sprintf("Content-Type %q is not supported; use multipart/form-data or application/json", ct)}
}

// readMultipart reads the parts (the file, question, window, frame, slice, plane) into
// memory (never to disk: images are patient data), within the body limit.
func (s *Server) readMultipart(r *http.Request, file string) (in input, err error) {
	mr, err := r.MultipartReader()
	if err != nil {
		return in, bad("multipart", "the multipart body is invalid: %v", err)
	}
	var haveFile, haveQuestion bool
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if tooLarge(err) {
				return in, s.tooLarge(r)
			}
			return in, bad("multipart", "the multipart body is invalid: %v", err)
		}
		b, err := io.ReadAll(p)
		p.Close()
		if err != nil {
			if tooLarge(err) {
				return in, s.tooLarge(r)
			}
			return in, bad("multipart", "reading part %q: %v", p.FormName(), err)
		}
		switch p.FormName() {
		case file:
			in.raw, haveFile = b, true
		case "question":
			in.question, haveQuestion = string(b), true
		case "window":
			in.med.window = string(b)
		case "frame":
			in.med.frame = string(b)
		case "slice":
			in.med.slice = string(b)
		case "plane":
			in.med.plane = string(b)
		}
	}
	if !haveFile {
		return in, bad(file, `the form has no %q file`, file)
	}
	if !haveQuestion {
		return in, bad("question", `the form has no "question" field`)
	}
	return in, nil
}

func tooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}

func (s *Server) tooLarge(r *http.Request) *badRequest {
	limit := s.cfg.MaxBody
	if r.URL.Path == "/v1/segment-volume" {
		limit = s.cfg.MaxVolumeBody
	}
	return &badRequest{http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("the request body is larger than %d bytes", limit)}
}

func (s *Server) checkQuestion(q string) error {
	switch n := utf8.RuneCountInString(q); {
	case !utf8.ValidString(q):
		return bad("question", "the question is not valid UTF-8")
	case strings.TrimSpace(q) == "":
		return bad("question", "the question is empty")
	case n > s.cfg.MaxQuestion:
		return bad("question", "the question has %d characters; the limit is %d", n, s.cfg.MaxQuestion)
	}
	return nil
}

// decode checks the image's size from its header before decoding it.
func (s *Server) decode(raw []byte) (image.Image, error) {
	if len(raw) == 0 {
		return nil, bad("image", "the image is empty")
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(raw))
	if errors.Is(err, image.ErrFormat) {
		return nil, bad("image_format", "the image format is not supported (PNG, JPEG, BMP or TIFF)")
	}
	if err != nil {
		return nil, bad("image", "the image cannot be decoded: %v", err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, bad("image", "the %s image is empty (%d×%d)", format, cfg.Width, cfg.Height)
	}
	if px := int64(cfg.Width) * int64(cfg.Height); px > s.cfg.MaxPixels {
		return nil, bad("image_too_large", "the image has %d×%d = %d pixels; the limit is %d", cfg.Width, cfg.Height, px, s.cfg.MaxPixels)
	}
	img, _, err := image.Decode(bytes.NewReader(raw))
	if err != nil {
		return nil, bad("image", "the %s image cannot be decoded: %v", format, err)
	}
	return img, nil
}

func ms(d time.Duration) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 3, 64), 64)
	return v
}
