//go:build linux

// Command loadbench measures loading a large safetensors file into an nn.Store: wall time
// here, peak RSS with /usr/bin/time -v (see BENCHMARKS.md, "nn: loading a large
// safetensors file").
//
//	go build -o /tmp/loadbench ./nn/internal/loadbench
//	/tmp/loadbench -gen /tmp/big.safetensors                  # 500 × 1M float32 = 2.0 GB
//	/tmp/loadbench -gen /tmp/big-bf16.safetensors -dtype bf16 # 500 × 1M bfloat16 = 1.0 GB
//	/usr/bin/time -v /tmp/loadbench -load /tmp/big.safetensors
//
// -mode picks the reader: "store" is nn.Store.Load (the library path); "pread" and
// "madvise" are experiments that read the same file without package torch's mapping (pread
// into one reusable buffer; or a private mapping whose pages are released with
// MADV_DONTNEED after each tensor), to show what RSS the library could reach.
package main

import (
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"os"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/prsmed/prsmed-go/nn"
	"github.com/prsmed/prsmed-go/torch"
)

func main() {
	gen := flag.String("gen", "", "write a test file here and exit")
	load := flag.String("load", "", "load this file into a store")
	n := flag.Int("n", 500, "number of tensors")
	rows := flag.Int64("rows", 1024, "rows of each (rows × 1024) tensor")
	dtype := flag.String("dtype", "f32", "file dtype for -gen: f32 or bf16")
	mode := flag.String("mode", "store", "reader for -load: store, pread or madvise")
	storeDType := flag.String("store-dtype", "f32", "dtype of the store's parameters for -load: f32 or bf16")
	flag.Parse()
	switch {
	case *gen != "":
		if err := generate(*gen, *n, *rows, *dtype); err != nil {
			log.Fatal(err)
		}
	case *load != "":
		if err := run(*load, *n, *rows, *mode, *storeDType); err != nil {
			log.Fatal(err)
		}
	default:
		flag.Usage()
		os.Exit(2)
	}
}

const cols = 1024

func name(i int) string { return fmt.Sprintf("layers.%d.weight", i) }

// generate streams a safetensors file of n (rows × 1024) tensors with deterministic values.
func generate(path string, n int, rows int64, dtype string) error {
	st, size := "F32", 4
	if dtype == "bf16" {
		st, size = "BF16", 2
	}
	per := rows * cols * int64(size)
	hdr := map[string]any{"__metadata__": map[string]string{"format": "pt"}}
	for i := 0; i < n; i++ {
		hdr[name(i)] = map[string]any{"dtype": st, "shape": []int64{rows, cols},
			"data_offsets": []int64{int64(i) * per, int64(i+1) * per}}
	}
	h, err := json.Marshal(hdr)
	if err != nil {
		return err
	}
	for len(h)%8 != 0 {
		h = append(h, ' ')
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var lenb [8]byte
	binary.LittleEndian.PutUint64(lenb[:], uint64(len(h)))
	if _, err := f.Write(append(lenb[:], h...)); err != nil {
		return err
	}
	buf := make([]byte, per)
	x := uint32(12345)
	for i := 0; i < n; i++ {
		for j := 0; j < len(buf); j += size {
			x = x*1664525 + 1013904223
			v := float32(int32(x>>8)-1<<23) / (1 << 23) // in [-1, 1)
			bits := math.Float32bits(v)
			if size == 4 {
				binary.LittleEndian.PutUint32(buf[j:], bits)
			} else {
				binary.LittleEndian.PutUint16(buf[j:], uint16(bits>>16))
			}
		}
		if _, err := f.Write(buf); err != nil {
			return err
		}
	}
	return f.Close()
}

func run(path string, n int, rows int64, mode, storeDType string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	st := nn.NewStore(torch.CPU)
	defer st.Close()
	if storeDType == "bf16" {
		st.SetDType(torch.BFloat16)
	}
	root := st.Root()
	for i := 0; i < n; i++ {
		root.Sub("layers").Index(i).Param("weight", nn.Zeros, rows, cols) // resident, as after a model's init
	}
	before := status()
	t0 := time.Now()
	loaded := 0
	switch mode {
	case "store":
		rep, err := st.Load(path, nn.LoadOptions{})
		if err != nil {
			return err
		}
		loaded = rep.Loaded
	case "pread", "madvise":
		loaded, err = loadDirect(st, path, mode == "madvise")
		if err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown mode %q", mode)
	}
	el := time.Since(t0)
	after := status()
	// A value from the last tensor, so that the load cannot be skipped.
	e, _ := st.Get(name(n - 1))
	s := torch.NewScope(torch.CPU)
	defer s.Close()
	sum := e.Tensor.Narrow(s, 0, 0, 1).SumAll(s).Item()
	storeBytes := st.NumParams(false) * 4
	fmt.Printf("mode=%s file=%s (%.2f GB) tensors=%d store=%.2f GB load=%.2fs (%.2f GB/s of store) check=%.4f\n",
		mode, path, gb(fi.Size()), loaded, gb(storeBytes), el.Seconds(), gb(storeBytes)/el.Seconds(), sum)
	fmt.Printf("before load: %s\nafter load:  %s\n", before, after)
	return nil
}

func gb(b int64) float64 { return float64(b) / 1e9 }

// status is the process's current, peak, anonymous and file-backed RSS from
// /proc/self/status.
func status() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "?"
	}
	var parts []string
	for _, line := range strings.Split(string(b), "\n") {
		for _, k := range []string{"VmRSS", "VmHWM", "RssAnon", "RssFile"} {
			if strings.HasPrefix(line, k+":") {
				parts = append(parts, k+"="+strings.Join(strings.Fields(line[len(k)+1:]), " "))
			}
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	parts = append(parts, fmt.Sprintf("GoSys=%d kB", ms.Sys>>10))
	return strings.Join(parts, " ")
}

type entry struct {
	DType   string   `json:"dtype"`
	Shape   []int64  `json:"shape"`
	Offsets [2]int64 `json:"data_offsets"`
}

// loadDirect reads the file without package torch's mapping: with pread into one reusable
// buffer (page cache is not charged to the process), or through a private mapping whose
// pages are dropped (MADV_DONTNEED) once each tensor is copied. Each tensor still goes
// through one temporary tensor (torch.FromBytes) and CopyFrom, like Store.Load.
func loadDirect(st *nn.Store, path string, madvise bool) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var lenb [8]byte
	if _, err := io.ReadFull(f, lenb[:]); err != nil {
		return 0, err
	}
	hl := int64(binary.LittleEndian.Uint64(lenb[:]))
	hb := make([]byte, hl)
	if _, err := io.ReadFull(f, hb); err != nil {
		return 0, err
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(hb, &raw); err != nil {
		return 0, err
	}
	entries := map[string]entry{}
	var names []string
	for k, v := range raw {
		if k == "__metadata__" {
			continue
		}
		var e entry
		if err := json.Unmarshal(v, &e); err != nil {
			return 0, err
		}
		entries[k] = e
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool { return entries[names[i]].Offsets[0] < entries[names[j]].Offsets[0] })
	base := 8 + hl
	var mapping []byte
	if madvise {
		fi, err := f.Stat()
		if err != nil {
			return 0, err
		}
		mapping, err = syscall.Mmap(int(f.Fd()), 0, int(fi.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
		if err != nil {
			return 0, err
		}
		defer syscall.Munmap(mapping)
	}
	var buf []byte
	page := int64(os.Getpagesize())
	for _, n := range names {
		e := entries[n]
		dst, ok := st.Get(n)
		if !ok {
			return 0, fmt.Errorf("%s is not in the store", n)
		}
		dt := map[string]torch.DType{"F32": torch.Float32, "BF16": torch.BFloat16}[e.DType]
		lo, hi := base+e.Offsets[0], base+e.Offsets[1]
		var data []byte
		if madvise {
			data = mapping[lo:hi]
		} else {
			if int64(cap(buf)) < hi-lo {
				buf = make([]byte, hi-lo)
			}
			data = buf[:hi-lo]
			if _, err := f.ReadAt(data, lo); err != nil {
				return 0, err
			}
		}
		s := torch.NewScope(torch.CPU)
		dst.Tensor.CopyFrom(torch.FromBytes(s, dt, data, e.Shape...))
		s.Close()
		if madvise { // drop the pages of this tensor from the mapping (whole pages only)
			a, b := (lo+page-1)/page*page, hi/page*page
			if b > a {
				if err := madviseDontNeed(mapping[a:b]); err != nil {
					return 0, err
				}
			}
		}
	}
	runtime.KeepAlive(buf)
	return len(names), nil
}
