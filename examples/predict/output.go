package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
)

// answerLine is one line of answers.jsonl, as examples/evaluate reads it: "file" is the
// mask's path relative to the masks folder. The other fields are extra (evaluate ignores
// them).
type answerLine struct {
	File   string `json:"file"`
	Answer string `json:"answer"`
	Zone   string `json:"zone,omitempty"`
	Image  string `json:"image,omitempty"`
	// Source names the exact input: for DICOM its SOP Instance UID, frame and window; for
	// NIfTI the slice; so a mask can be traced back to its image.
	Source   string `json:"source,omitempty"`
	Question string `json:"question,omitempty"`
}

// answers is the append-only answers.jsonl of a run.
type answers struct {
	f    *os.File
	done map[string]answerLine
}

// openAnswers opens (creating) path, reads the answers already there and cuts off a
// partial last line left by an interrupted run.
func openAnswers(path string) (*answers, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	a := &answers{f: f, done: map[string]answerLine{}}
	raw, err := os.ReadFile(path)
	if err != nil {
		f.Close()
		return nil, err
	}
	good := 0 // bytes up to the end of the last complete line
	for off := 0; off < len(raw); {
		nl := bytes.IndexByte(raw[off:], '\n')
		if nl < 0 {
			break
		}
		line := bytes.TrimSpace(raw[off : off+nl])
		var l answerLine
		if len(line) > 0 {
			if err := json.Unmarshal(line, &l); err != nil || l.File == "" {
				f.Close()
				return nil, fmt.Errorf("%s: a line at byte %d is not an answer; move the file away to start over", path, off)
			}
			a.done[l.File] = l
		}
		off += nl + 1
		good = off
	}
	if good < len(raw) {
		if err := f.Truncate(int64(good)); err != nil {
			f.Close()
			return nil, err
		}
	}
	if _, err := f.Seek(int64(good), 0); err != nil {
		f.Close()
		return nil, err
	}
	return a, nil
}

// add appends one answer and syncs it, so that a finished image survives a crash.
func (a *answers) add(l answerLine) error {
	b, err := json.Marshal(l)
	if err != nil {
		return err
	}
	if _, err := a.f.Write(append(b, '\n')); err != nil {
		return err
	}
	a.done[l.File] = l
	return nil
}

func (a *answers) sync() error  { return a.f.Sync() }
func (a *answers) close() error { return a.f.Close() }

// writePNG encodes img to path through a temporary file and a rename.
func writePNG(path string, img image.Image) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	err = png.Encode(w, img)
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}
