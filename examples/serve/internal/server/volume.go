package server

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/prsmed/prsmed-go/prsmed/imageio/volume"
	"github.com/prsmed/prsmed-go/prsmed/volpredict"
)

// VolumeResponse is the JSON answer of POST /v1/segment-volume.
type VolumeResponse struct {
	// Summary: slices with the finding, the largest slice and its answer, the volume in mL.
	Summary *volpredict.Summary `json:"summary"`
	// MaskNIfTI is the mask volume as a gzipped NIfTI-1 file (.nii.gz; uint8, 1 inside),
	// on the input's grid with its affine; base64 in JSON.
	MaskNIfTI []byte             `json:"mask_nifti_gz"`
	TimingMS  map[string]float64 `json:"timing_ms"`
	RequestID string             `json:"request_id"`
}

// segmentVolume predicts every slice of a NIfTI volume. A volume holds one of
// MaxVolumes slots from before its body is decoded until its answer is written (a busy
// server answers 503 at once); its slices go to the model in batches of the batcher's
// MaxBatch, beside (not through) the batcher's queue, under VolumeTimeout.
func (s *Server) segmentVolume(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	ri := info(r.Context())
	in, mo, ok := s.readRequest(w, r, "volume", s.cfg.MaxVolumeBody, func(m medFields) error {
		if m.frame != "" || m.slice != "" {
			return bad("slice", `/v1/segment-volume predicts every slice of "plane"; "frame" and "slice" belong to /v1/segment`)
		}
		return nil
	})
	if !ok {
		return
	}

	// Admit before decoding.
	select {
	case s.volumes <- struct{}{}:
	default:
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "overloaded", "the server is busy with other volumes; retry later")
		return
	}
	defer func() { <-s.volumes }()
	if s.draining.Load() || s.volCtx.Err() != nil {
		s.submitError(w, r, ErrClosed)
		return
	}
	ctx, cancel := context.WithTimeoutCause(r.Context(), s.cfg.VolumeTimeout, errTimeout)
	defer cancel()
	stop := context.AfterFunc(s.volCtx, cancel)
	defer stop()
	select {
	case s.decodes <- struct{}{}:
	case <-ctx.Done():
		s.volumeError(w, r, context.Cause(ctx))
		return
	}
	v, err := s.readVolume(in.raw)
	<-s.decodes
	in.raw = nil
	if err != nil {
		s.inputError(w, err)
		return
	}
	ri.attrs = append(ri.attrs, "dims", v.Dims)
	decoded := time.Now()
	mask, sum, err := volpredict.Predict(ctx, s.b.p, v, in.question, volpredict.Options{Plane: mo.plane, Window: mo.window, BatchSize: s.b.cfg.MaxBatch})
	v = nil
	if err != nil {
		if errors.Is(err, volpredict.ErrInput) {
			s.inputError(w, bad("volume", "%v", err))
			return
		}
		if s.volCtx.Err() != nil {
			err = ErrClosed
		} else if ctx.Err() != nil {
			err = context.Cause(ctx)
		}
		s.volumeError(w, r, err)
		return
	}
	var buf bytes.Buffer
	if err := volume.EncodeNIfTI(&buf, mask, volume.Uint8, true); err != nil {
		writeError(w, http.StatusInternalServerError, "internal", "encoding the mask failed")
		return
	}
	ri.attrs = append(ri.attrs, "slices", sum.Slices, "mask_voxels", sum.Voxels)
	writeJSON(w, http.StatusOK, VolumeResponse{Summary: sum, MaskNIfTI: buf.Bytes(), RequestID: ri.id,
		TimingMS: map[string]float64{"decode": ms(decoded.Sub(start)), "model": ms(time.Since(decoded)), "total": ms(time.Since(start))}})
}

// volumeError answers a volume that failed after admission.
func (s *Server) volumeError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, errTimeout) {
		writeError(w, http.StatusGatewayTimeout, "timeout", "the volume took longer than "+s.cfg.VolumeTimeout.String())
		return
	}
	s.submitError(w, r, err)
}
