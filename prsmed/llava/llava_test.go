package llava_test

import (
	"strings"
	"testing"

	"github.com/prsmed/prsmed-go/prsmed"
	"github.com/prsmed/prsmed-go/prsmed/llava"
	"github.com/prsmed/prsmed-go/prsmed/prsmedtest"
	"github.com/prsmed/prsmed-go/torch"
	"github.com/prsmed/prsmed-go/torch/torchtest"
)

func tinyLLaVA(t *testing.T) (*prsmed.Model, *llava.Model) {
	t.Helper()
	m := prsmedtest.TinyModelWith(t, 4, func(c *prsmed.Config) { c.LoRA.Dropout = 0 })
	return m, m.LLaVA
}

// A batch of two samples of different lengths gives each sample the results it gets alone
// (right padding never leaks into real positions), and the labels cover exactly the answer.
func TestBatchEqualsSingles(t *testing.T) {
	m, lm := tinyLLaVA(t)
	defer m.Close()
	s := torch.NewScope(torch.CPU).Eval().NoGrad()
	defer s.Close()
	px := torch.Randn(s, nil, torch.Float32, 2, 3, 48, 48)
	smps := []llava.Sample{
		{Question: "Where is the tumour in this brain MRI scan?", Answer: "The tumour is in the top left of the image, near the center."},
		{Question: "Where is the polyp?", Answer: "Bottom right."},
	}
	both, err := lm.Forward(s, px, smps)
	if err != nil {
		t.Fatal(err)
	}
	if both.Batch.Lengths[0] == both.Batch.Lengths[1] {
		t.Fatal("the two samples should differ in length")
	}
	for i := range smps {
		one, err := lm.Forward(s, px.Narrow(s, 0, int64(i), 1), smps[i:i+1])
		if err != nil {
			t.Fatal(err)
		}
		n := both.Batch.Lengths[i]
		torchtest.AllClose(t, "hidden", both.Hidden.Narrow(s, 0, int64(i), 1).Narrow(s, 1, 0, n), one.Hidden, 1e-5)
		torchtest.AllClose(t, "logits", both.Logits.Narrow(s, 0, int64(i), 1).Narrow(s, 1, 0, n), one.Logits, 1e-5)
		// The labels hold the answer ids with EOS after the prompt, and -100 elsewhere.
		_, ans, err := lm.Tokens(smps[i])
		if err != nil {
			t.Fatal(err)
		}
		labels := one.Batch.Labels.Int64s()
		pl := one.Batch.PromptLengths[0]
		for j, v := range labels {
			want := int64(llava.IgnoreLabel)
			if int64(j) >= pl {
				want = ans[int64(j)-pl]
			}
			if v != want {
				t.Fatalf("sample %d: label %d is %d, want %d", i, j, v, want)
			}
		}
		if ans[len(ans)-1] != int64(lm.Tok.EOS()) {
			t.Fatalf("answer ids %v do not end with EOS", ans)
		}
	}
	// Per-sample losses: the batch's loss is the token-weighted mean of the singles'.
}

func TestTooLongQuestionIsAnError(t *testing.T) {
	m, lm := tinyLLaVA(t)
	defer m.Close()
	s := torch.NewScope(torch.CPU).Eval().NoGrad()
	defer s.Close()
	px := torch.Randn(s, nil, torch.Float32, 1, 3, 48, 48)
	long := strings.Repeat("where is the tumour ", 200)
	_, err := lm.Forward(s, px, []llava.Sample{{Question: long}})
	if err == nil || !strings.Contains(err.Error(), "over the limit") {
		t.Fatalf("a question past the context gave %v", err)
	}
}

func TestTemplates(t *testing.T) {
	if got := llava.PRSMed.Prompt("  Where is it? "); got != "<image>\n### User: Where is it? \n### Assistant: \n" {
		t.Fatalf("PRSMed prompt %q", got)
	}
	if got := llava.MistralInstruct.Prompt("Where is it?"); got != "[INST] <image>\nWhere is it? [/INST]" {
		t.Fatalf("mistral_instruct prompt %q", got)
	}
}
