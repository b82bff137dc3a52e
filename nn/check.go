package nn

import "github.com/prsmed/prsmed-go/torch"

// Constructors take no error return; a configuration that PyTorch refuses at construction
// is refused here the same way, by panicking with a *torch.Error classified as
// torch.ErrInvalid (torch.Try and torch.Recover turn it into a returned error). Nothing is
// registered in the store before the check.

// invalid panics with a *torch.Error for a constructor argument PyTorch refuses.
func invalid(op, format string, args ...any) {
	torch.Fail(op, torch.ErrInvalid, format, args...)
}

// checkGroups is the check of torch.nn.GroupNorm and of the convolutions: groups positive
// and dividing every channel count given.
func checkGroups(op string, groups int64, channels map[string]int64) {
	if groups <= 0 {
		invalid(op, "groups must be a positive integer, got %d", groups)
	}
	for _, name := range []string{"num_channels", "in_channels", "out_channels"} {
		if c, ok := channels[name]; ok && c%groups != 0 {
			invalid(op, "%s (%d) must be divisible by the number of groups (%d)", name, c, groups)
		}
	}
}
