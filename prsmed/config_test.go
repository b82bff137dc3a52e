package prsmed_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/prsmed/prsmed-go/prsmed"
)

// TestLoadConfigRefusesUnknownFields: a config.json with a setting this version does not
// know (one a newer version wrote) is an error naming the field, not a model built
// without it; a config written by SaveConfig loads back equal.
func TestLoadConfigRefusesUnknownFields(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.json")
	want := prsmed.Tiny(800)
	if err := prsmed.SaveConfig(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := prsmed.LoadConfig(path)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip: %v, equal %v", err, reflect.DeepEqual(got, want))
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		edit func(m map[string]any)
		want string
	}{
		{"top level", func(m map[string]any) { m["mask_threshold"] = 0.4 }, `unknown field "mask_threshold"`},
		{"nested", func(m map[string]any) { m["fusion"].(map[string]any)["positional_encoding"] = true }, `unknown field "positional_encoding"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m map[string]any
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatal(err)
			}
			tc.edit(m)
			b, _ := json.Marshal(m)
			p := filepath.Join(t.TempDir(), "config.json")
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := prsmed.LoadConfig(p)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "newer version") {
				t.Fatalf("err = %v, want one naming %s", err, tc.want)
			}
		})
	}
}
