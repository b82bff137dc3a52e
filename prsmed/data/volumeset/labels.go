package volumeset

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
)

// Label names one value of a label map.
type Label struct {
	Value int
	Name  string
}

// MaxLabelValue bounds label values (ITK-SNAP uses 0..65535).
const MaxLabelValue = 1<<16 - 1

// ReadLabels reads a label table from a file; see ParseLabels.
func ReadLabels(path string) ([]Label, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ls, err := ParseLabels(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ls, nil
}

// ParseLabels reads a label table in either of two forms, line by line:
//
//   - ITK-SNAP's label description file: `IDX R G B A VIS MSH "LABEL"`, the name in
//     double quotes at the end; lines starting with '#' are comments;
//   - a plain table: the value, then a tab (or spaces), then the name (`7	left
//     hippocampus`); a first line whose first field is not a number is a header.
//
// Blank lines and '#' comments are skipped, and so is value 0 (background; ITK-SNAP's
// "Clear Label"). Values must be whole numbers in 1..MaxLabelValue, each given once, and
// names must be non-empty. The labels come back sorted by value.
func ParseLabels(r io.Reader) ([]Label, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	var out []Label
	seen := map[int]int{}
	first := true
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(strings.TrimPrefix(sc.Text(), "\ufeff"))
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		var field, name string
		if q := strings.IndexByte(s, '"'); q >= 0 {
			end := strings.LastIndexByte(s, '"')
			if end <= q {
				return nil, fmt.Errorf("line %d: unterminated quoted name", line)
			}
			field, name = strings.Fields(s)[0], s[q+1:end]
		} else {
			parts := strings.SplitN(s, "\t", 2)
			if len(parts) < 2 {
				parts = strings.SplitN(s, " ", 2)
			}
			field = strings.TrimSpace(parts[0])
			if len(parts) == 2 {
				name = parts[1]
			}
		}
		v, err := strconv.Atoi(field)
		if err != nil {
			if first {
				first = false
				continue // a header
			}
			return nil, fmt.Errorf("line %d: label value %q is not a whole number", line, field)
		}
		first = false
		name = strings.Join(strings.Fields(name), " ")
		if v == 0 {
			continue
		}
		if v < 0 || v > MaxLabelValue {
			return nil, fmt.Errorf("line %d: label value %d outside 1..%d", line, v, MaxLabelValue)
		}
		if name == "" {
			return nil, fmt.Errorf("line %d: label %d has no name", line, v)
		}
		if l, dup := seen[v]; dup {
			return nil, fmt.Errorf("line %d: label %d is already named on line %d", line, v, l)
		}
		seen[v] = line
		out = append(out, Label{Value: v, Name: name})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no labels (other than 0)")
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Value < out[b].Value })
	return out, nil
}
