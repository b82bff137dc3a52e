package train

import (
	"fmt"
	"math"
	"time"

	"github.com/prsmed/prsmed-go/prsmed"
	"github.com/prsmed/prsmed-go/prsmed/metrics"
)

// clock times a call of Run for the elapsed time and the ETA.
type clock struct {
	start       time.Time
	from, total int // steps done when Run began, and in the whole run
}

// eta is the time left at the pace of this call of Run so far.
func (c clock) eta(done int) (elapsed, left time.Duration, ok bool) {
	elapsed = time.Since(c.start)
	n := done - c.from
	if n <= 0 {
		return elapsed, 0, false
	}
	return elapsed, time.Duration(float64(elapsed) / float64(n) * float64(c.total-done)), true
}

func (t *Trainer) say(format string, args ...any) {
	if t.Cfg.Progress == nil || !t.writer() {
		return
	}
	if t.Cfg.Bar {
		fmt.Fprint(t.Cfg.Progress, "\r\033[K")
	}
	fmt.Fprintf(t.Cfg.Progress, format, args...)
}

func (t *Trainer) times(steps int) string {
	el, left, ok := t.clock.eta(t.doneSteps(steps))
	s := "elapsed " + el.Round(time.Second).String()
	if ok {
		s += " eta " + left.Round(time.Second).String()
	}
	return s
}

// progress redraws the progress bar after a step (Bar only).
func (t *Trainer) progress(epoch int, stage prsmed.Stage, steps int, lr float64) {
	if t.Cfg.Progress == nil || !t.Cfg.Bar || !t.writer() {
		return
	}
	p := t.state.Partial
	done := t.state.Step
	width := 24
	bar := make([]byte, width)
	for i := range bar {
		bar[i] = '.'
		if i < done*width/steps {
			bar[i] = '#'
		}
	}
	rate := float64(p.N) / math.Max(p.Seconds, 1e-9)
	fmt.Fprintf(t.Cfg.Progress, "\rstage %d epoch %d/%d [%s] %d/%d loss %.4f lr %.2e %.1f samples/s %s ",
		stage, epoch+1, t.totalEpochs(), bar, done, steps, p.Loss/math.Max(float64(p.N), 1), lr, rate, t.times(steps))
}

// report prints an epoch's summary line.
func (t *Trainer) report(es EpochStats) {
	if t.Cfg.Progress == nil || !t.writer() {
		return
	}
	t.say("stage %d epoch %d/%d loss %.4f (bce %.4f dice %.4f ce %.4f) %.1f samples/s", es.Stage, es.Epoch,
		t.totalEpochs(), es.Loss, es.BCE, es.Dice, es.CE, es.SamplesSec)
	if es.Skipped > 0 {
		fmt.Fprintf(t.Cfg.Progress, ", %d skipped", es.Skipped)
	}
	if es.Val != nil {
		o := es.Val.Overall
		fmt.Fprintf(t.Cfg.Progress, " | val mDice %.3f mIoU %.3f zone acc %.1f%%", o.MeanDice, o.MeanIoU, 100*o.ZoneAccuracy)
		if n := len(t.state.Validations); n > 0 {
			fmt.Fprint(t.Cfg.Progress, referText(t.state.Validations[n-1].Referring))
		}
	}
	fmt.Fprintf(t.Cfg.Progress, " | %s\n", t.times(t.stepsPerEpoch(t.sampler())))
}

// reportValidation prints a validation run between epochs' ends.
func (t *Trainer) reportValidation(v Validation) {
	o := v.Summary.Overall
	t.say("validation at epoch %d step %d (step %d of the run): mDice %.3f mIoU %.3f zone acc %.1f%%%s\n",
		v.Epoch, v.Step, v.GlobalStep, o.MeanDice, o.MeanIoU, 100*o.ZoneAccuracy, referText(v.Referring))
}

// referText is the referring part of a validation line ("" without referring scores).
func referText(r *metrics.Referring) string {
	if r == nil {
		return ""
	}
	return fmt.Sprintf(" referring acc %.1f%% masks alike %.2f", 100*r.Accuracy, r.Alike)
}
