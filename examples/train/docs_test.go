package main

import (
	"bytes"
	"errors"
	"flag"
	"testing"

	"github.com/prsmed/prsmed-go/examples/internal/doccheck"
	"github.com/prsmed/prsmed-go/prsmed/train"
)

// TestDocsFlagTable: docs/training.md's flag table is what train -h prints.
func TestDocsFlagTable(t *testing.T) {
	var help bytes.Buffer
	tc, _ := train.Preset("tiny")
	if _, err := parse([]string{"-h"}, &tc, &help); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	doccheck.Check(t, "../../docs/training.md", "train", help.String())
}
