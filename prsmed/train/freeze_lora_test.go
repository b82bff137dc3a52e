package train_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/prsmed/prsmed-go/prsmed"
	"github.com/prsmed/prsmed-go/prsmed/prsmedtest"
)

// TestStage2FreezeLoRA: with Config.Stage2FreezeLoRA a stage-2 run leaves every language
// model tensor (LoRA adapters included) as it was and still trains TinyViT, fusion and
// decoder; without it the same run trains the adapters.
func TestStage2FreezeLoRA(t *testing.T) {
	ds := synthSet(t, 16)
	for _, tt := range []struct {
		name       string
		freeze     bool
		wantLoRA   bool // some LoRA tensor changed
		wantOthers bool // some image_encoder., fusion. and decoder. tensor changed
	}{
		{"frozen", true, false, true},
		{"trained", false, true, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := prsmedtest.TinyModel(t, 4)
			defer m.Close()
			before := snapshot(m)
			tc := trainCfg("", 0, 1)
			tc.Stage2FreezeLoRA = tt.freeze
			tr := runTrainer(t, m, ds.Samples("train"), nil, tc)
			defer tr.Close()
			var loraElems int64
			for name, x := range m.Store.Tensors() {
				if strings.Contains(name, ".lora_") {
					loraElems += x.Numel()
				}
			}
			want := m.TrainableCount(prsmed.Stage2)
			if tt.freeze {
				want -= loraElems
			}
			if got := tr.TrainableCount(prsmed.Stage2); loraElems == 0 || got != want {
				t.Errorf("Trainer.TrainableCount(Stage2) = %d, want %d (LoRA elements %d)", got, want, loraElems)
			}
			changed := map[string]int{}
			var lora, lm int
			for name, x := range m.Store.Tensors() {
				if slices.Equal(x.Float64s(), before[name]) {
					continue
				}
				isLoRA := strings.Contains(name, ".lora_")
				switch {
				case isLoRA:
					lora++
				case strings.HasPrefix(name, "model.") || strings.HasPrefix(name, "lm_head."):
					lm++
				default:
					changed[name[:strings.Index(name, ".")]]++
				}
			}
			if lm != 0 {
				t.Errorf("stage 2 changed %d base tensors of the language model", lm)
			}
			if got := lora > 0; got != tt.wantLoRA {
				t.Errorf("%d LoRA tensors changed; want changes: %v", lora, tt.wantLoRA)
			}
			for _, part := range []string{"image_encoder", "fusion", "decoder"} {
				if (changed[part] > 0) != tt.wantOthers {
					t.Errorf("%s: %d tensors changed; want changes: %v", part, changed[part], tt.wantOthers)
				}
			}
		})
	}
}
