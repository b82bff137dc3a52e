// Command embed runs the TinySAM (TinyViT vit_t) image encoder on one image and writes the
// embedding to a safetensors file under the key "image_embedding" (1×256×G×G float32, G =
// size/16). It is how embeddings are cached, and how the encoder is checked from outside.
//
//	go run ./examples/embed -weights tinysam_42.3.pth -image scan.png -out scan.safetensors
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/prsmed/imageio"
	"github.com/prsmed/prsmed-go/prsmed/tinyvit"
	"github.com/prsmed/prsmed-go/torch"
)

func main() {
	weights := flag.String("weights", "", "encoder weights: tinysam_42.3.pth, a PRS-Med checkpoint, or safetensors (required)")
	imagePath := flag.String("image", "", "input image: PNG, JPEG, BMP or TIFF (required)")
	size := flag.Int64("size", 1024, "input size S (a multiple of 16); the embedding is S/16 on a side")
	config := flag.String("config", "vit_t", `encoder config: "vit_t" or a JSON file with tinyvit.Config fields`)
	out := flag.String("out", "", "output safetensors file (required)")
	threads := flag.Int("threads", 0, "intra-op threads (0: libtorch's default)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: embed -weights FILE -image FILE -out FILE [flags]\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *weights == "" || *imagePath == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "embed: -weights, -image and -out are required (see -h)")
		os.Exit(2)
	}
	if err := run(*weights, *imagePath, *config, *out, *size, *threads); err != nil {
		fmt.Fprintln(os.Stderr, "embed:", err)
		os.Exit(1)
	}
}

func run(weights, imagePath, config, out string, size int64, threads int) (err error) {
	defer torch.Recover(&err)
	if threads > 0 {
		torch.SetNumThreads(threads)
	}
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
	st := nn.NewStore(torch.CPU)
	defer st.Close()
	enc, err := tinyvit.New(st.Root(), cfg)
	if err != nil {
		return err
	}
	if err := tinyvit.Load(st, weights); err != nil {
		return err
	}
	s := torch.NewScope(torch.CPU).NoGrad()
	defer s.Close()
	start := time.Now()
	emb := enc.Forward(s, tinyvit.Preprocess(s, img, size))
	fmt.Fprintf(os.Stderr, "embed: %s → %v in %.2fs\n", imagePath, emb.Shape(), time.Since(start).Seconds())
	return torch.SaveSafetensors(out, map[string]*torch.Tensor{"image_embedding": emb},
		map[string]string{"image": imagePath, "weights": weights, "size": fmt.Sprint(size)})
}
