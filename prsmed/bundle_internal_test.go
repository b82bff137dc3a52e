package prsmed

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFingerprint(t *testing.T) {
	old := fingerprintWhole
	fingerprintWhole = 1 << 20
	defer func() { fingerprintWhole = old }()
	dir := t.TempDir()
	big := filepath.Join(dir, "model-00001.safetensors")
	data := make([]byte, 3<<20+17)
	for i := range data {
		data[i] = byte(i * 7)
	}
	write := func(p string, b []byte) {
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fp := func(p string) string {
		s, err := Fingerprint(p)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	write(big, data)
	a := fp(big)
	if !strings.HasPrefix(a, "sha256-sampled:") {
		t.Fatalf("3 MiB file over a 1 MiB limit: %s", a)
	}
	data[10] ^= 1 // inside the first sampled block
	write(big, data)
	if b := fp(big); b == a {
		t.Error("a changed first block keeps the fingerprint")
	}
	write(big, append(data, 0))
	if b := fp(big); b == a {
		t.Error("a longer file keeps the fingerprint")
	}
	small := filepath.Join(dir, "a.pth")
	write(small, []byte("abc"))
	if got, want := fp(small), "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"; got != want {
		t.Errorf("small file: %s, want %s", got, want)
	}
	d := fp(dir)
	write(filepath.Join(dir, "README.md"), []byte("not weights"))
	if fp(dir) != d {
		t.Error("a non-weight file changed the folder's fingerprint")
	}
	write(filepath.Join(dir, "model.safetensors.index.json"), []byte("{}"))
	if fp(dir) == d {
		t.Error("a new index file kept the folder's fingerprint")
	}
	if _, err := Fingerprint(t.TempDir()); err == nil {
		t.Error("an empty folder has a fingerprint")
	}
}
