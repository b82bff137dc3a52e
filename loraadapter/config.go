package loraadapter

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// Config places and sizes LoRA adapters.
type Config struct {
	// R is the rank r of the update B·A.
	R int64
	// Alpha is lora_alpha: the update is scaled by Alpha/R (Alpha/√R with RSLoRA).
	Alpha float64
	// Dropout is the probability with which the adapter's input is zeroed in training
	// mode (PEFT's lora_dropout); 0 turns it off.
	Dropout float64
	// Targets are module-name suffixes, matched as PEFT matches a target_modules list: a
	// module is a target when its dotted name equals an entry or ends in "." + entry, so
	// "q_proj" names every model.layers.N.self_attn.q_proj and a full dotted name names
	// one module.
	Targets []string
	// Prefixes, when not empty, restrict the adapters to modules whose name starts with
	// one of them: ["model.layers."] keeps LoRA in the language model's decoder and out of
	// a CLIP vision tower whose q_proj/k_proj/v_proj the suffixes would also match.
	// PEFT has no such field; Save records it in the weight file's metadata.
	Prefixes []string
	// RSLoRA scales by Alpha/√R instead of Alpha/R (PEFT's use_rslora).
	RSLoRA bool
}

// DefaultConfig is PRS-Med's placement: rank 16, alpha 16 (scale 1), dropout 0.05 on the
// q, k, v and o projections of the decoder layers only.
func DefaultConfig() Config {
	return Config{
		R:        16,
		Alpha:    16,
		Dropout:  0.05,
		Targets:  []string{"q_proj", "k_proj", "v_proj", "o_proj"},
		Prefixes: []string{"model.layers."},
	}
}

// Scale is the factor s of the update: Alpha/R, or Alpha/√R with RSLoRA.
func (c Config) Scale() float64 {
	if c.RSLoRA {
		return c.Alpha / math.Sqrt(float64(c.R))
	}
	return c.Alpha / float64(c.R)
}

// Validate reports a config that cannot place adapters.
func (c Config) Validate() error {
	if bad := c.problems(); len(bad) > 0 {
		return fmt.Errorf("%w: %s", ErrConfig, strings.Join(bad, "; "))
	}
	return nil
}

func (c Config) problems() []string {
	var bad []string
	if c.R <= 0 {
		bad = append(bad, fmt.Sprintf("rank %d is not positive", c.R))
	}
	if !(c.Alpha > 0) || math.IsInf(c.Alpha, 0) {
		bad = append(bad, fmt.Sprintf("alpha %v is not a positive number", c.Alpha))
	}
	if !(c.Dropout >= 0 && c.Dropout < 1) {
		bad = append(bad, fmt.Sprintf("dropout %v is not in [0, 1)", c.Dropout))
	}
	if len(c.Targets) == 0 {
		bad = append(bad, "no target modules")
	}
	for _, t := range c.Targets {
		if t == "" || strings.HasPrefix(t, ".") || strings.HasSuffix(t, ".") {
			bad = append(bad, fmt.Sprintf("target %q is not a module name", t))
		}
	}
	return bad
}

// ErrConfig is wrapped by the errors of an unusable Config.
var ErrConfig = errors.New("loraadapter: bad config")

// Matches reports whether the module called name gets an adapter: it starts with one of
// the Prefixes (when there are any) and matches one of the Targets.
func (c Config) Matches(name string) bool {
	return c.inPrefixes(name) && c.target(name) >= 0
}

func (c Config) inPrefixes(name string) bool {
	if len(c.Prefixes) == 0 {
		return true
	}
	for _, p := range c.Prefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// target is the index of the first target that name matches, or -1.
func (c Config) target(name string) int {
	for i, t := range c.Targets {
		if matchTarget(t, name) {
			return i
		}
	}
	return -1
}

// matchTarget is PEFT's rule for a target_modules list entry.
func matchTarget(target, name string) bool {
	return name == target || strings.HasSuffix(name, "."+target)
}
