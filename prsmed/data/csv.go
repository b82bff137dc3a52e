package data

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/prsmed/prsmed-go/zones"
)

// rowError is a problem with one CSV row; it prints as "file:line: msg".
func rowError(file string, line int, format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s", file, line, fmt.Sprintf(format, args...))
}

// ErrNotAnnotation is wrapped by ReadRows' error when a CSV is empty or its header lacks
// a PosMed column: the file is not a PosMed annotation file at all.
var ErrNotAnnotation = errors.New("data: not a PosMed annotation CSV")

// Row is one record of a PosMed annotation CSV with its fields trimmed, before any check
// of their values.
type Row struct {
	ImagePath, ImageName, Question, Answer, Position, Split string
	// Line is the record's line in the file, for messages.
	Line int
}

// columnIndex maps the header of a PosMed CSV to the positions of the
// required columns. A missing column is an error naming the file and the
// column; so is a required column given twice.
func columnIndex(file string, header []string) (map[string]int, error) {
	col := make(map[string]int, len(header))
	for i, h := range header {
		if i == 0 {
			h = strings.TrimPrefix(h, "\ufeff")
		}
		name := strings.ToLower(strings.TrimSpace(h))
		if _, dup := col[name]; dup && slices.Contains(Columns(), name) {
			return nil, fmt.Errorf("%s: header names column %q twice", file, name)
		}
		col[name] = i
	}
	for _, c := range Columns() {
		if _, ok := col[c]; !ok {
			return nil, fmt.Errorf("%s: header has no column %q (need %s): %w", file, c, strings.Join(Columns(), ","), ErrNotAnnotation)
		}
	}
	return col, nil
}

// ReadRows reads every record of one PosMed annotation CSV (columns image_path,
// image_name, question, answer, position, split, in any order, a UTF-8 BOM allowed), in
// file order. An empty file or a header without those columns is an error wrapping
// ErrNotAnnotation; a malformed record is an error naming its line.
func ReadRows(file string) ([]Row, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: empty file, expected a header with columns %s: %w", file, strings.Join(Columns(), ","), ErrNotAnnotation)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: header: %w", file, err)
	}
	col, err := columnIndex(file, header)
	if err != nil {
		return nil, err
	}
	r.FieldsPerRecord = len(header)
	var out []Row
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			// csv.ParseError already names the line.
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		line, _ := r.FieldPos(0)
		get := func(c string) string { return strings.TrimSpace(rec[col[c]]) }
		out = append(out, Row{ImagePath: get("image_path"), ImageName: get("image_name"), Question: get("question"),
			Answer: get("answer"), Position: get("position"), Split: get("split"), Line: line})
	}
}

// readCSV reads one PosMed CSV of modality and returns its samples in file
// order, with paths joined to root. Every row is validated as documented in
// the package comment.
func readCSV(root, file, modality string) ([]Sample, error) {
	rows, err := ReadRows(file)
	if err != nil {
		return nil, err
	}
	out := make([]Sample, 0, len(rows))
	for _, row := range rows {
		s, err := rowSample(root, file, modality, row)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// rowSample validates one record and turns it into a Sample.
func rowSample(root, file, modality string, row Row) (Sample, error) {
	line := row.Line
	s := Sample{
		Modality:  modality,
		ImageName: row.ImageName,
		Question:  row.Question,
		Answer:    row.Answer,
		Position:  row.Position,
		Split:     strings.ToLower(row.Split),
		Row:       line,
		CSV:       file,
	}
	if !validSplit(s.Split) {
		return Sample{}, rowError(file, line, "split %q is not one of %s", row.Split, strings.Join(Splits(), ", "))
	}
	rel, err := CleanRel(row.ImagePath)
	if err != nil {
		return Sample{}, rowError(file, line, "image_path: %v", err)
	}
	s.MaskRel = rel
	if row.Question == "" {
		return Sample{}, rowError(file, line, "empty question")
	}
	if row.Answer == "" {
		return Sample{}, rowError(file, line, "empty answer")
	}
	s.MaskPath = filepath.Join(root, filepath.FromSlash(rel))
	if st, err := os.Stat(s.MaskPath); err != nil {
		return Sample{}, rowError(file, line, "mask file %s: %v", s.MaskPath, errors.Unwrap(err))
	} else if !st.Mode().IsRegular() {
		return Sample{}, rowError(file, line, "mask %s is not a regular file", s.MaskPath)
	}
	s.ImagePath, err = findImage(root, rel, s.ImageName)
	if err != nil {
		return Sample{}, rowError(file, line, "%v", err)
	}
	if z, ok := zones.Parse(s.Position); ok {
		s.Zone = z
	}
	return s, nil
}
