package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/prsmed/prsmed-go/prsmed/imageio/dicomseg"
	"github.com/prsmed/prsmed-go/prsmed/imageio/volume"
	"github.com/prsmed/prsmed-go/prsmed/volpredict"
	"github.com/prsmed/prsmed-go/torch"
)

// Output names of -volume, under -out.
const (
	volumeMaskName    = "mask.nii.gz"
	volumeSummaryName = "summary.json"
	volumeSEGName     = "mask.seg.dcm"
)

// volumeSummary is summary.json: volpredict's summary plus what was read and written.
type volumeSummary struct {
	Input  string `json:"input"`
	Series string `json:"series_uid,omitempty"`
	*volpredict.Summary
	Mask string `json:"mask"`
	SEG  string `json:"seg,omitempty"`
	// SEGNote says why no SEG was written for a DICOM input (an empty mask).
	SEGNote string `json:"seg_note,omitempty"`
}

// predictVolume predicts every slice of a NIfTI file or DICOM series folder and writes
// the mask volume, the summary and (for a series) a DICOM SEG under o.out.
func predictVolume(ctx context.Context, o options, stdout, stderr io.Writer) (err error) {
	defer torch.Recover(&err)
	logf := func(format string, args ...any) {
		if !o.quiet {
			fmt.Fprintf(stderr, format, args...)
		}
	}
	st, err := os.Stat(o.volume)
	if err != nil {
		return err
	}
	var v *volume.Volume
	var series *volume.Series
	if st.IsDir() {
		if series, err = volume.ReadDICOMSeries(ctx, o.volume, volume.SeriesOptions{SeriesUID: o.series}); err != nil {
			return err
		}
		v = series.Volume
	} else if v, err = volume.ReadNIfTI(o.volume); err != nil {
		return err
	}
	plane, err := volume.ParsePlane(o.plane)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	t0 := time.Now()
	m, dev, err := loadModel(o)
	if err != nil {
		return err
	}
	defer m.Close()
	n, err := v.Slices(plane)
	if err != nil {
		return err
	}
	logf("predict: loaded %s (%s preset) in %.1f s; %s: %d×%d×%d voxels, %d %s slices, batches of %d on %s\n",
		o.model.Checkpoint, m.Config.Name, time.Since(t0).Seconds(), o.volume, v.Dims[0], v.Dims[1], v.Dims[2], n, plane, o.batch, dev)
	bar := newProgress(stderr, o.progress, n, 0)
	lastLog := time.Now()
	start := time.Now()
	mask, sum, err := volpredict.Predict(ctx, m, v, o.question, volpredict.Options{
		Plane: plane, Window: o.medical.Window, BatchSize: o.batch, Threshold: o.threshold,
		Progress: func(done, total int) {
			bar.update(done)
			if !o.progress && time.Since(lastLog) > 10*time.Second {
				lastLog = time.Now()
				logf("predict: %d of %d slices\n", done, total)
			}
		},
	})
	bar.finish()
	if err != nil {
		if ctx.Err() != nil {
			return errInterrupted
		}
		return err
	}
	el := time.Since(start).Seconds()
	out := volumeSummary{Input: o.volume, Summary: sum, Mask: volumeMaskName}
	if err := volume.WriteNIfTI(filepath.Join(o.out, volumeMaskName), mask, volume.Uint8); err != nil {
		return err
	}
	if series != nil {
		out.Series = series.SeriesUID
		_, err := dicomseg.Write(filepath.Join(o.out, volumeSEGName), series, mask, dicomseg.Options{Label: o.label, Description: o.question})
		switch {
		case errors.Is(err, dicomseg.ErrEmpty):
			out.SEGNote = "the mask is empty: no DICOM SEG written (a SEG needs at least one frame)"
			logf("predict: %s\n", out.SEGNote)
		case err != nil:
			return err
		default:
			out.SEG = volumeSEGName
		}
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(o.out, volumeSummaryName), append(b, '\n'), 0o644); err != nil {
		return err
	}
	logf("predict: %d slices in %.1f s (%.1f slices/s); %d in %d slices hold mask (%.2f mL); %s in %s\n",
		n, el, float64(n)/el, sum.Voxels, len(sum.WithFinding), sum.VolumeML, volumeMaskName, o.out)
	_, err = stdout.Write(append(b, '\n'))
	return err
}
