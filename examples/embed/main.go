// Command embed runs the TinySAM (TinyViT vit_t) image encoder on one image and writes the
// embedding to a safetensors file under the key "image_embedding" (1×256×G×G float32, G =
// size/16). It is how embeddings are cached, and how the encoder is checked from outside.
//
//	go run ./examples/embed -tinysam tinysam_42.3.pth -image scan.png -out scan.safetensors
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/prsmed/prsmed-go/examples/internal/cli"
	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/prsmed/imageio"
	"github.com/prsmed/prsmed-go/prsmed/tinyvit"
	"github.com/prsmed/prsmed-go/torch"
)

func main() {
	c := cli.NewCommand("embed", "embed -tinysam FILE -image FILE -out FILE.safetensors [flags]",
		"Runs the TinySAM (TinyViT vit_t) image encoder on one image and writes the embedding under the key \"image_embedding\".")
	weights := c.TinySAM("encoder weights: tinysam_42.3.pth, a PRS-Med checkpoint's model.safetensors, or safetensors")
	imagePath := c.Flags.String("image", "", "input image: PNG, JPEG, BMP or TIFF")
	size := c.Flags.Int64("size", 1024, "input size S (a multiple of 16); the embedding is S/16 on a side")
	config := c.Flags.String("config", "vit_t", `encoder config: "vit_t" or a JSON file with tinyvit.Config fields`)
	out := c.Flags.String("out", "", "output safetensors file")
	device := c.Device()
	threads := c.Threads()
	c.Parse(os.Args[1:], "tinysam", "image", "out")
	c.Main(func(ctx context.Context) error {
		dev, err := cli.Setup(*device, *threads)
		if err != nil {
			return err
		}
		return run(*weights, *imagePath, *config, *out, *size, dev)
	})
}

func run(weights, imagePath, config, out string, size int64, dev torch.Device) error {
	cfg, err := tinyvit.LoadConfig(config)
	if err != nil {
		return err
	}
	cfg.ImageSize = size
	if err := cfg.Validate(); err != nil {
		return err
	}
	img, err := imageio.Load(imagePath)
	if err != nil {
		return err
	}
	st := nn.NewStore(dev)
	defer st.Close()
	enc, err := tinyvit.New(st.Root(), cfg)
	if err != nil {
		return err
	}
	if err := tinyvit.Load(st, weights); err != nil {
		return err
	}
	s := torch.NewScope(dev).Eval().NoGrad()
	defer s.Close()
	start := time.Now()
	x := tinyvit.Preprocess(s.On(torch.CPU), img, size).ToDevice(s, dev)
	emb := enc.Forward(s, x).ToDevice(s, torch.CPU)
	fmt.Fprintf(os.Stderr, "embed: %s → %v in %.2fs\n", imagePath, emb.Shape(), time.Since(start).Seconds())
	return torch.SaveSafetensors(out, map[string]*torch.Tensor{"image_embedding": emb},
		map[string]string{"image": imagePath, "weights": weights, "size": fmt.Sprint(size)})
}
