package volumeset

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseLabels(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []Label
		err      string
	}{
		{"itk-snap", "# ITK-SnAP Label Description File\n    0     0    0    0        0  0  0    \"Clear Label\"\n   17   255    0    0        1  1  1    \"left  hippocampus\"\n    3     0  255    0        1  1  1    \"Liver\"\n",
			[]Label{{3, "Liver"}, {17, "left hippocampus"}}, ""},
		{"tsv with header", "value\tname\n7\tleft hippocampus\n2\tright kidney\n", []Label{{2, "right kidney"}, {7, "left hippocampus"}}, ""},
		{"spaces", "7 left hippocampus\n", []Label{{7, "left hippocampus"}}, ""},
		{"duplicate", "1\ta\n1\tb\n", nil, "already named"},
		{"no name", "1\ta\n2\n", nil, "no name"},
		{"bad value", "1\ta\nx\tb\n", nil, "not a whole number"},
		{"too large", "70000\ta\n", nil, "outside"},
		{"empty", "# nothing\n0 \"Clear Label\"\n", nil, "no labels"},
		{"unterminated", "1 0 0 0 1 1 1 \"abc\n", nil, "unterminated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseLabels(strings.NewReader(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v (%v), want %v", got, err, tc.want)
			}
		})
	}
}
