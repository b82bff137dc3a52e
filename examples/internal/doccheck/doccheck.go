// Package doccheck keeps the flag tables in docs/ and the README equal to what the commands
// print for -h: a table sits between <!-- flags: NAME --> and <!-- end flags --> and is
// generated from the help text, so a test fails when the two differ and
// PRSMED_UPDATE_DOCS=1 rewrites the table.
package doccheck

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"
)

// Table renders flag.PrintDefaults output (what -h prints under the usage line) as a
// Markdown table, one row per flag in the order printed: the flag, and its help text with
// the default as the flag package prints it.
func Table(help string) (string, error) {
	type row struct{ name, text string }
	var rows []row
	sc := bufio.NewScanner(strings.NewReader(help))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "  -"):
			f := strings.Fields(line[3:])
			rows = append(rows, row{name: f[0]})
		case strings.HasPrefix(line, "    \t") && len(rows) > 0:
			r := &rows[len(rows)-1]
			r.text = strings.TrimSpace(r.text + " " + strings.TrimSpace(line))
		}
	}
	if len(rows) == 0 {
		return "", fmt.Errorf("doccheck: no flags in the help text:\n%s", help)
	}
	var b strings.Builder
	b.WriteString("| flag | meaning (default) |\n|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| `-%s` | %s |\n", r.name, strings.ReplaceAll(r.text, "|", `\|`))
	}
	return b.String(), nil
}

// Check compares the table named name in the Markdown file path with Table(help); with
// PRSMED_UPDATE_DOCS=1 in the environment it writes the generated table there instead.
func Check(t *testing.T, path, name, help string) {
	t.Helper()
	want, err := Table(help)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	open := "<!-- flags: " + name + " -->\n"
	const end = "<!-- end flags -->"
	i := strings.Index(doc, open)
	if i < 0 {
		t.Fatalf("%s has no %q marker for the flag table of %s", path, strings.TrimSpace(open), name)
	}
	j := strings.Index(doc[i:], end)
	if j < 0 {
		t.Fatalf("%s: the %s table has no %q after it", path, name, end)
	}
	got := doc[i+len(open) : i+j]
	if got == want {
		return
	}
	if os.Getenv("PRSMED_UPDATE_DOCS") == "1" {
		if err := os.WriteFile(path, []byte(doc[:i+len(open)]+want+doc[i+j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("rewrote the %s flag table in %s", name, path)
		return
	}
	t.Errorf("the %s flag table in %s differs from %s -h (run the test with PRSMED_UPDATE_DOCS=1 to rewrite it):\n--- doc\n%s--- -h\n%s", name, path, name, got, want)
}
