package prsmed

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/prsmed/prsmed-go/internal/atomicfile"
	"github.com/prsmed/prsmed-go/prsmed/assets"
	"github.com/prsmed/prsmed-go/prsmed/tokenizer"
	"github.com/prsmed/prsmed-go/torch"
)

// A self-contained checkpoint ("bundle") is a checkpoint folder written by SaveCheckpoint
// plus two files: tokenizer.model, the tokenizer the model was trained with, and
// manifest.json, which records the tokenizer's SHA-256, the SHA-256 of the checkpoint's
// own files and the base weights (TinySAM, LLaVA-Med) the model was trained from.
// LoadBundle reads such a folder in one call and refuses a tokenizer or base model that
// differs from the recorded one.

// ManifestFile and TokenizerFile are the names of a bundle's extra files.
const (
	ManifestFile  = "manifest.json"
	TokenizerFile = "tokenizer.model"
	// ManifestFormat is the manifest's format tag.
	ManifestFormat = "prsmed-checkpoint/1"
)

// ErrMismatch is wrapped by LoadBundle's errors when a tokenizer, a base model or a
// checkpoint file is not the one the manifest records.
var ErrMismatch = errors.New("does not match the checkpoint")

// FileRef names a file or folder and its fingerprint (see Fingerprint).
type FileRef struct {
	Path        string `json:"path"`
	Fingerprint string `json:"fingerprint"`
}

// BaseWeights are the pretrained weights a model was trained from; empty paths mean none
// (the tiny preset trains its backbone from scratch).
type BaseWeights struct {
	TinySAM  string // TinySAM's tinysam_42.3.pth
	LLaVAMed string // LLaVA-Med's folder
}

// Manifest is a bundle's manifest.json.
type Manifest struct {
	Format    string `json:"format"`
	Preset    string `json:"preset"`
	Created   string `json:"created"`
	Tokenizer struct {
		File   string `json:"file"`
		SHA256 string `json:"sha256"`
		Pieces int    `json:"pieces"`
	} `json:"tokenizer"`
	// Files maps each checkpoint file (model.safetensors, config.json) to its SHA-256.
	Files map[string]string `json:"files"`
	// TinySAM and LLaVAMed are the base weights the model was trained from (nil: none).
	TinySAM  *FileRef `json:"tinysam,omitempty"`
	LLaVAMed *FileRef `json:"llava_med,omitempty"`
}

// manifestedFiles are the checkpoint files whose hashes the manifest records.
var manifestedFiles = []string{"model.safetensors", "config.json"}

// SaveBundle writes m as a self-contained checkpoint: SaveCheckpoint's files, the
// tokenizer (tokModel: the raw tokenizer.model bytes the model was built with) and the
// manifest naming base.
func SaveBundle(m *Model, dir string, tokModel []byte, base BaseWeights) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := m.SaveCheckpoint(dir); err != nil {
		return err
	}
	return WriteManifest(dir, tokModel, base)
}

// WriteManifest turns an existing checkpoint folder (written by SaveCheckpoint, for
// example by the trainer) into a bundle: it writes tokModel as tokenizer.model and
// manifest.json with the hashes of the checkpoint's files and the fingerprints of base.
func WriteManifest(dir string, tokModel []byte, base BaseWeights) error {
	tok, err := tokenizer.FromBytes(tokModel)
	if err != nil {
		return fmt.Errorf("prsmed: bundle tokenizer: %w", err)
	}
	cfg, err := LoadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		return err
	}
	mf := Manifest{Format: ManifestFormat, Preset: cfg.Name, Created: time.Now().UTC().Format(time.RFC3339), Files: map[string]string{}}
	mf.Tokenizer.File, mf.Tokenizer.SHA256, mf.Tokenizer.Pieces = TokenizerFile, sha256Hex(tokModel), tok.VocabSize()
	for _, n := range manifestedFiles {
		h, err := fileSHA256(filepath.Join(dir, n))
		if err != nil {
			return err
		}
		mf.Files[n] = h
	}
	if base.TinySAM != "" {
		if mf.TinySAM, err = ref(base.TinySAM); err != nil {
			return err
		}
	}
	if base.LLaVAMed != "" {
		if mf.LLaVAMed, err = ref(base.LLaVAMed); err != nil {
			return err
		}
	}
	raw, err := json.MarshalIndent(mf, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(dir, TokenizerFile), tokModel); err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, ManifestFile), append(raw, '\n'))
}

func ref(path string) (*FileRef, error) {
	fp, err := Fingerprint(path)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	return &FileRef{Path: abs, Fingerprint: fp}, nil
}

// ReadManifest reads dir/manifest.json. It returns an error wrapping fs.ErrNotExist for a
// checkpoint written before bundles existed.
func ReadManifest(dir string) (*Manifest, error) {
	raw, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return nil, err
	}
	var mf Manifest
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&mf); err != nil {
		return nil, fmt.Errorf("prsmed: %s: %v", filepath.Join(dir, ManifestFile), err)
	}
	if mf.Format != ManifestFormat {
		return nil, fmt.Errorf("prsmed: %s: format %q, want %q", filepath.Join(dir, ManifestFile), mf.Format, ManifestFormat)
	}
	return &mf, nil
}

// BundleOptions are LoadBundle's options; the zero value loads a tiny-preset bundle.
type BundleOptions struct {
	// Tokenizer is a tokenizer.model to use. With a bundle it must be the recorded one
	// (empty: the bundle's own copy); with an older checkpoint it is required unless the
	// preset is tiny (empty: the shipped template tokenizer).
	Tokenizer string
	// TinySAM and LLaVAMed are the base weights (paper preset). With a bundle that records
	// them, empty means the recorded paths, and a given path must have the recorded
	// fingerprint.
	TinySAM, LLaVAMed string
	// SkipFileHashes skips checking the SHA-256 of model.safetensors and config.json
	// (which reads them once more).
	SkipFileHashes bool
}

// LoadBundle opens a checkpoint folder in one call. For a bundle (a folder with
// manifest.json) it checks the checkpoint files' hashes, loads the bundled tokenizer, and
// refuses (with an error wrapping ErrMismatch) a tokenizer or base weights other than the
// recorded ones. For an older checkpoint without a manifest it loads like Load, taking the
// tokenizer from opt.Tokenizer or, for the tiny preset, the template tokenizer; the
// returned manifest is nil then.
func LoadBundle(dir string, dev torch.Device, opt BundleOptions) (*Model, *Manifest, error) {
	mf, err := ReadManifest(dir)
	if errors.Is(err, fs.ErrNotExist) {
		m, err := loadLegacy(dir, dev, opt)
		return m, nil, err
	}
	if err != nil {
		return nil, nil, err
	}
	if !opt.SkipFileHashes {
		for _, n := range slices.Sorted(maps.Keys(mf.Files)) {
			h, err := fileSHA256(filepath.Join(dir, n))
			if err != nil {
				return nil, nil, err
			}
			if h != mf.Files[n] {
				return nil, nil, fmt.Errorf("prsmed: %s has SHA-256 %s, the manifest records %s: the checkpoint was changed or damaged: %w", filepath.Join(dir, n), short(h), short(mf.Files[n]), ErrMismatch)
			}
		}
	}
	own := filepath.Join(dir, mf.Tokenizer.File)
	raw, err := os.ReadFile(own)
	if err != nil {
		return nil, nil, fmt.Errorf("prsmed: bundle tokenizer: %w", err)
	}
	if h := sha256Hex(raw); h != mf.Tokenizer.SHA256 {
		return nil, nil, fmt.Errorf("prsmed: %s has SHA-256 %s, the manifest records %s: %w", own, short(h), short(mf.Tokenizer.SHA256), ErrMismatch)
	}
	if opt.Tokenizer != "" {
		given, err := os.ReadFile(opt.Tokenizer)
		if err != nil {
			return nil, nil, err
		}
		if h := sha256Hex(given); h != mf.Tokenizer.SHA256 {
			return nil, nil, fmt.Errorf("prsmed: tokenizer %s (SHA-256 %s) is not the one this checkpoint was trained with (SHA-256 %s, bundled as %s; leave the tokenizer unset to use it): %w",
				opt.Tokenizer, short(h), short(mf.Tokenizer.SHA256), own, ErrMismatch)
		}
	}
	tok, err := tokenizer.FromBytes(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("prsmed: %s: %w", own, err)
	}
	tinySAM, err := checkBase("TinySAM", opt.TinySAM, mf.TinySAM)
	if err != nil {
		return nil, nil, err
	}
	llavaDir, err := checkBase("LLaVA-Med", opt.LLaVAMed, mf.LLaVAMed)
	if err != nil {
		return nil, nil, err
	}
	m, err := Load(dir, tok, tinySAM, llavaDir, dev)
	if err != nil {
		return nil, nil, err
	}
	if m.Config.Name != mf.Preset {
		m.Close()
		return nil, nil, fmt.Errorf("prsmed: config.json has preset %q, the manifest %q: %w", m.Config.Name, mf.Preset, ErrMismatch)
	}
	return m, mf, nil
}

// checkBase returns the base-weights path to load: given (which must match rec when the
// manifest records one) or the recorded path.
func checkBase(what, given string, rec *FileRef) (string, error) {
	switch {
	case rec == nil:
		if given != "" {
			return "", fmt.Errorf("prsmed: %s %s was given, but this checkpoint was not trained from %s weights: %w", what, given, what, ErrMismatch)
		}
		return "", nil
	case given == "":
		given = rec.Path
	}
	fp, err := Fingerprint(given)
	if err != nil {
		return "", fmt.Errorf("prsmed: %s weights (trained from %s): %w", what, rec.Path, err)
	}
	if fp != rec.Fingerprint {
		return "", fmt.Errorf("prsmed: %s weights %s (fingerprint %s) are not the ones this checkpoint was trained from (%s, fingerprint %s): %w",
			what, given, short(fp), rec.Path, short(rec.Fingerprint), ErrMismatch)
	}
	return given, nil
}

// loadLegacy loads a checkpoint that has no manifest.
func loadLegacy(dir string, dev torch.Device, opt BundleOptions) (*Model, error) {
	cfg, err := LoadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, err
	}
	var tok *tokenizer.Tokenizer
	switch {
	case opt.Tokenizer != "":
		tok, err = tokenizer.Load(opt.Tokenizer)
	case cfg.TrainBackbone:
		tok, err = assets.TemplateTokenizer()
	default:
		return nil, fmt.Errorf("prsmed: %s holds no tokenizer (no %s); give the tokenizer it was trained with", dir, ManifestFile)
	}
	if err != nil {
		return nil, err
	}
	// A model whose language model trains from scratch has exactly its tokenizer's
	// vocabulary (Tiny(vocab)); another size means another tokenizer.
	if cfg.TrainBackbone && int64(tok.VocabSize()) != cfg.Mistral.VocabSize {
		return nil, fmt.Errorf("prsmed: the tokenizer has %d pieces, but %s was trained with a %d-piece vocabulary: %w", tok.VocabSize(), dir, cfg.Mistral.VocabSize, ErrMismatch)
	}
	return Load(dir, tok, opt.TinySAM, opt.LLaVAMed, dev)
}

// fingerprintWhole is the size up to which Fingerprint hashes a file whole (a variable
// so that a test can lower it).
var fingerprintWhole int64 = 256 << 20

// Fingerprint identifies base weights cheaply. For a file up to 256 MiB it is
// "sha256:<hex>" of the contents. A larger file is sampled: "sha256-sampled:<hex>" hashes
// its size and 16 blocks of 1 MiB spread evenly over it (the first and the last
// included), which tells different checkpoints apart without reading gigabytes. A folder
// (LLaVA-Med) is "folder:<hex>": the SHA-256 of the names and fingerprints of its weight
// files (*.safetensors, *.bin, *.pth, *.pt and their *.index.json), in name order.
func Fingerprint(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if !fi.IsDir() {
		return fileFingerprint(path, fi.Size())
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	n := 0
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !isWeightFile(name) {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return "", err
		}
		fp, err := fileFingerprint(filepath.Join(path, name), info.Size())
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\x00%s\n", name, fp)
		n++
	}
	if n == 0 {
		return "", fmt.Errorf("prsmed: %s holds no weight files", path)
	}
	return "folder:" + hex.EncodeToString(h.Sum(nil)), nil
}

func isWeightFile(name string) bool {
	for _, ext := range []string{".safetensors", ".bin", ".pth", ".pt", ".index.json"} {
		if strings.HasSuffix(name, ext) {
			return true
		}
	}
	return false
}

func fileFingerprint(path string, size int64) (string, error) {
	if size <= fingerprintWhole {
		h, err := fileSHA256(path)
		return "sha256:" + h, err
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	fmt.Fprintf(h, "%d\n", size)
	const blocks, block = 16, 1 << 20
	buf := make([]byte, block)
	for i := int64(0); i < blocks; i++ {
		off := i * (size - block) / (blocks - 1)
		if _, err := f.ReadAt(buf, off); err != nil && !errors.Is(err, io.EOF) {
			return "", err
		}
		h.Write(buf)
	}
	return "sha256-sampled:" + hex.EncodeToString(h.Sum(nil)), nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// short abbreviates a hash for messages.
func short(h string) string {
	if i := strings.LastIndexByte(h, ':'); i >= 0 {
		h = h[i+1:]
	}
	if len(h) > 12 {
		return h[:12] + "…"
	}
	return h
}
