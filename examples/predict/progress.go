package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// progress draws a one-line bar with the rate and the time left, on a terminal only.
type progress struct {
	w            io.Writer
	on           bool
	total, start int // images in all, and already done when the run began
	t0, last     time.Time
}

// isTerminal reports whether f is a character device (a terminal).
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func newProgress(w io.Writer, on bool, total, already int) *progress {
	return &progress{w: w, on: on, total: total, start: already, t0: time.Now()}
}

// update redraws the bar for done images (at most ten times a second, and always at
// the end).
func (p *progress) update(done int) {
	if !p.on {
		return
	}
	now := time.Now()
	if done < p.total && now.Sub(p.last) < 100*time.Millisecond {
		return
	}
	p.last = now
	fmt.Fprint(p.w, "\r"+p.line(done, now.Sub(p.t0)))
}

// line formats the bar: "[#####.....] 120/600  12.3 img/s  ETA 0:39".
func (p *progress) line(done int, elapsed time.Duration) string {
	const width = 30
	fill := 0
	if p.total > 0 {
		fill = done * width / p.total
	}
	bar := strings.Repeat("#", fill) + strings.Repeat(".", width-fill)
	s := fmt.Sprintf("[%s] %d/%d", bar, done, p.total)
	if n := done - p.start; n > 0 && elapsed > 0 {
		rate := float64(n) / elapsed.Seconds()
		left := time.Duration(float64(p.total-done) / rate * float64(time.Second))
		s += fmt.Sprintf("  %.1f img/s  ETA %s", rate, clock(left))
	}
	return s + "   "
}

// finish ends the bar's line.
func (p *progress) finish() {
	if p.on {
		fmt.Fprintln(p.w)
	}
}

// clock formats d as h:mm:ss or m:ss.
func clock(d time.Duration) string {
	s := int(d.Round(time.Second).Seconds())
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}
