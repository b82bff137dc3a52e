package main

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// answer is one generated answer for a mask.
type answer struct {
	File   string `json:"file"`
	Answer string `json:"answer"`
}

// answerFiles are the names looked for in -pred when -answers is not given.
var answerFiles = [...]string{"answers.jsonl", "answers.csv"}

// findAnswers returns the answers file to read: -answers, else the first of
// answerFiles present in -pred, else "".
func findAnswers(o options) string {
	if o.answers != "" {
		return o.answers
	}
	for _, name := range answerFiles {
		p := filepath.Join(o.pred, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

// loadAnswers reads a .jsonl or .csv answers file.
func loadAnswers(file string) ([]answer, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []answer
	switch strings.ToLower(filepath.Ext(file)) {
	case ".jsonl", ".json", ".ndjson":
		out, err = readJSONL(f)
	case ".csv":
		out, err = readAnswerCSV(f)
	default:
		return nil, fmt.Errorf("%s: answers file must end in .jsonl or .csv", file)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return out, nil
}

// readJSONL reads one {"file": ..., "answer": ...} object per non-blank line.
func readJSONL(r io.Reader) ([]answer, error) {
	var out []answer
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		var a answer
		if err := json.Unmarshal([]byte(text), &a); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if a.File == "" {
			return nil, fmt.Errorf("line %d: no \"file\"", line)
		}
		out = append(out, a)
	}
	return out, sc.Err()
}

// readAnswerCSV reads a CSV with columns file and answer (any order, other
// columns ignored).
func readAnswerCSV(r io.Reader) ([]answer, error) {
	cr := csv.NewReader(r)
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	fileCol, ansCol := -1, -1
	for i, h := range header {
		switch strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")) {
		case "file":
			fileCol = i
		case "answer":
			ansCol = i
		}
	}
	if fileCol < 0 || ansCol < 0 {
		return nil, errors.New("header needs the columns file and answer")
	}
	cr.FieldsPerRecord = len(header)
	var out []answer
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if strings.TrimSpace(rec[fileCol]) == "" {
			line, _ := cr.FieldPos(fileCol)
			return nil, fmt.Errorf("line %d: empty file", line)
		}
		out = append(out, answer{File: rec[fileCol], Answer: rec[ansCol]})
	}
}
