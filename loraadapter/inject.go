package loraadapter

import (
	"fmt"
	"strings"

	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/torch"
)

// Adapters are the LoRA layers of a model, in the order of its slots.
type Adapters []*Linear

// Inject replaces, in place, every slot whose name cfg matches (see Config.Matches) with a
// *Linear wrapping the *nn.Linear it held (see Wrap), registering
// <slot>.lora_A.weight and <slot>.lora_B.weight in st. Only those tensors of the wrapped
// layers stay trainable: their base weights and biases are frozen; the rest of the store
// is left as it was (OnlyLoRATrainable freezes it as PEFT's get_peft_model does).
//
// It changes nothing and returns an error when cfg is invalid, when a target matches no
// slot (within the Prefixes), when two slots share a name, or when a matching slot holds
// anything but a non-nil *nn.Linear (an already injected *Linear included).
func Inject(st *nn.Store, slots []nn.LinearSlot, cfg Config) (Adapters, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	picked, err := pick(slots, cfg, true)
	if err != nil {
		return nil, err
	}
	return injectSlots(st, picked, cfg)
}

// pick returns the slots cfg matches, checking each one's layer; with everyTarget it also
// requires each target to match at least one slot.
func pick(slots []nn.LinearSlot, cfg Config, everyTarget bool) ([]nn.LinearSlot, error) {
	seen := map[string]bool{}
	hits := make([]int, len(cfg.Targets))
	var picked []nn.LinearSlot
	var bad []string
	for _, sl := range slots {
		if seen[sl.Name] {
			bad = append(bad, fmt.Sprintf("two slots are called %q", sl.Name))
			continue
		}
		seen[sl.Name] = true
		if !cfg.inPrefixes(sl.Name) {
			continue
		}
		hit := false
		for i, t := range cfg.Targets {
			if matchTarget(t, sl.Name) {
				hits[i]++
				hit = true
			}
		}
		if !hit {
			continue
		}
		if err := checkSlot(sl); err != nil {
			bad = append(bad, err.Error())
			continue
		}
		picked = append(picked, sl)
	}
	if everyTarget {
		for i, n := range hits {
			if n == 0 {
				where := ""
				if len(cfg.Prefixes) > 0 {
					where = " under " + strings.Join(cfg.Prefixes, ", ")
				}
				bad = append(bad, fmt.Sprintf("target %q matches no module%s", cfg.Targets[i], where))
			}
		}
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("loraadapter: cannot inject: %s", strings.Join(bad, "; "))
	}
	return picked, nil
}

func checkSlot(sl nn.LinearSlot) error {
	if sl.Name == "" {
		return fmt.Errorf("a slot has no name")
	}
	if sl.Layer == nil || *sl.Layer == nil {
		return fmt.Errorf("slot %s holds no layer", sl.Name)
	}
	switch l := (*sl.Layer).(type) {
	case *nn.Linear:
		if l == nil || l.Weight == nil {
			return fmt.Errorf("slot %s holds a nil *nn.Linear", sl.Name)
		}
		if l.Weight.Dim() != 2 {
			return fmt.Errorf("slot %s: weight has shape %v, want (out, in)", sl.Name, l.Weight.Shape())
		}
		return nil
	case *Linear:
		return fmt.Errorf("slot %s already holds a LoRA layer", sl.Name)
	default:
		return fmt.Errorf("slot %s holds a %T, not a *nn.Linear", sl.Name, l)
	}
}

// injectSlots wraps checked slots.
func injectSlots(st *nn.Store, slots []nn.LinearSlot, cfg Config) (ads Adapters, err error) {
	defer torch.Recover(&err)
	names := tensorNames(st)
	for _, sl := range slots {
		l := wrap(st.Root().Sub(sl.Name), (*sl.Layer).(*nn.Linear), cfg, names)
		*sl.Layer = l
		ads = append(ads, l)
	}
	return ads, nil
}

// OnlyLoRATrainable freezes every parameter of st but the LoRA tensors
// (*.lora_A.weight, *.lora_B.weight), as PEFT's get_peft_model does with bias "none", and
// returns the number of LoRA tensors left trainable.
func OnlyLoRATrainable(st *nn.Store) int {
	st.Freeze("*")
	st.Unfreeze("*.lora_A.weight", "*.lora_B.weight")
	return len(st.TrainableNames())
}

// MergeAll merges every adapter (see Linear.Merge); on an error the ones before stay merged.
func (a Adapters) MergeAll() error {
	for _, l := range a {
		if err := l.Merge(); err != nil {
			return fmt.Errorf("loraadapter: merging %s: %w", l.Name, err)
		}
	}
	return nil
}

// UnmergeAll unmerges every adapter (see Linear.Unmerge).
func (a Adapters) UnmergeAll() error {
	for _, l := range a {
		if err := l.Unmerge(); err != nil {
			return fmt.Errorf("loraadapter: unmerging %s: %w", l.Name, err)
		}
	}
	return nil
}

// TrainableNames lists the store names of the adapters' tensors: each module's
// lora_A.weight then lora_B.weight, in adapter order.
func (a Adapters) TrainableNames() []string {
	out := make([]string, 0, 2*len(a))
	for _, l := range a {
		out = append(out, l.ParamNames()...)
	}
	return out
}

// Params lists the adapters' tensors (A then B of each), for an optimizer.
func (a Adapters) Params() []*torch.Tensor {
	out := make([]*torch.Tensor, 0, 2*len(a))
	for _, l := range a {
		out = append(out, l.A, l.B)
	}
	return out
}

// Get finds the adapter of a module by name.
func (a Adapters) Get(name string) (*Linear, bool) {
	for _, l := range a {
		if l.Name == name {
			return l, true
		}
	}
	return nil, false
}

// NumParams counts the adapters' elements.
func (a Adapters) NumParams() int64 {
	var n int64
	for _, l := range a {
		n += l.A.Numel() + l.B.Numel()
	}
	return n
}
