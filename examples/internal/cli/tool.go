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
)

// RunTool is the body of a testable program's run(args, stdout, stderr) int, for programs
// that parse their own flag set: parse (given the stream help goes to, standard error)
// returning flag.ErrHelp exits 0 and any other error is a one-line usage error (exit 2);
// then work runs with a context that SIGINT and SIGTERM cancel and returns the exit code,
// or an error printed on one line (exit 1). A panic is reported as an internal error.
func RunTool(name string, stderr io.Writer, parse func(help io.Writer) error, work func(ctx context.Context) (int, error)) (code int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "%s: internal error: %v\n", name, r)
			code = 1
		}
	}()
	if err := parse(stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "%s: %v (run %s -h for help)\n", name, err, name)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code, err := work(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %s\n", name, oneLine(err.Error()))
		return 1
	}
	return code
}
