package prsmed_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/prsmed"
	"github.com/prsmed/prsmed-go/prsmed/assets"
	"github.com/prsmed/prsmed-go/torch"
)

func TestParityDump(t *testing.T) {
	tok, err := assets.TemplateTokenizer()
	if err != nil {
		t.Fatal(err)
	}
	m, err := prsmed.New(prsmed.Tiny(int64(tok.VocabSize())), tok, torch.CPU)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	m.SetStage(prsmed.Stage2)
	f, _ := os.Create("/tmp/names.txt")
	defer f.Close()
	for _, e := range m.Store.Entries() {
		k := "P"
		if e.Kind != nn.Parameter {
			k = "B"
		}
		fmt.Fprintf(f, "%s %v %s %v %v\n", e.Name, e.Tensor.Shape(), k, e.Trainable, e.Tensor.DType())
	}
	fmt.Fprintln(f, "vocab", tok.VocabSize(), tok.BOS(), tok.EOS())
}
