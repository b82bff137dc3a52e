package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testModel = "../../testdata/tokenizer/test.model"

func TestRun(t *testing.T) {
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken.model")
	if err := os.WriteFile(broken, []byte("not a model"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		args   []string
		stdin  string
		code   int
		stdout string
		stderr string // substring
	}{
		{"encode", []string{"-tokenizer", testModel, "-text", "Where is the tumour in this brain MRI?"}, "", 0,
			"446 276 261 486 271 329 554 372 1359\n", ""},
		{"encode with BOS and EOS", []string{"-tokenizer", testModel, "-bos", "-eos", "-text", "top left"}, "", 0,
			"1 334 317 2\n", ""},
		{"empty text", []string{"-tokenizer", testModel, "-text", ""}, "", 0, "\n", ""},
		{"pieces", []string{"-tokenizer", testModel, "-pieces", "-text", "top  left 龍"}, "", 0,
			"▁top ▁ ▁left ▁ <0xE9> <0xBE> <0x8D>\n", ""},
		{"stdin", []string{"-tokenizer", testModel, "-text", "-"}, "top left\n", 0, "334 317\n", ""},
		{"decode", []string{"-tokenizer", testModel, "-ids", "1 446 276 261 486 271 329 554 372 1359 2"}, "", 0,
			"Where is the tumour in this brain MRI?\n", ""},
		{"decode commas", []string{"-tokenizer", testModel, "-ids", "334,317, 3"}, "", 0, "top left\x00\n", ""},
		{"help", []string{"-h"}, "", 0, "", "Usage: tokenize"},
		{"no model", []string{"-text", "x"}, "", 2, "", "tokenize: -tokenizer is required (run tokenize -h for help)\n"},
		{"neither", []string{"-tokenizer", testModel}, "", 2, "", "exactly one of -text and -ids"},
		{"both", []string{"-tokenizer", testModel, "-text", "x", "-ids", "1"}, "", 2, "", "exactly one of -text and -ids"},
		{"bos with ids", []string{"-tokenizer", testModel, "-ids", "1", "-bos"}, "", 2, "", "apply to -text only"},
		{"stray argument", []string{"-tokenizer", testModel, "-text", "Where", "is"}, "", 2, "", `unexpected argument "is"`},
		{"unknown flag", []string{"-tokenizer", testModel, "-nope"}, "", 2, "", "flag provided but not defined"},
		{"missing model", []string{"-tokenizer", filepath.Join(dir, "none.model"), "-text", "x"}, "", 1, "", "no such file"},
		{"broken model", []string{"-tokenizer", broken, "-text", "x"}, "", 1, "", "malformed sentencepiece model"},
		{"bad id", []string{"-tokenizer", testModel, "-ids", "1 two 3"}, "", 1, "", `id 2 of -ids: "two" is not an integer`},
		{"id out of range", []string{"-tokenizer", testModel, "-ids", "1 1500"}, "", 1, "", "id 1500 at position 1 is out of range [0, 1500)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, strings.NewReader(tc.stdin), &stdout, &stderr)
			if code != tc.code {
				t.Errorf("exit status %d, want %d (stderr %q)", code, tc.code, stderr.String())
			}
			if stdout.String() != tc.stdout {
				t.Errorf("stdout %q, want %q", stdout.String(), tc.stdout)
			}
			if !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("stderr %q does not contain %q", stderr.String(), tc.stderr)
			}
			if tc.code == 1 && strings.Count(stderr.String(), "\n") != 1 {
				t.Errorf("stderr %q is not one line", stderr.String())
			}
		})
	}
}
