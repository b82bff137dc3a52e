package train

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/prsmed/prsmed-go/prsmed"
	"github.com/prsmed/prsmed-go/prsmed/data"
	"github.com/prsmed/prsmed-go/prsmed/llava"
	"github.com/prsmed/prsmed-go/torch"
)

// ErrSamplePanic is wrapped by the error of a sample whose loading or preprocessing
// panicked; the sample is skipped like an unreadable one (or stops the run under
// Config.Strict).
var ErrSamplePanic = errors.New("panic while loading the sample")

// pipeline prepares the batches of one epoch ahead of the training step, like PyTorch's
// DataLoader with workers: a dispatcher hands the samples of each batch, in the epoch's
// order, to worker goroutines that load, decode, resize and flip them; an assembler
// concatenates each batch's samples, in order, into one CPU tensor per input and queues
// the batch. What a batch holds depends only on the sampler's order and the run's seed,
// never on the number of workers or their timing. At most depth batches exist at once —
// being prepared, queued, or in use by the step until it frees them — which bounds the
// memory.
type pipeline struct {
	model   *prsmed.Model
	set     []data.Sample
	cache   *cache
	seed    uint64
	epoch   int
	flip    bool
	batches [][]int

	ctx      context.Context
	cancel   context.CancelFunc
	slots    chan struct{}
	jobs     chan job
	pending  chan *pendingBatch
	out      chan *batch
	wg       sync.WaitGroup
	leftover []*pendingBatch // taken by the assembler, never assembled (read after wg.Wait)
}

type job struct {
	pb     *pendingBatch
	k, idx int
}

// pendingBatch collects one batch's samples as workers finish them.
type pendingBatch struct {
	step  int
	items []prepared
	left  atomic.Int32
	done  chan struct{}
}

// batch is one assembled batch on the CPU.
type batch struct {
	step    int
	scope   *torch.Scope
	in      prsmed.Inputs // SAM, CLIP, Masks (nil when every sample was skipped) and Samples
	idx     []int         // the training-set index of each sample kept (row keys for dropout)
	n       int           // samples kept
	skipped []skip
	err     error // a failure that is not a sample's fault (stops the run)
	p       *pipeline
}

// skip is a sample left out of its batch, and why.
type skip struct {
	Sample data.Sample
	Err    error
}

// pipelineConfig is what a pipeline needs besides the model and the samples.
type pipelineConfig struct {
	workers, depth int
	seed           uint64
	epoch          int
	first          int // first batch to prepare (a resumed epoch starts mid-way)
	flip           bool
}

func workersOf(n int) int {
	if n > 0 {
		return n
	}
	return runtime.NumCPU()
}

// depthOf is the number of batches in flight: enough to keep every worker busy while the
// step uses one batch and the next is queued.
func depthOf(depth, workers, batchSize int) int {
	if depth > 0 {
		return depth
	}
	return max(2, (workers+batchSize-1)/batchSize+2)
}

func startPipeline(ctx context.Context, m *prsmed.Model, set []data.Sample, c *cache, batches [][]int, pc pipelineConfig) *pipeline {
	pc.depth, pc.workers = max(pc.depth, 1), max(pc.workers, 1)
	ctx, cancel := context.WithCancel(ctx)
	p := &pipeline{model: m, set: set, cache: c, seed: pc.seed, epoch: pc.epoch, flip: pc.flip, batches: batches,
		ctx: ctx, cancel: cancel, slots: make(chan struct{}, pc.depth), jobs: make(chan job),
		pending: make(chan *pendingBatch, pc.depth), out: make(chan *batch, pc.depth)}
	p.wg.Add(2 + pc.workers)
	go p.dispatch(pc.first)
	for range pc.workers {
		go p.work()
	}
	go p.assemble()
	return p
}

func (p *pipeline) dispatch(first int) {
	defer p.wg.Done()
	defer close(p.jobs)
	defer close(p.pending)
	for b := first; b < len(p.batches); b++ {
		select {
		case p.slots <- struct{}{}:
		case <-p.ctx.Done():
			return
		}
		idx := p.batches[b]
		pb := &pendingBatch{step: b, items: make([]prepared, len(idx)), done: make(chan struct{})}
		pb.left.Store(int32(len(idx)))
		if len(idx) == 0 {
			close(pb.done)
		}
		p.pending <- pb // never blocks: a slot is held, and pending holds depth batches
		for k, i := range idx {
			select {
			case p.jobs <- job{pb: pb, k: k, idx: i}:
			case <-p.ctx.Done():
				return
			}
		}
	}
}

// oneThreadForOps keeps a pipeline goroutine on its own OS thread with one intra-op thread,
// as PyTorch's DataLoader workers run with torch.set_num_threads(1): otherwise each thread
// that runs a large enough op starts an OpenMP team of its own, and the teams spin against
// the training step's (measured: 10× slower training on 2 cores). The goroutine ends with
// its thread locked, so the thread ends with it.
func oneThreadForOps() {
	runtime.LockOSThread()
	torch.SetThreadNumThreads(1)
}

func (p *pipeline) work() {
	defer p.wg.Done()
	oneThreadForOps()
	for j := range p.jobs {
		j.pb.items[j.k] = p.prepareRecovered(j.idx, j.pb.step, j.k)
		if j.pb.left.Add(-1) == 0 {
			close(j.pb.done)
		}
	}
}

// prepareRecovered is prepare with a panic (a decoder's bug on one file, say) turned into
// the sample's error, so that the sample is skipped and reported as an unreadable one is
// instead of ending the process. Tensors the sample held when it panicked are not freed.
func (p *pipeline) prepareRecovered(idx, step, k int) (out prepared) {
	defer func() {
		if r := recover(); r != nil {
			smp := p.set[idx]
			out = prepared{source: smp, err: fmt.Errorf("%v: %w: %v", smp, ErrSamplePanic, r)}
		}
	}()
	return p.prepare(idx, step, k)
}

func (p *pipeline) assemble() {
	defer p.wg.Done()
	oneThreadForOps()
	defer close(p.out)
	for pb := range p.pending {
		select {
		case <-pb.done:
		case <-p.ctx.Done():
		}
		if p.ctx.Err() != nil {
			p.leftover = append(p.leftover, pb)
			continue
		}
		b := p.build(pb)
		select {
		case p.out <- b:
		case <-p.ctx.Done():
			b.free()
		}
	}
}

// build concatenates a finished batch's samples and frees them.
func (p *pipeline) build(pb *pendingBatch) *batch {
	b := &batch{step: pb.step, p: p}
	var sam, clipIn, masks []*torch.Tensor
	var smps []llava.Sample
	for i := range pb.items {
		x := &pb.items[i]
		if x.err != nil {
			b.skipped = append(b.skipped, skip{Sample: x.source, Err: x.err})
			continue
		}
		sam, clipIn, masks = append(sam, x.sam), append(clipIn, x.clip), append(masks, x.mask)
		smps = append(smps, x.sample)
		b.idx = append(b.idx, x.base.idx)
	}
	b.n = len(smps)
	if b.n > 0 {
		s := torch.NewScope(torch.CPU).NoGrad()
		b.scope = s
		b.err = torch.Try(func() {
			b.in = prsmed.Inputs{SAM: torch.Cat(s, 0, sam...), CLIP: torch.Cat(s, 0, clipIn...),
				Masks: torch.Cat(s, 0, masks...), Samples: smps}
		})
	}
	for i := range pb.items {
		p.free(&pb.items[i])
	}
	return b
}

// next returns the epoch's next batch, in order.
func (p *pipeline) next() (*batch, error) {
	b, ok := <-p.out
	if !ok {
		if err := p.ctx.Err(); err != nil {
			return nil, err
		}
		return nil, errors.New("train: the data pipeline ended before the epoch did")
	}
	return b, nil
}

// free releases a batch's tensors and its place in the pipeline.
func (b *batch) free() {
	if b.scope != nil {
		b.scope.Close()
		b.scope = nil
	}
	if b.p != nil {
		<-b.p.slots
		b.p = nil
	}
}

// close stops the pipeline and frees everything it still holds.
func (p *pipeline) close() {
	p.cancel()
	p.wg.Wait()
	for b := range p.out {
		b.free()
	}
	for _, pb := range p.leftover {
		for i := range pb.items {
			p.free(&pb.items[i])
		}
	}
	p.leftover = nil
}
