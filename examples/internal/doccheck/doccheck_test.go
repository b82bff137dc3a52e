package doccheck

import (
	"flag"
	"strings"
	"testing"
)

func TestTableFromPrintDefaults(t *testing.T) {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.Int("batch", 16, "samples per forward pass")
	fs.String("device", "cpu", "cpu, cuda or cuda:N")
	fs.Bool("resume", false, "continue | resume")
	fs.String("out", "", "output `folder` (required)")
	var b strings.Builder
	fs.SetOutput(&b)
	fs.PrintDefaults()
	got, err := Table(b.String())
	if err != nil {
		t.Fatal(err)
	}
	want := "| flag | meaning (default) |\n|---|---|\n" +
		"| `-batch` | samples per forward pass (default 16) |\n" +
		"| `-device` | cpu, cuda or cuda:N (default \"cpu\") |\n" +
		"| `-out` | output folder (required) |\n" +
		"| `-resume` | continue \\| resume |\n"
	if got != want {
		t.Errorf("table:\n%s\nwant:\n%s", got, want)
	}
}
