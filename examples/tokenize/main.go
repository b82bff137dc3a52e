// Command tokenize encodes text to token ids, or decodes ids to text, with a
// SentencePiece tokenizer.model (LLaMA / Mistral / LLaVA-Med) through the
// pure-Go package prsmed/tokenizer.
//
// Usage:
//
//	go run ./examples/tokenize -tokenizer tokenizer.model -text "Where is the tumour?"
//	go run ./examples/tokenize -tokenizer tokenizer.model -bos -text "Where is the tumour?"
//	go run ./examples/tokenize -tokenizer tokenizer.model -pieces -text "Where is the tumour?"
//	go run ./examples/tokenize -tokenizer tokenizer.model -ids "1 733 16289 28793"
//	echo "text from stdin" | go run ./examples/tokenize -tokenizer tokenizer.model -text -
//
// -text prints the ids separated by spaces (or, with -pieces, the pieces
// separated by spaces, each quoted as a Go string when it holds a space or a
// non-printable character). -ids takes ids separated by spaces or commas and
// prints the decoded text. Text is encoded as SentencePiece does: the string
// "</s>" inside the text is plain text, not EOS; use -bos / -eos to add them.
//
// Exit status: 0 on success, 1 when the model cannot be loaded or the input
// is invalid, 2 for a usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"unicode"

	"github.com/prsmed/prsmed-go/examples/internal/cli"
	"github.com/prsmed/prsmed-go/prsmed/tokenizer"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// options are the parsed command-line flags.
type options struct {
	model    string
	text     string
	hasText  bool
	ids      string
	hasIDs   bool
	bos, eos bool
	pieces   bool
}

// run is the whole program; it returns the exit status (cli.RunTool's).
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return cli.RunParsed("tokenize", args, stderr, parseFlags, func(_ context.Context, opt options) (int, error) {
		return 0, tokenize(opt, stdin, stdout)
	})
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var opt options
	fs := flag.NewFlagSet("tokenize", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&opt.model, "tokenizer", "", "SentencePiece `tokenizer.model` file (required)")
	fs.Func("text", "`text` to encode; - reads it from standard input", func(s string) error {
		opt.text, opt.hasText = s, true
		return nil
	})
	fs.Func("ids", "`ids` to decode, separated by spaces or commas", func(s string) error {
		opt.ids, opt.hasIDs = s, true
		return nil
	})
	fs.BoolVar(&opt.bos, "bos", false, "put the BOS id before the encoded text")
	fs.BoolVar(&opt.eos, "eos", false, "put the EOS id after the encoded text")
	fs.BoolVar(&opt.pieces, "pieces", false, "print pieces instead of ids")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: tokenize -tokenizer FILE (-text TEXT [-bos] [-eos] [-pieces] | -ids IDS)\n\n")
		fmt.Fprintf(fs.Output(), "Encodes text to SentencePiece ids, or decodes ids to text.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return opt, err
		}
		// The flag package has already printed the problem and the usage.
		return opt, errors.New("bad command line")
	}
	switch {
	case fs.NArg() > 0:
		return opt, fmt.Errorf("unexpected argument %q (quote the text of -text)", fs.Arg(0))
	case opt.model == "":
		return opt, errors.New("-tokenizer is required")
	case opt.hasText == opt.hasIDs:
		return opt, errors.New("give exactly one of -text and -ids")
	case opt.hasIDs && (opt.bos || opt.eos || opt.pieces):
		return opt, errors.New("-bos, -eos and -pieces apply to -text only")
	}
	return opt, nil
}

func tokenize(opt options, stdin io.Reader, stdout io.Writer) error {
	tok, err := tokenizer.Load(opt.model)
	if err != nil {
		return err
	}
	if opt.hasIDs {
		ids, err := parseIDs(opt.ids)
		if err != nil {
			return err
		}
		if err := tok.CheckIDs(ids); err != nil {
			return err
		}
		_, err = fmt.Fprintln(stdout, tok.Decode(ids))
		return err
	}
	text := opt.text
	if text == "-" {
		b, err := io.ReadAll(stdin)
		if err != nil {
			return fmt.Errorf("read standard input: %w", err)
		}
		text = strings.TrimSuffix(string(b), "\n")
	}
	if opt.bos && tok.BOS() < 0 {
		return errors.New("the model has no BOS piece")
	}
	if opt.eos && tok.EOS() < 0 {
		return errors.New("the model has no EOS piece")
	}
	ids := tok.EncodeWith(text, tokenizer.EncodeOptions{AddBOS: opt.bos, AddEOS: opt.eos})
	out := make([]string, len(ids))
	for i, id := range ids {
		if opt.pieces {
			out[i] = quotePiece(tok.IDToPiece(id))
		} else {
			out[i] = strconv.Itoa(id)
		}
	}
	_, err = fmt.Fprintln(stdout, strings.Join(out, " "))
	return err
}

// parseIDs reads integers separated by spaces, tabs, newlines or commas.
func parseIDs(s string) ([]int, error) {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
	ids := make([]int, len(fields))
	for i, f := range fields {
		id, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("id %d of -ids: %q is not an integer", i+1, f)
		}
		ids[i] = id
	}
	return ids, nil
}

// quotePiece returns p as is when it is printable and holds no space,
// else quoted, so that space-separated output stays unambiguous.
func quotePiece(p string) string {
	if p == "" || strings.IndexFunc(p, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) || r == '"' }) >= 0 {
		return strconv.Quote(p)
	}
	return p
}
