package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// IsTerminal reports whether f is a character device (an interactive terminal), where a
// redrawn progress bar makes sense; in a log file it would be noise.
func IsTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Progress reports how far a long piece of work has come, on standard error: a bar
// redrawn in place with the rate and the time left when standard error is a terminal, and
// otherwise a plain line at every tenth of the work, so logs stay readable. It never writes
// to standard output, which carries the results.
type Progress struct {
	w        io.Writer
	tty      bool
	what     string
	total    int
	start    time.Time
	lastTen  int
	lastDraw time.Time
	now      func() time.Time
}

// NewProgress starts reporting total units of work ("images", "samples").
func NewProgress(total int, what string) *Progress {
	return newProgress(os.Stderr, IsTerminal(os.Stderr), total, what, time.Now)
}

func newProgress(w io.Writer, tty bool, total int, what string, now func() time.Time) *Progress {
	return &Progress{w: w, tty: tty, what: what, total: total, start: now(), now: now}
}

// Update reports done units finished.
func (p *Progress) Update(done int) {
	if p.total <= 0 {
		return
	}
	now := p.now()
	el := now.Sub(p.start)
	line := fmt.Sprintf("%d/%d %s", done, p.total, p.what)
	if done > 0 {
		rate := float64(done) / el.Seconds()
		left := time.Duration(float64(p.total-done) / rate * float64(time.Second))
		line += fmt.Sprintf(", %.1f/s, %s elapsed, ETA %s", rate, el.Round(time.Second), left.Round(time.Second))
	}
	if p.tty {
		if done < p.total && now.Sub(p.lastDraw) < 100*time.Millisecond {
			return
		}
		p.lastDraw = now
		const width = 24
		n := done * width / p.total
		fmt.Fprintf(p.w, "\r[%s%s] %s\x1b[K", strings.Repeat("#", n), strings.Repeat(".", width-n), line)
		return
	}
	if ten := done * 10 / p.total; ten > p.lastTen {
		p.lastTen = ten
		fmt.Fprintln(p.w, line)
	}
}

// Done ends the report (a terminal's bar gets its newline).
func (p *Progress) Done() {
	if p.tty {
		fmt.Fprintln(p.w)
	}
}
