// Package cli holds what the example programs share: the common flags, help and exit
// codes, signal handling (Command), device and tokenizer setup, progress on standard error
// (Progress), prediction overlays (Overlay) and writing PNGs.
package cli

import (
	"fmt"
	"image"
	"image/png"
	"os"
	"strconv"
	"strings"

	"github.com/prsmed/prsmed-go/prsmed/assets"
	"github.com/prsmed/prsmed-go/prsmed/tokenizer"
	"github.com/prsmed/prsmed-go/torch"
)

// Device parses "cpu" or "cuda", "cuda:N".
func Device(s string) (torch.Device, error) {
	switch {
	case s == "cpu" || s == "":
		return torch.CPU, nil
	case s == "cuda":
		return torch.CUDA(0), nil
	case strings.HasPrefix(s, "cuda:"):
		i, err := strconv.Atoi(strings.TrimPrefix(s, "cuda:"))
		if err != nil || i < 0 {
			return torch.CPU, fmt.Errorf("bad device %q", s)
		}
		return torch.CUDA(i), nil
	}
	return torch.CPU, fmt.Errorf("bad device %q (cpu, cuda or cuda:N)", s)
}

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
