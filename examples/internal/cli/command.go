package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/prsmed/prsmed-go/torch"
)

// Command is one example program's command line: its flags with the names every program
// shares, help on standard error, and the exit codes of a well-behaved tool (0 done or
// -h, 1 failed, 2 bad usage, 130 interrupted).
type Command struct {
	Name  string
	Flags *flag.FlagSet
	usage string
	about string
	err   io.Writer
	exit  func(int)
}

// NewCommand makes a command; usage is its synopsis ("segment -checkpoint DIR -image FILE
// [flags]") and about a paragraph printed under it by -h.
func NewCommand(name, usage, about string) *Command {
	c := &Command{Name: name, usage: usage, about: about, err: os.Stderr, exit: os.Exit}
	c.Flags = flag.NewFlagSet(name, flag.ContinueOnError)
	c.Flags.SetOutput(c.err)
	c.Flags.Usage = func() {
		fmt.Fprintf(c.err, "usage: %s\n\n", c.usage)
		if c.about != "" {
			fmt.Fprintf(c.err, "%s\n\n", strings.TrimSpace(c.about))
		}
		fmt.Fprintln(c.err, "flags:")
		c.Flags.PrintDefaults()
	}
	return c
}

// Help returns what -h prints: the usage line, the paragraph and the flags.
func (c *Command) Help() string {
	var b strings.Builder
	out := c.err
	c.err = &b
	c.Flags.SetOutput(&b)
	c.Flags.Usage()
	c.err = out
	c.Flags.SetOutput(out)
	return b.String()
}

// Device registers -device; torch.ParseDevice reads it (Setup calls it).
func (c *Command) Device() *string {
	return c.Flags.String("device", "cpu", "where to compute: cpu, cuda or cuda:N")
}

// Threads registers -threads.
func (c *Command) Threads() *int {
	return c.Flags.Int("threads", 0, "intra-op CPU threads (0: libtorch's default)")
}

// Tokenizer registers -tokenizer.
func (c *Command) Tokenizer(help string) *string {
	if help == "" {
		help = "tokenizer.model (default: the shipped template tokenizer)"
	}
	return c.Flags.String("tokenizer", "", help)
}

// TinySAM registers -tinysam.
func (c *Command) TinySAM(help string) *string {
	if help == "" {
		help = "TinySAM weights (tinysam_42.3.pth), for the paper preset"
	}
	return c.Flags.String("tinysam", "", help)
}

// LLaVA registers -llava.
func (c *Command) LLaVA(help string) *string {
	if help == "" {
		help = "LLaVA-Med folder (config.json, safetensors or .bin shards), for the paper preset"
	}
	return c.Flags.String("llava", "", help)
}

// Checkpoint registers -checkpoint.
func (c *Command) Checkpoint() *string {
	return c.Flags.String("checkpoint", "", "trained PRS-Med checkpoint folder (config.json, model.safetensors)")
}

// Parse parses args (os.Args[1:]): -h prints the help and exits 0, a bad flag exits 2, and
// every name in required must have been given a non-empty value.
func (c *Command) Parse(args []string, required ...string) {
	if err := c.Flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			c.exit(ExitOK)
			return
		}
		c.exit(ExitUsage)
		return
	}
	if c.Flags.NArg() > 0 {
		c.Usagef("unexpected argument %q", c.Flags.Arg(0))
		return
	}
	var missing []string
	for _, name := range required {
		if f := c.Flags.Lookup(name); f == nil || f.Value.String() == "" {
			missing = append(missing, "-"+name)
		}
	}
	if len(missing) > 0 {
		c.Usagef("%s required", strings.Join(missing, ", "))
	}
}

// Usagef reports a usage error in one line and exits 2.
func (c *Command) Usagef(format string, args ...any) {
	fmt.Fprintf(c.err, "%s: %s (see -h)\n", c.Name, fmt.Sprintf(format, args...))
	c.exit(ExitUsage)
}

// Main runs the program's work with a context that SIGINT and SIGTERM cancel, and exits
// with Finish's status: 0 when run returns nil, 2 for a *UsageError, 130 when a signal
// stopped it, 1 with the error on one line otherwise. Panics carrying a *torch.Error are
// reported as errors too.
func (c *Command) Main(run func(ctx context.Context) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	_, err := guard(c.Name, func() (int, error) { return 0, run(ctx) })
	c.exit(Finish(ctx, c.Name, c.err, err))
}

// Setup applies -threads and parses -device.
func Setup(device string, threads int) (torch.Device, error) {
	if threads > 0 {
		torch.SetNumThreads(threads)
	}
	return torch.ParseDevice(device)
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}
