package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/prsmed/prsmed-go/prsmed"
)

// runRecord is what decides the masks and answers of a run, kept in masks/run.json so
// that resuming into an -out written with another checkpoint or question is refused
// instead of mixing the two runs' outputs.
type runRecord struct {
	Checkpoint string `json:"checkpoint"`       // the folder, absolute
	Weights    string `json:"weights_sha256"`   // model.safetensors's digest from the manifest ("" without one)
	Question   string `json:"question"`         // -question ("" for the rows' own questions)
	Medical    string `json:"medical_decoding"` // -window, -frame, -slice as decoded
}

// newRunRecord describes the run o asks for.
func newRunRecord(o options) (runRecord, error) {
	abs, err := filepath.Abs(o.model.Checkpoint)
	if err != nil {
		return runRecord{}, err
	}
	r := runRecord{Checkpoint: abs, Question: o.question, Medical: fmt.Sprintf("%+v", o.medical)}
	m, err := prsmed.ReadManifest(o.model.Checkpoint)
	switch {
	case errors.Is(err, fs.ErrNotExist): // a checkpoint without a manifest: its path names it
	case err != nil:
		return runRecord{}, err
	default:
		r.Weights = m.Files["model.safetensors"]
	}
	return r, nil
}

// claimOutput checks that masksDir holds nothing, or the outputs of a run with the same
// record (which this run then resumes), and writes the record.
func claimOutput(masksDir string, r runRecord, answered int) error {
	path := filepath.Join(masksDir, "run.json")
	raw, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if answered > 0 {
			return fmt.Errorf("%s holds %d answers but no run.json saying which checkpoint wrote them: use another -out, or remove %s to start over", masksDir, answered, masksDir)
		}
	case err != nil:
		return err
	default:
		var old runRecord
		if err := json.Unmarshal(raw, &old); err != nil {
			return fmt.Errorf("%s: %w; remove %s to start over", path, err, masksDir)
		}
		if diff := old.differs(r); diff != "" {
			return fmt.Errorf("%s was written by another run (%s): use another -out, or remove %s to start over", masksDir, diff, masksDir)
		}
		return nil
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// differs names the first setting in which r and n differ, or returns "".
func (r runRecord) differs(n runRecord) string {
	switch {
	case r.Weights != n.Weights:
		return fmt.Sprintf("weights %.12s… of %s, this run's %.12s… of %s", r.Weights, r.Checkpoint, n.Weights, n.Checkpoint)
	case r.Weights == "" && r.Checkpoint != n.Checkpoint:
		return fmt.Sprintf("checkpoint %s, this run's %s", r.Checkpoint, n.Checkpoint)
	case r.Question != n.Question:
		return fmt.Sprintf("-question %q, this run's %q", r.Question, n.Question)
	case r.Medical != n.Medical:
		return fmt.Sprintf("medical decoding %s, this run's %s", r.Medical, n.Medical)
	}
	return ""
}
