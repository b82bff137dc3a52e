package cli

import (
	"flag"
	"fmt"

	"github.com/prsmed/prsmed-go/prsmed/imageio"
	"github.com/prsmed/prsmed-go/prsmed/imageio/window"
)

// MedicalFlags holds the -window, -frame and -slice flags for DICOM and NIfTI inputs.
type MedicalFlags struct {
	window *string
	frame  *int
	slice  *string
}

// RegisterMedical adds -window, -frame and -slice to fs; call Options after fs.Parse.
func RegisterMedical(fs *flag.FlagSet) *MedicalFlags {
	return &MedicalFlags{
		window: fs.String("window", "file", "DICOM/NIfTI gray window: file, file:N, minmax, a preset (lung, mediastinum, brain, bone, abdomen) or CENTER,WIDTH"),
		frame:  fs.Int("frame", 0, "DICOM frame (0-based)"),
		slice:  fs.String("slice", "mid", "NIfTI slice: K or AXIS:K (AXIS 0, 1, 2 or x, y, z; K a number or mid); default the middle slice across axis 2"),
	}
}

// Options turns the parsed flags into imageio.Options.
func (m *MedicalFlags) Options() (imageio.Options, error) {
	o := imageio.DefaultOptions()
	w, err := window.Parse(*m.window)
	if err != nil {
		return o, fmt.Errorf("-window: %w", err)
	}
	if *m.frame < 0 {
		return o, fmt.Errorf("-frame %d: must be >= 0", *m.frame)
	}
	axis, index, err := imageio.ParseSlice(*m.slice)
	if err != nil {
		return o, fmt.Errorf("-slice: %w", err)
	}
	o.Window, o.Frame, o.Axis, o.Slice = w, *m.frame, axis, index
	return o, nil
}
