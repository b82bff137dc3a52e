package torch_test

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/prsmed/prsmed-go/torch"
)

// mapsHelperEnv makes the test binary run mapsHelper instead of the tests: the allocator
// settings hold for a whole process, so each case runs in a process of its own.
const mapsHelperEnv = "TORCH_TEST_MAPS_HELPER"

// anonBytes is the size of this process's anonymous mappings (those without a path: not
// files, [heap] or [stack]); the kernel may merge neighbours, which keeps the sum.
func anonBytes() uint64 {
	raw, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	var n uint64
	for _, line := range strings.Split(string(raw), "\n") {
		f := strings.Fields(line)
		if len(f) != 5 {
			continue
		}
		lo, hi, ok := strings.Cut(f[0], "-")
		a, err1 := strconv.ParseUint(lo, 16, 64)
		b, err2 := strconv.ParseUint(hi, 16, 64)
		if ok && err1 == nil && err2 == nil {
			n += b - a
		}
	}
	return n
}

// mapsHelper prints by how many bytes a 24 MiB tensor grew the process's anonymous
// mappings (glibc maps a block above its mmap threshold for itself, and unmaps it when it
// is freed; below, the block comes from the allocator's heap); with retain it calls
// RetainHostMemory first.
func mapsHelper(retain bool) {
	runtime.LockOSThread()
	if retain {
		if err := torch.RetainHostMemory(); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
	}
	const size = 24 << 20
	s := torch.NewScope(torch.CPU)
	torch.Empty(s, torch.Float32, 1024).Free() // the thread's allocator arena exists
	before := anonBytes()
	torch.Empty(s, torch.Float32, size/4)
	fmt.Println("mapped", int64(anonBytes()-before))
	s.Close()
	os.Exit(0)
}

// TestRetainHostMemory: after RetainHostMemory a 24 MiB tensor comes from the allocator's
// heap instead of a mapping of its own (which glibc's defaults give it, and take back from
// the process when it is freed, so that the next step faults its pages in again).
func TestRetainHostMemory(t *testing.T) {
	if v := os.Getenv(mapsHelperEnv); v != "" {
		mapsHelper(v == "retain")
	}
	mapped := func(mode string) int64 {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestRetainHostMemory$")
		cmd.Env = append(os.Environ(), mapsHelperEnv+"="+mode)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", mode, err, out)
		}
		f := strings.Fields(string(out))
		if len(f) < 2 || f[0] != "mapped" {
			t.Fatalf("%s: unexpected output %q", mode, out)
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	const size = 24 << 20
	def, kept := mapped("default"), mapped("retain")
	t.Logf("anonymous mappings grown by a 24 MiB tensor: %d bytes with glibc's defaults, %d after RetainHostMemory", def, kept)
	if def < size {
		t.Errorf("with glibc's defaults the tensor grew the mappings by %d bytes, want at least %d (a block of its own)", def, size)
	}
	// From the heap, the growth is 0, or a whole new 64 MiB heap when the thread's allocator
	// arena had to start one (glibc's per-thread heaps are 64 MiB mappings on 64-bit
	// machines; seen once in 16 runs), plus about 1.4 MiB that some runs map elsewhere at
	// the same time; never the tensor's own size.
	const heapMax = 64 << 20
	if kept%heapMax >= size {
		t.Errorf("after RetainHostMemory the tensor grew the mappings by %d bytes, want less than %d beyond whole 64 MiB heaps (from the heap)", kept, size)
	}
}
