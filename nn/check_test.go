package nn_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/torch"
)

// TestConstructorsRefuseWhatPyTorchRefuses: each configuration below is refused by
// PyTorch 1.13's constructor (the message quoted), and is refused here at construction with
// a *torch.Error that torch.Try catches, classified torch.ErrInvalid; the accepted ones are
// accepted by PyTorch too.
func TestConstructorsRefuseWhatPyTorchRefuses(t *testing.T) {
	cases := []struct {
		name string
		make func(p nn.Path)
		want string // "" when PyTorch accepts it
	}{
		// ValueError: num_channels must be divisible by num_groups
		{"GroupNorm 8 over 30", func(p nn.Path) { nn.NewGroupNorm(p, 8, 30, 1e-5) }, "num_channels (30) must be divisible"},
		// ZeroDivisionError: integer modulo by zero
		{"GroupNorm 0 groups", func(p nn.Path) { nn.NewGroupNorm(p, 0, 30, 1e-5) }, "groups must be a positive integer"},
		{"GroupNorm 2 over 30", func(p nn.Path) { nn.NewGroupNorm(p, 2, 30, 1e-5) }, ""},
		// ValueError: in_channels must be divisible by groups
		{"Conv2d in 6 groups 4", func(p nn.Path) { nn.NewConv2d(p, 6, 4, 3, nn.ConvConfig{Groups: 4}) }, "in_channels (6)"},
		// ValueError: out_channels must be divisible by groups
		{"Conv2d out 6 groups 4", func(p nn.Path) { nn.NewConv2d(p, 4, 6, 3, nn.ConvConfig{Groups: 4}) }, "out_channels (6)"},
		// ValueError: groups must be a positive integer
		{"Conv2d groups -1", func(p nn.Path) { nn.NewConv2d(p, 4, 4, 3, nn.ConvConfig{Groups: -1}) }, "groups must be a positive integer"},
		{"ConvTranspose2d in 6 groups 4", func(p nn.Path) { nn.NewConvTranspose2d(p, 6, 4, 3, nn.ConvConfig{Groups: 4}) }, "in_channels (6)"},
		// AssertionError: embed_dim must be divisible by num_heads
		{"MultiheadAttention 10 by 3", func(p nn.Path) { nn.NewMultiheadAttention(p, 10, 3, true) }, "embed_dim (10) must be divisible by num_heads (3)"},
		{"MultiheadAttention 12 by 3", func(p nn.Path) { nn.NewMultiheadAttention(p, 12, 3, true) }, ""},
		// ValueError: dropout probability has to be between 0 and 1, but got 1.5
		{"Dropout 1.5", func(nn.Path) { nn.NewDropout(1.5) }, "between 0 and 1, but got 1.5"},
		{"Dropout -0.1", func(nn.Path) { nn.NewDropout(-0.1) }, "between 0 and 1, but got -0.1"},
		{"Dropout 1", func(nn.Path) { nn.NewDropout(1) }, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := nn.NewStore(torch.CPU)
			defer st.Close()
			err := torch.Try(func() { c.make(st.Root().Sub("m")) })
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.want == "":
				return
			case err == nil:
				t.Fatal("accepted; PyTorch refuses it at construction")
			case !errors.Is(err, torch.ErrInvalid) || !strings.Contains(err.Error(), c.want):
				t.Fatalf("error %v, want torch.ErrInvalid naming %q", err, c.want)
			}
			if n := len(st.Names()); n != 0 {
				t.Errorf("%d entries registered by a refused constructor", n)
			}
		})
	}
}

// TestRegisterTwiceIsTorchError: registering a name twice panics with a *torch.Error (so
// torch.Try catches it) naming the entry.
func TestRegisterTwiceIsTorchError(t *testing.T) {
	st := nn.NewStore(torch.CPU)
	defer st.Close()
	p := st.Root().Sub("head")
	nn.NewLinear(p, 2, 2, nn.LinearConfig{})
	err := torch.Try(func() { nn.NewLinear(p, 2, 2, nn.LinearConfig{}) })
	var te *torch.Error
	if !errors.As(err, &te) || !errors.Is(err, torch.ErrInvalid) || !strings.Contains(err.Error(), `"head.weight" is registered twice`) {
		t.Fatalf("error %v, want a *torch.Error (ErrInvalid) naming head.weight", err)
	}
	if err := torch.Try(func() { nn.Fans([]int64{3}) }); !errors.Is(err, torch.ErrInvalid) {
		t.Errorf("Fans of a 1-d shape: %v, want a *torch.Error (ErrInvalid)", err)
	}
}
