// Command llavamed answers a question about an image with LLaVA-Med v1.5 (CLIP
// ViT-L/14-336, the mlp2x_gelu projector and Mistral-7B), streaming the answer as it is
// generated. The model folder holds config.json, tokenizer.model and the weights
// (model.safetensors.index.json with its shards, or pytorch_model.bin.index.json). When the
// shards lack the vision tower, -clip names a CLIP checkpoint (openai's
// clip-vit-large-patch14-336 model.safetensors).
//
//	go run ./examples/llavamed -llava llava-med-v1.5-mistral-7b -image scan.png \
//	    -question "Where is the lesion?" [-clip clip-vit-large-patch14-336/model.safetensors] [-device cuda]
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/prsmed/prsmed-go/examples/internal/cli"
	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/prsmed/clip"
	"github.com/prsmed/prsmed-go/prsmed/imageio"
	"github.com/prsmed/prsmed-go/prsmed/llava"
	"github.com/prsmed/prsmed-go/prsmed/mistral"
	"github.com/prsmed/prsmed-go/prsmed/tokenizer"
	"github.com/prsmed/prsmed-go/torch"
)

func main() {
	c := cli.NewCommand("llavamed", "llavamed -llava DIR -image FILE -question TEXT [flags]",
		"Answers a question about an image with LLaVA-Med v1.5, streaming the answer to standard output as it is generated.")
	model := c.LLaVA("LLaVA-Med folder: config.json, tokenizer.model, weights")
	imagePath := c.Flags.String("image", "", "input image")
	question := c.Flags.String("question", "", "the question")
	clipPath := c.Flags.String("clip", "", "CLIP checkpoint, when the model's shards lack the vision tower")
	clipConfig := c.Flags.String("clip-config", "", "the vision tower's Hugging Face CLIP config.json (default: clip-vit-large-patch14-336)")
	template := c.Flags.String("template", "mistral_instruct", "prompt template: mistral_instruct or prsmed")
	maxTokens := c.Flags.Int("max-tokens", 256, "stop after this many tokens")
	temperature := c.Flags.Float64("temperature", 0, "sampling temperature (0: greedy)")
	topP := c.Flags.Float64("top-p", 0, "nucleus sampling mass (0: off)")
	seed := c.Flags.Uint64("seed", 0, "sampling seed")
	device := c.Device()
	dtype := c.Flags.String("dtype", "", "parameter dtype: float32, bfloat16 or float16 (default: bfloat16 on CUDA, float32 on the CPU)")
	threads := c.Threads()
	c.Parse(os.Args[1:], "llava", "image", "question")
	o := mistral.GenerateOptions{MaxNewTokens: *maxTokens, Temperature: *temperature, TopP: *topP}
	c.Main(func(ctx context.Context) error {
		dev, err := cli.Setup(*device, *threads)
		if err != nil {
			return err
		}
		return run(ctx, *model, *imagePath, *question, *clipPath, *clipConfig, *template, dev, *dtype, *seed, o)
	})
}

func run(ctx context.Context, dir, imagePath, question, clipPath, clipConfig, template string, dev torch.Device, dtype string, seed uint64, o mistral.GenerateOptions) error {
	cfgPath := filepath.Join(dir, "config.json")
	lmCfg, err := mistral.LoadConfig(cfgPath)
	if err != nil {
		return err
	}
	mm, err := clip.LoadLLaVAConfig(cfgPath)
	if err != nil {
		return err
	}
	vc := clip.ViTL14336()
	if clipConfig != "" {
		if vc, err = clip.LoadVisionConfig(clipConfig); err != nil {
			return err
		}
	}
	mm.Apply(&vc)
	tok, err := tokenizer.Load(filepath.Join(dir, "tokenizer.model"))
	if err != nil {
		return err
	}
	img, err := imageio.Load(imagePath)
	if err != nil {
		return err
	}
	path, err := llava.WeightsIn(dir)
	if err != nil {
		return err
	}

	st := nn.NewStore(torch.CPU)
	defer st.Close()
	switch {
	case dtype == "bfloat16" || (dtype == "" && dev.IsCUDA()):
		st.SetDType(torch.BFloat16)
	case dtype == "float16":
		st.SetDType(torch.Float16)
	case dtype == "" || dtype == "float32":
	default:
		return fmt.Errorf("unknown -dtype %q", dtype)
	}
	tower, err := clip.NewTower(st.Root().Sub(clip.LLaVATowerPath), vc)
	if err != nil {
		return err
	}
	proj, err := clip.NewProjector(st.Root().Sub(clip.LLaVAProjectorPath), mm.Projector())
	if err != nil {
		return err
	}
	lm, err := mistral.New(st.Root(), lmCfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "loading %s …\n", path)
	w, err := torch.OpenWeights(path)
	if err != nil {
		return err
	}
	defer w.Close()
	if _, err := st.LoadFrom(w, nn.LoadOptions{Only: []string{"model.embed_tokens.*", "model.layers.*", "model.norm.*", "lm_head.*"}}); err != nil {
		return err
	}
	if err := proj.LoadFrom(w); err != nil {
		return err
	}
	if err := tower.LoadFrom(w); err != nil {
		if clipPath == "" {
			return fmt.Errorf("%v (give the CLIP checkpoint with -clip)", err)
		}
		if err := tower.Load(clipPath); err != nil {
			return err
		}
	}
	if dev.IsCUDA() {
		if err := st.To(dev, torch.KeepDType); err != nil {
			return err
		}
	}

	tpl := llava.MistralInstruct
	if template == "prsmed" {
		tpl = llava.PRSMed
	} else if template != "mistral_instruct" {
		return fmt.Errorf("unknown -template %q", template)
	}
	m := &llava.Model{Vision: tower, Projector: proj, LM: lm, Tok: tok, Template: tpl}
	if o.Temperature > 0 {
		g, err := torch.NewGenerator(seed, dev)
		if err != nil {
			return err
		}
		defer g.Close()
		o.Generator = g
	}
	var ids []int
	printed := ""
	o.OnToken = func(_ int, id int64) bool {
		ids = append(ids, int(id))
		text := tok.Decode(ids)
		if strings.HasPrefix(text, printed) {
			fmt.Print(text[len(printed):])
			printed = text
		}
		return true
	}
	s := torch.NewScope(dev).Eval().NoGrad()
	defer s.Close()
	pre := mm.Preprocess()
	pre.Size = int(vc.ImageSize)
	px, err := clip.Preprocess(s, img, pre)
	if err != nil {
		return err
	}
	px = px.To(s, dev, st.DType())
	if _, _, _, err := m.Answer(ctx, s, px, []string{question}, o); err != nil {
		if errors.Is(err, context.Canceled) {
			fmt.Println()
		}
		return err
	}
	fmt.Println()
	return nil
}
