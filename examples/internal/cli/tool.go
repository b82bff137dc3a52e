package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/prsmed/prsmed-go/torch"
)

// The exit codes of every example program.
const (
	ExitOK          = 0   // done, or -h
	ExitFailed      = 1   // the work failed
	ExitUsage       = 2   // bad command line
	ExitInterrupted = 130 // stopped by SIGINT or SIGTERM (128 + SIGINT, as shells report it)
)

// UsageError is a problem with the command line found by a check of the program's own
// (exit status 2).
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// Usage makes a *UsageError.
func Usage(format string, args ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, args...)}
}

// ParseFlags parses args into fs. On -h it prints usage and then fs's flags to help and
// returns flag.ErrHelp; other errors are returned as fs.Parse gave them.
func ParseFlags(fs *flag.FlagSet, args []string, help io.Writer, usage string) error {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(help, usage)
		fs.SetOutput(help)
		fs.PrintDefaults()
	}
	return err
}

// RunTool is the body of a testable program's run(args, stdout, stderr) int, for programs
// that parse their own flag set: parse (given the stream help goes to, standard error)
// returning flag.ErrHelp exits 0 and any other error is a one-line usage error (exit 2);
// then work runs with a context that SIGINT and SIGTERM cancel. work returns the exit code
// it chose (a program that reports partial failure itself; any non-zero code after a signal
// becomes 130) or an error, which Finish turns into the exit code.
func RunTool(name string, stderr io.Writer, parse func(help io.Writer) error, work func(ctx context.Context) (int, error)) (code int) {
	if err := parse(stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		fmt.Fprintf(stderr, "%s: %s (run %s -h for help)\n", name, oneLine(err.Error()), name)
		return ExitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code, err := guard(name, func() (int, error) { return work(ctx) })
	if err == nil && ctx.Err() != nil && code != ExitOK {
		// The program reported the interruption itself; the exit status is the same for all.
		return ExitInterrupted
	}
	if err == nil {
		return code
	}
	return Finish(ctx, name, stderr, err)
}

// RunParsed is RunTool for a program whose parse(args, help) returns its options (and
// flag.ErrHelp for -h, as ParseFlags does): work runs with the options parse returned.
func RunParsed[O any](name string, args []string, stderr io.Writer, parse func(args []string, help io.Writer) (O, error), work func(ctx context.Context, o O) (int, error)) int {
	var o O
	return RunTool(name, stderr, func(help io.Writer) (err error) {
		o, err = parse(args, help)
		return err
	}, func(ctx context.Context) (int, error) { return work(ctx, o) })
}

// Finish reports err on stderr in one line and returns the exit status: 0 for nil, 2 for a
// *UsageError, 130 when ctx was cancelled by a signal (whatever error the interrupted work
// returned), 1 otherwise.
//
// Work that returns nil after a signal treated the signal as its normal end (serve drains
// its requests and stops on SIGTERM; loadtest prints the report of what it sent) and exits
// 0.
func Finish(ctx context.Context, name string, stderr io.Writer, err error) int {
	var ue *UsageError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "%s: %s (run %s -h for help)\n", name, oneLine(ue.Msg), name)
		return ExitUsage
	case ctx.Err() != nil:
		if errors.Is(err, context.Canceled) && err.Error() == context.Canceled.Error() {
			fmt.Fprintf(stderr, "%s: interrupted\n", name)
		} else {
			fmt.Fprintf(stderr, "%s: interrupted: %s\n", name, oneLine(err.Error()))
		}
		return ExitInterrupted
	}
	fmt.Fprintf(stderr, "%s: %s\n", name, oneLine(err.Error()))
	return ExitFailed
}

// guard runs f, turning a *torch.Error panic into its error and any other panic into an
// internal error.
func guard(name string, f func() (int, error)) (code int, err error) {
	defer func() {
		if r := recover(); r != nil {
			if te, ok := r.(*torch.Error); ok {
				code, err = ExitFailed, te
				return
			}
			code, err = ExitFailed, fmt.Errorf("internal error: %v", r)
		}
	}()
	return f()
}
