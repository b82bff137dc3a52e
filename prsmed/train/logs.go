package train

import (
	"fmt"
	"math"
	"path/filepath"
	"sort"

	"github.com/prsmed/prsmed-go/internal/atomicfile"
	"github.com/prsmed/prsmed-go/prsmed"
)

func (t *Trainer) progress(epoch int, stage prsmed.Stage, steps int, lr float64) {
	if t.Cfg.Progress == nil {
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
	fmt.Fprintf(t.Cfg.Progress, "\rstage %d epoch %d/%d [%s] %d/%d loss %.4f lr %.2e %.1f samples/s ",
		stage, epoch+1, t.totalEpochs(), bar, done, steps, p.Loss/math.Max(float64(p.N), 1), lr, rate)
}

func (t *Trainer) report(es EpochStats) {
	if t.Cfg.Progress == nil {
		return
	}
	fmt.Fprintf(t.Cfg.Progress, "\rstage %d epoch %d/%d loss %.4f (bce %.4f dice %.4f ce %.4f) %.1f samples/s",
		es.Stage, es.Epoch, t.totalEpochs(), es.Loss, es.BCE, es.Dice, es.CE, es.SamplesSec)
	if es.Val != nil {
		o := es.Val.Overall
		fmt.Fprintf(t.Cfg.Progress, " | val mDice %.3f mIoU %.3f zone acc %.1f%%", o.MeanDice, o.MeanIoU, 100*o.ZoneAccuracy)
	}
	fmt.Fprintln(t.Cfg.Progress)
}

// writeLogs writes log.csv and curves.png for the finished epochs.
func (t *Trainer) writeLogs() error {
	h := t.state.History
	var b []byte
	b = append(b, "epoch,stage,loss,bce,dice,ce,lr,samples_per_sec,val_mdice,val_miou,val_zone_acc\n"...)
	for _, e := range h {
		md, mi, za := math.NaN(), math.NaN(), math.NaN()
		if e.Val != nil {
			md, mi, za = e.Val.Overall.MeanDice, e.Val.Overall.MeanIoU, e.Val.Overall.ZoneAccuracy
		}
		b = append(b, fmt.Sprintf("%d,%d,%.6f,%.6f,%.6f,%.6f,%.3e,%.2f,%.4f,%.4f,%.4f\n", e.Epoch, e.Stage, e.Loss, e.BCE, e.Dice, e.CE, e.LR, e.SamplesSec, md, mi, za)...)
	}
	if err := atomicfile.Write(filepath.Join(t.Cfg.OutDir, "log.csv"), b); err != nil {
		return err
	}
	series := map[string][]float64{}
	for _, e := range h {
		series["train loss"] = append(series["train loss"], e.Loss)
		if e.Val != nil {
			series["val mDice"] = append(series["val mDice"], e.Val.Overall.MeanDice)
			series["val zone acc"] = append(series["val zone acc"], e.Val.Overall.ZoneAccuracy)
		}
	}
	names := make([]string, 0, len(series))
	for k := range series {
		names = append(names, k)
	}
	sort.Strings(names)
	return WriteCurves(filepath.Join(t.Cfg.OutDir, "curves.png"), names, series)
}
