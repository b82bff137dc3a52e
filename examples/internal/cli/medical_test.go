package cli

import (
	"flag"
	"testing"

	"github.com/prsmed/prsmed-go/prsmed/imageio"
	"github.com/prsmed/prsmed-go/prsmed/imageio/window"
)

func TestMedicalFlags(t *testing.T) {
	cases := []struct {
		args []string
		want imageio.Options
		bad  bool
	}{
		{nil, imageio.DefaultOptions(), false},
		{[]string{"-window", "lung", "-frame", "2", "-slice", "0:5"}, imageio.Options{Window: window.Window{Kind: window.Explicit, Center: -600, Width: 1500, Name: "lung"}, Frame: 2, Axis: 0, Slice: 5}, false},
		{[]string{"-window", "40,400", "-slice", "12"}, imageio.Options{Window: window.CenterWidth(40, 400), Axis: 2, Slice: 12}, false},
		{[]string{"-window", "minmax"}, imageio.Options{Window: window.MinMaxWindow(), Axis: 2, Slice: imageio.Middle}, false},
		{[]string{"-window", "40,0"}, imageio.Options{}, true},
		{[]string{"-window", "lungs"}, imageio.Options{}, true},
		{[]string{"-frame", "-1"}, imageio.Options{}, true},
		{[]string{"-slice", "4:1"}, imageio.Options{}, true},
	}
	for _, c := range cases {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		m := RegisterMedical(fs)
		if err := fs.Parse(c.args); err != nil {
			t.Fatal(err)
		}
		o, err := m.Options()
		if (err != nil) != c.bad {
			t.Errorf("%v: error %v", c.args, err)
			continue
		}
		if !c.bad && o != c.want {
			t.Errorf("%v: %+v, want %+v", c.args, o, c.want)
		}
	}
}
