package train

import (
	"fmt"
	"math"
	"path/filepath"
	"sort"

	"github.com/prsmed/prsmed-go/internal/atomicfile"
)

// writeLogs writes log.csv (one line per finished epoch), validation.csv (one line per
// validation) and curves.png.
func (t *Trainer) writeLogs() error {
	h := t.state.History
	var b []byte
	b = append(b, "epoch,stage,loss,bce,dice,ce,lr,samples_per_sec,val_mdice,val_miou,val_zone_acc,skipped,steps,seconds\n"...)
	for _, e := range h {
		md, mi, za := math.NaN(), math.NaN(), math.NaN()
		if e.Val != nil {
			md, mi, za = e.Val.Overall.MeanDice, e.Val.Overall.MeanIoU, e.Val.Overall.ZoneAccuracy
		}
		b = append(b, fmt.Sprintf("%d,%d,%.6f,%.6f,%.6f,%.6f,%.3e,%.2f,%.4f,%.4f,%.4f,%d,%d,%.1f\n", e.Epoch, e.Stage, e.Loss, e.BCE,
			e.Dice, e.CE, e.LR, e.SamplesSec, md, mi, za, e.Skipped, e.Steps, e.Seconds)...)
	}
	if err := atomicfile.Write(filepath.Join(t.Cfg.OutDir, "log.csv"), b); err != nil {
		return err
	}
	b = append(b[:0], "epoch,step,global_step,val_mdice,val_miou,val_zone_acc,best\n"...)
	for _, v := range t.state.Validations {
		o := v.Summary.Overall
		best := t.state.Best != nil && t.state.Best.GlobalStep == v.GlobalStep && t.state.Best.Epoch == v.Epoch && t.state.Best.Step == v.Step
		b = append(b, fmt.Sprintf("%d,%d,%d,%.4f,%.4f,%.4f,%v\n", v.Epoch, v.Step, v.GlobalStep, o.MeanDice, o.MeanIoU, o.ZoneAccuracy, best)...)
	}
	if err := atomicfile.Write(filepath.Join(t.Cfg.OutDir, "validation.csv"), b); err != nil {
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
