package zones

import (
	"encoding/json"
	"testing"
)

func TestZoneString(t *testing.T) {
	tests := []struct {
		z    Zone
		want string
	}{
		{TopLeft, "top left"},
		{TopRight, "top right"},
		{BottomLeft, "bottom left"},
		{BottomRight, "bottom right"},
		{Center, "center"},
		{0, "no zone"},
		{Zone(9), "invalid zone 9"},
		{Zone(-1), "invalid zone -1"},
	}
	for _, tt := range tests {
		if got := tt.z.String(); got != tt.want {
			t.Errorf("Zone(%d).String() = %q, want %q", int(tt.z), got, tt.want)
		}
	}
}

func TestAllValidAndDistinct(t *testing.T) {
	all := All()
	if len(all) != 5 {
		t.Fatalf("All() has %d zones, want 5", len(all))
	}
	seen := map[Zone]bool{}
	for _, z := range all {
		if !z.Valid() || seen[z] {
			t.Errorf("zone %v invalid or repeated", z)
		}
		seen[z] = true
	}
	all[0] = Center
	if All()[0] != TopLeft {
		t.Error("All() shares its backing array between calls")
	}
	if Zone(0).Valid() || Zone(6).Valid() {
		t.Error("out-of-range zones report Valid")
	}
}

func TestZoneStringParsesBack(t *testing.T) {
	for _, z := range All() {
		got, ok := Parse(z.String())
		if !ok || got != z {
			t.Errorf("Parse(%q) = %v, %v; want %v, true", z.String(), got, ok, z)
		}
	}
}

func TestZoneJSON(t *testing.T) {
	in := map[string]Zone{"a": BottomRight, "b": Center}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"a":"bottom right","b":"center"}`; string(b) != want {
		t.Fatalf("json = %s, want %s", b, want)
	}
	var out map[string]Zone
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if out["a"] != BottomRight || out["b"] != Center {
		t.Fatalf("round trip gave %v", out)
	}
	if _, err := json.Marshal(Zone(0)); err == nil {
		t.Error("marshalling the zero Zone succeeded")
	}
	var z Zone
	if err := json.Unmarshal([]byte(`"top left or center"`), &z); err == nil {
		t.Error("unmarshalling an ambiguous zone succeeded")
	}
}
