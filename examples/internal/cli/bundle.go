package cli

import (
	"flag"

	"github.com/prsmed/prsmed-go/torch"
)

// BundleFlags are the flags of a program that opens a trained checkpoint with
// prsmed.LoadBundle: -checkpoint, -tokenizer, -tinysam, -llava, -device and -threads.
type BundleFlags struct {
	Checkpoint, Tokenizer, TinySAM, LLaVA, Device string
	Threads                                       int
}

// Register adds the flags to fs; threadsHelp is the help of -threads.
func (b *BundleFlags) Register(fs *flag.FlagSet, threadsHelp string) {
	fs.StringVar(&b.Checkpoint, "checkpoint", "", "PRS-Med checkpoint folder (required)")
	fs.StringVar(&b.Tokenizer, "tokenizer", "", "tokenizer.model (default: the checkpoint's own, or the template tokenizer for an older tiny checkpoint)")
	fs.StringVar(&b.TinySAM, "tinysam", "", "TinySAM weights (paper preset; default: the path the checkpoint records)")
	fs.StringVar(&b.LLaVA, "llava", "", "LLaVA-Med folder (paper preset; default: the path the checkpoint records)")
	fs.StringVar(&b.Device, "device", "cpu", "cpu, cuda or cuda:N")
	fs.IntVar(&b.Threads, "threads", 0, threadsHelp)
}

// Setup applies -threads and parses -device.
func (b *BundleFlags) Setup() (torch.Device, error) { return Setup(b.Device, b.Threads) }
