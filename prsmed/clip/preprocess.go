package clip

import (
	"fmt"
	"image"
	"image/color"
	"math"

	"github.com/prsmed/prsmed-go/prsmed/imageio"
	"github.com/prsmed/prsmed-go/torch"
)

// CLIP's normalisation (OPENAI_CLIP_MEAN / OPENAI_CLIP_STD in transformers).
var (
	Mean = [3]float64{0.48145466, 0.4578275, 0.40821073}
	Std  = [3]float64{0.26862954, 0.26130258, 0.27577711}
)

// PreprocessConfig is LLaVA's process_images with CLIPImageProcessor's settings.
type PreprocessConfig struct {
	// Size is the shortest edge after the resize and the side of the centre crop (336).
	Size int
	// Pad expands the image to a square filled with the mean colour before resizing
	// (image_aspect_ratio "pad", LLaVA-Med's setting); without it the centre crop cuts the
	// long side.
	Pad bool
	// Mean and Std normalise each channel after rescaling.
	Mean, Std [3]float64
	// RescaleFactor maps 8-bit values to [0, 1] (1/255).
	RescaleFactor float64
}

// DefaultPreprocess is LLaVA-Med v1.5's preprocessing: pad, 336 px, CLIP mean and std.
func DefaultPreprocess() PreprocessConfig {
	return PreprocessConfig{Size: 336, Pad: true, Mean: Mean, Std: Std, RescaleFactor: 1.0 / 255}
}

// PadFill is the colour expand2square fills with, as llava/mm_utils.py computes it (with
// int(), i.e. truncation): per channel int(255·mean) = (122, 116, 104) for a colour image,
// and for a one-channel image (PIL mode "L") the gray int(255·Σmean/3) = 114.
func (c PreprocessConfig) PadFill(channels int) []uint8 {
	if channels == 1 {
		sum := c.Mean[0] + c.Mean[1] + c.Mean[2]
		return []uint8{uint8(int(255 * sum / 3))}
	}
	out := make([]uint8, channels)
	for i := range out {
		out[i] = uint8(int(c.Mean[i%3] * 255))
	}
	return out
}

// Image8 is an 8-bit image with C channels (1 for gray, 3 for RGB) stored as planes:
// Pix[c·H·W + y·W + x].
type Image8 struct {
	W, H, C int
	Pix     []uint8
}

// NewImage8 makes a zeroed image.
func NewImage8(w, h, c int) Image8 { return Image8{W: w, H: h, C: c, Pix: make([]uint8, w*h*c)} }

// At is the value of channel c at (x, y).
func (m Image8) At(c, x, y int) uint8 { return m.Pix[(c*m.H+y)*m.W+x] }

// plane is channel c's pixels.
func (m Image8) plane(c int) []uint8 { return m.Pix[c*m.W*m.H : (c+1)*m.W*m.H] }

// ToImage8 converts a decoded image to 8-bit planes as PIL holds it: gray images (8-bit, and
// 16-bit rounded to 8 bits) keep one channel like PIL's mode "L"; everything else becomes RGB
// with alpha dropped without compositing, as PIL's convert("RGB"). JPEGs are converted
// from YCbCr with Go's color.YCbCrToRGB.
func ToImage8(img image.Image) Image8 {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	n := w * h
	if imageio.IsGray(img) {
		m := NewImage8(w, h, 1)
		switch g := img.(type) {
		case *image.Gray:
			for y := 0; y < h; y++ {
				copy(m.Pix[y*w:(y+1)*w], g.Pix[y*g.Stride:y*g.Stride+w])
			}
		default:
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					v := color.Gray16Model.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.Gray16).Y
					m.Pix[y*w+x] = uint8((uint32(v) + 128) / 257)
				}
			}
		}
		return m
	}
	m := NewImage8(w, h, 3)
	set := func(i int, r, g, bl uint8) { m.Pix[i], m.Pix[n+i], m.Pix[2*n+i] = r, g, bl }
	switch s := img.(type) {
	case *image.NRGBA:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				p := s.Pix[y*s.Stride+4*x:]
				set(y*w+x, p[0], p[1], p[2])
			}
		}
	case *image.RGBA:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				p := s.Pix[y*s.Stride+4*x:]
				if p[3] == 255 {
					set(y*w+x, p[0], p[1], p[2])
					continue
				}
				c := color.NRGBAModel.Convert(color.RGBA{R: p[0], G: p[1], B: p[2], A: p[3]}).(color.NRGBA)
				set(y*w+x, c.R, c.G, c.B)
			}
		}
	case *image.YCbCr:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				yi, ci := s.YOffset(b.Min.X+x, b.Min.Y+y), s.COffset(b.Min.X+x, b.Min.Y+y)
				r, g, bl := color.YCbCrToRGB(s.Y[yi], s.Cb[ci], s.Cr[ci])
				set(y*w+x, r, g, bl)
			}
		}
	default:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				c := color.NRGBA64Model.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA64)
				set(y*w+x, uint8(c.R>>8), uint8(c.G>>8), uint8(c.B>>8))
			}
		}
	}
	return m
}

// ExpandToSquare is LLaVA's expand2square: a square canvas of the long side filled with
// fill (one value per channel) with the image pasted at offset (long−short)/2 along the short
// side. (LLaVA-Med draws that offset at random from {d/2, d/2+1}; upstream LLaVA, and this
// function, use d/2.) A square image is returned as it is.
func ExpandToSquare(m Image8, fill []uint8) Image8 {
	if m.W == m.H {
		return m
	}
	if len(fill) != m.C {
		panic(fmt.Sprintf("clip: %d fill values for a %d-channel image", len(fill), m.C))
	}
	side := max(m.W, m.H)
	ox, oy := 0, 0
	if m.W > m.H {
		oy = (m.W - m.H) / 2
	} else {
		ox = (m.H - m.W) / 2
	}
	out := NewImage8(side, side, m.C)
	for c := 0; c < m.C; c++ {
		dst, src := out.plane(c), m.plane(c)
		for i := range dst {
			dst[i] = fill[c]
		}
		for y := 0; y < m.H; y++ {
			copy(dst[(y+oy)*side+ox:(y+oy)*side+ox+m.W], src[y*m.W:(y+1)*m.W])
		}
	}
	return out
}

// PIL's 8-bit resampling keeps coefficients in fixed point with 22 fractional bits
// (PRECISION_BITS = 32 − 8 − 2 in libImaging/Resample.c).
const precisionBits = 22

// bicubic is PIL's bicubic_filter, a = −0.5. The float64() conversions keep Go from fusing a
// multiply and an add into one FMA, which would round differently from the C code.
func bicubic(x float64) float64 {
	const a = -0.5
	if x < 0 {
		x = -x
	}
	if x < 1 { // ((a + 2)·x − (a + 3))·x·x + 1
		t := float64((a+2)*x) - (a + 3)
		t = float64(t * x)
		t = float64(t * x)
		return t + 1
	}
	if x < 2 { // (((x − 5)·x + 8)·x − 4)·a
		t := float64((x-5)*x) + 8
		t = float64(t*x) - 4
		return t * a
	}
	return 0
}

// coeffs is PIL's precompute_coeffs + normalize_coeffs_8bpc for the bicubic filter and the
// full input range: for each output index the first input index, the number of taps and
// ksize fixed-point weights.
func coeffs(inSize, outSize int) (bounds []int, kk []int32, ksize int) {
	scale := float64(inSize) / float64(outSize)
	filterscale := max(scale, 1)
	support := 2 * filterscale // the filter's support grows with the downscale factor: antialiasing
	ksize = int(math.Ceil(support))*2 + 1
	bounds = make([]int, 2*outSize)
	kk = make([]int32, outSize*ksize)
	pre := make([]float64, ksize)
	for xx := 0; xx < outSize; xx++ {
		center := float64(float64(xx)+0.5) * scale
		ss := 1 / filterscale
		xmin := int(center - support + 0.5) // C's (int) truncates toward zero, as Go's does
		xmin = max(xmin, 0)
		xmax := int(center + support + 0.5)
		xmax = min(xmax, inSize) - xmin
		ww := 0.0
		for x := 0; x < xmax; x++ {
			w := bicubic(float64(float64(x+xmin)-center+0.5) * ss)
			pre[x] = w
			ww += w
		}
		k := kk[xx*ksize : (xx+1)*ksize]
		for x := 0; x < xmax; x++ {
			v := pre[x]
			if ww != 0 {
				v /= ww
			}
			if v < 0 {
				k[x] = int32(-0.5 + v*(1<<precisionBits))
			} else {
				k[x] = int32(0.5 + v*(1<<precisionBits))
			}
		}
		bounds[2*xx], bounds[2*xx+1] = xmin, xmax
	}
	return bounds, kk, ksize
}

// clip8 is PIL's clip8: the accumulator shifted down to 8 bits and clamped to [0, 255].
func clip8(ss int32) uint8 {
	v := ss >> precisionBits
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// ResizeBicubic resizes to w×h as PIL's Image.resize(size, Image.BICUBIC) does for 8-bit
// images (Pillow's libImaging/Resample.c, ImagingResample): a separable convolution with
// the a = −0.5 cubic kernel whose support is scaled by the downscale factor (antialiased),
// weights normalised per output pixel and rounded to 22-bit fixed point, a horizontal pass
// rounded and clamped to uint8 (only the rows the vertical pass reads), then a vertical pass
// rounded and clamped again. A pass whose size does not change is skipped, as in PIL.
//
// The integer arithmetic is PIL's, so results are bit-identical given identical weights. The
// weights come from the same float64 operations in the same order; a build of Pillow whose
// compiler fuses multiply-adds (FMA contraction, e.g. some aarch64 builds) or Pillow-SIMD
// (different fixed-point precision) can round a weight differently, and an output pixel whose
// exact sum lies within about 2⁻¹⁴ of a rounding boundary then differs by one level.
func ResizeBicubic(m Image8, w, h int) Image8 {
	if w <= 0 || h <= 0 {
		panic(fmt.Sprintf("clip: resize to %d×%d", w, h))
	}
	needH, needV := w != m.W, h != m.H
	if !needH && !needV {
		return Image8{W: m.W, H: m.H, C: m.C, Pix: append([]uint8(nil), m.Pix...)}
	}
	vb, vk, vks := coeffs(m.H, h)
	yFirst, yLast := vb[0], vb[2*h-2]+vb[2*h-1]
	cur := m
	rowOff := 0
	if needH {
		hb, hk, hks := coeffs(m.W, w)
		rows := yLast - yFirst
		if !needV {
			yFirst, rows = 0, m.H
		}
		tmp := NewImage8(w, rows, m.C)
		for c := 0; c < m.C; c++ {
			src, dst := m.plane(c), tmp.plane(c)
			for y := 0; y < rows; y++ {
				row := src[(y+yFirst)*m.W : (y+yFirst+1)*m.W]
				for xx := 0; xx < w; xx++ {
					xmin, n := hb[2*xx], hb[2*xx+1]
					k := hk[xx*hks:]
					ss := int32(1 << (precisionBits - 1))
					for x := 0; x < n; x++ {
						ss += int32(row[x+xmin]) * k[x]
					}
					dst[y*w+xx] = clip8(ss)
				}
			}
		}
		cur, rowOff = tmp, yFirst
	}
	if !needV {
		return cur
	}
	out := NewImage8(w, h, m.C)
	for c := 0; c < m.C; c++ {
		src, dst := cur.plane(c), out.plane(c)
		for yy := 0; yy < h; yy++ {
			ymin, n := vb[2*yy]-rowOff, vb[2*yy+1]
			k := vk[yy*vks:]
			for xx := 0; xx < w; xx++ {
				ss := int32(1 << (precisionBits - 1))
				for y := 0; y < n; y++ {
					ss += int32(src[(y+ymin)*w+xx]) * k[y]
				}
				dst[yy*w+xx] = clip8(ss)
			}
		}
	}
	return out
}

// resizeShortest is CLIPImageProcessor's resize with size {"shortest_edge": size}:
// transformers' get_resize_output_image_size(default_to_square=False) gives the short side
// size and the long side int(size·long/short), then PIL bicubic.
func resizeShortest(m Image8, size int) Image8 {
	short, long := m.W, m.H
	if m.W > m.H {
		short, long = m.H, m.W
	}
	newLong := int(float64(size*long) / float64(short))
	if m.W <= m.H {
		return ResizeBicubic(m, size, newLong)
	}
	return ResizeBicubic(m, newLong, size)
}

// centerCrop is transformers' center_crop for an image at least w×h: offsets
// (W−w)/2 and (H−h)/2 rounded down.
func centerCrop(m Image8, w, h int) Image8 {
	if w > m.W || h > m.H {
		panic(fmt.Sprintf("clip: centre crop %d×%d of a %d×%d image", w, h, m.W, m.H))
	}
	if w == m.W && h == m.H {
		return m
	}
	top, left := (m.H-h)/2, (m.W-w)/2
	out := NewImage8(w, h, m.C)
	for c := 0; c < m.C; c++ {
		src, dst := m.plane(c), out.plane(c)
		for y := 0; y < h; y++ {
			copy(dst[y*w:(y+1)*w], src[(y+top)*m.W+left:(y+top)*m.W+left+w])
		}
	}
	return out
}

// PreprocessImage8 is the 8-bit part of the preprocessing: ToImage8, ExpandToSquare with
// PadFill when c.Pad, the shortest-edge PIL bicubic resize to c.Size and the centre crop to
// c.Size×c.Size. A gray image keeps one channel (CLIPImageProcessor's convert("RGB") copies
// it to three, which commutes with the per-channel resize).
func PreprocessImage8(img image.Image, c PreprocessConfig) Image8 {
	m := ToImage8(img)
	if c.Pad {
		m = ExpandToSquare(m, c.PadFill(m.C))
	}
	return centerCrop(resizeShortest(m, c.Size), c.Size, c.Size)
}

// Normalize turns an 8-bit image into (1, 3, H, W) float32 pixels with transformers'
// arithmetic: float32(v · RescaleFactor) computed in float64 (rescale), then
// (x − mean) / std in float32 (normalize). One channel is used for all three.
func Normalize(s *torch.Scope, m Image8, c PreprocessConfig) *torch.Tensor {
	return torch.FromSlice(s, normalized(m, c), 1, 3, int64(m.H), int64(m.W))
}

func normalized(m Image8, c PreprocessConfig) []float32 {
	n := m.W * m.H
	out := make([]float32, 3*n)
	for ch := 0; ch < 3; ch++ {
		var lut [256]float32
		mean, std := float32(c.Mean[ch]), float32(c.Std[ch])
		for v := range lut {
			x := float32(float64(v) * c.RescaleFactor)
			lut[v] = (x - mean) / std
		}
		src := m.plane(ch % m.C)
		dst := out[ch*n : (ch+1)*n]
		for i, v := range src {
			dst[i] = lut[v]
		}
	}
	return out
}

func (c PreprocessConfig) validate() error {
	if c.Size <= 0 || c.RescaleFactor <= 0 {
		return fmt.Errorf("clip: preprocess size %d and rescale factor %g must be positive", c.Size, c.RescaleFactor)
	}
	for i := range c.Std {
		if c.Std[i] == 0 {
			return fmt.Errorf("clip: preprocess std has a zero")
		}
	}
	return nil
}

// Preprocess is LLaVA-Med's process_images for one image: PreprocessImage8 then Normalize →
// (1, 3, Size, Size) float32 on the scope's device, the tower's input.
func Preprocess(s *torch.Scope, img image.Image, c PreprocessConfig) (out *torch.Tensor, err error) {
	return PreprocessBatch(s, []image.Image{img}, c)
}

// PreprocessBatch preprocesses several images into one (B, 3, Size, Size) float32 tensor.
func PreprocessBatch(s *torch.Scope, imgs []image.Image, c PreprocessConfig) (out *torch.Tensor, err error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	if len(imgs) == 0 {
		return nil, fmt.Errorf("clip: no images to preprocess")
	}
	n := c.Size * c.Size * 3
	data := make([]float32, 0, len(imgs)*n)
	for i, img := range imgs {
		if img == nil || img.Bounds().Empty() {
			return nil, fmt.Errorf("clip: image %d is empty", i)
		}
		data = append(data, normalized(PreprocessImage8(img, c), c)...)
	}
	defer torch.Recover(&err)
	return torch.FromSlice(s, data, int64(len(imgs)), 3, int64(c.Size), int64(c.Size)), nil
}
