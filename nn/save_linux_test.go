//go:build linux

package nn_test

import (
	"syscall"
	"testing"

	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/torch"
)

// TestSaveFailingMidWriteKeepsTheOldFile makes the write of the data fail half way (a file
// size limit the new file outgrows) and checks that the old file is intact and that the
// temporary file is gone.
func TestSaveFailingMidWriteKeepsTheOldFile(t *testing.T) {
	noLeak(t)
	dir := t.TempDir()
	small, path, old := savedSmall(t, dir)
	defer small.Close()

	big := nn.NewStore(torch.CPU)
	defer big.Close()
	nn.NewLinear(big.Root().Sub("fc"), 256, 256, nn.LinearConfig{Bias: true}) // 257 KiB of data

	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		t.Skipf("getrlimit: %v", err)
	}
	low := lim
	low.Cur = 64 << 10
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &low); err != nil {
		t.Skipf("setrlimit: %v", err)
	}
	err := big.Save(path, nil, nil) // SIGXFSZ is ignored by the Go runtime: the write fails with EFBIG
	if rerr := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); rerr != nil {
		t.Fatalf("restoring the file size limit: %v", rerr)
	}
	if err == nil {
		t.Fatal("a save past the file size limit succeeded")
	}
	t.Logf("save failed as it should: %v", err)
	checkUntouched(t, dir, path, old)
}
