package main

import (
	"testing"

	"github.com/prsmed/prsmed-go/examples/internal/doccheck"
)

// TestDocsFlagTable: docs/inference.md's flag table is what segment -h prints.
func TestDocsFlagTable(t *testing.T) {
	c, _ := newCommand()
	doccheck.Check(t, "../../docs/inference.md", "segment", c.Help())
}
