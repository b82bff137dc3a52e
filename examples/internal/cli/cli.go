// Package cli holds what the example programs share: the common flags, help and exit
// codes (0 done, 1 failed, 2 bad usage, 130 interrupted), signal handling (Command for
// programs built on the shared flags, RunTool for programs with a testable run function;
// both end in Finish), device and tokenizer setup, progress on standard error (Progress),
// prediction overlays (Overlay) and writing PNGs.
package cli

import (
	"image"
	"image/png"
	"os"

	"github.com/prsmed/prsmed-go/prsmed/assets"
	"github.com/prsmed/prsmed-go/prsmed/tokenizer"
)

// Tokenizer loads path, or the shipped template tokenizer when path is empty.
func Tokenizer(path string) (*tokenizer.Tokenizer, error) {
	if path == "" {
		return assets.TemplateTokenizer()
	}
	return tokenizer.Load(path)
}

// WritePNG encodes img to path.
func WritePNG(path string, img image.Image) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
