package server

import (
	"context"
	"errors"
	"fmt"
	"image"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prsmed/prsmed-go/prsmed"
)

// Predictor runs the model on a batch of images with one question each. *prsmed.Model
// satisfies it; tests use a fake.
type Predictor interface {
	PredictBatch(ctx context.Context, imgs []image.Image, questions []string) ([]*prsmed.Prediction, error)
}

// Errors Submit returns besides the context's and the predictor's.
var (
	// ErrQueueFull is returned when -queue requests are admitted already.
	ErrQueueFull = errors.New("the request queue is full")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("the server is shutting down")
)

// BatchConfig sizes dynamic batching.
type BatchConfig struct {
	MaxBatch int           // most requests in one PredictBatch call (≥ 1)
	MaxWait  time.Duration // how long the first request of a batch waits for more
	Queue    int           // most requests admitted and not yet taken into a batch (≥ 1)
}

// Result is one request's prediction with how long it waited and ran.
type Result struct {
	*prsmed.Prediction
	Queued    time.Duration // from Submit until its batch started
	Model     time.Duration // the batch's PredictBatch call
	BatchSize int           // requests in its batch
}

// job is one queued request.
type job struct {
	ctx      context.Context
	img      image.Image
	question string
	enqueued time.Time
	done     chan jobResult // buffered (1): the worker never blocks on it
}

type jobResult struct {
	res Result
	err error
}

// Batcher gathers concurrent requests into batches for one Predictor. A single worker
// goroutine calls the predictor, so the predictor never runs two batches at once: on one
// device, a bigger batch is the cheaper way to serve more requests. (prsmed.Model's
// PredictBatch is itself safe for concurrent use, so other callers may share the model.)
//
// A request is admitted (Admit) before its image is decoded, so a full queue refuses it
// before any of that work: every admitted request holds one of Queue slots until the
// worker takes it into a batch or it gives the slot back.
type Batcher struct {
	p     Predictor
	cfg   BatchConfig
	queue chan *job
	slots chan struct{} // one element per admitted request not yet taken by the worker

	mu     sync.RWMutex // guards closed against sends on queue
	closed bool
	done   chan struct{} // closed when the worker has finished

	batches, requests atomic.Int64
}

// NewBatcher starts a batcher's worker.
func NewBatcher(p Predictor, cfg BatchConfig) (*Batcher, error) {
	if cfg.MaxBatch < 1 || cfg.Queue < 1 || cfg.MaxWait < 0 {
		return nil, fmt.Errorf("batching: max batch %d and queue %d must be ≥ 1, max wait %v ≥ 0", cfg.MaxBatch, cfg.Queue, cfg.MaxWait)
	}
	b := &Batcher{p: p, cfg: cfg, queue: make(chan *job, cfg.Queue), slots: make(chan struct{}, cfg.Queue), done: make(chan struct{})}
	go b.run()
	return b, nil
}

// Admission is a request's place in the queue, taken by Admit before the request's
// image is decoded. Exactly one of Submit and Release gives it up.
type Admission struct {
	b    *Batcher
	used bool
}

// Admit takes a place in the queue for one request, or returns ErrQueueFull at once when
// Queue requests hold one already, or ErrClosed after Close.
func (b *Batcher) Admit() (*Admission, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return nil, ErrClosed
	}
	select {
	case b.slots <- struct{}{}:
		return &Admission{b: b}, nil
	default:
		return nil, ErrQueueFull
	}
}

// Release gives the place back without submitting (the request failed before it got
// there). It does nothing after Submit or a first Release.
func (a *Admission) Release() {
	if !a.used {
		a.used = true
		<-a.b.slots
	}
}

// Submit queues the admitted request and waits for its result. It returns ErrClosed when
// the batcher closed after Admit, and ctx's error when ctx ends first (a request whose
// context ends while queued is dropped without running). An admission submits once.
func (a *Admission) Submit(ctx context.Context, img image.Image, question string) (Result, error) {
	b := a.b
	if a.used {
		return Result{}, errors.New("server: admission used twice")
	}
	a.used = true
	j := &job{ctx: ctx, img: img, question: question, enqueued: time.Now(), done: make(chan jobResult, 1)}
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		<-b.slots
		return Result{}, ErrClosed
	}
	// Never blocks: the queue has room for every admitted request. The worker gives the
	// slot back when it takes the job.
	b.queue <- j
	b.mu.RUnlock()
	select {
	case r := <-j.done:
		return r.res, r.err
	case <-ctx.Done():
		return Result{}, context.Cause(ctx)
	}
}

// Submit admits one request and waits for its result (Admit, then Admission.Submit).
func (b *Batcher) Submit(ctx context.Context, img image.Image, question string) (Result, error) {
	a, err := b.Admit()
	if err != nil {
		return Result{}, err
	}
	return a.Submit(ctx, img, question)
}

// Stats are the batches run and requests they held so far.
func (b *Batcher) Stats() (batches, requests int64) { return b.batches.Load(), b.requests.Load() }

// QueueLen is the number of requests admitted and not yet taken into a batch (waiting
// in the queue, or having their image decoded before they get there).
func (b *Batcher) QueueLen() int { return len(b.slots) }

// Close stops accepting requests, lets the worker finish every queued one, and waits for
// it or for ctx.
func (b *Batcher) Close(ctx context.Context) error {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.queue)
	}
	b.mu.Unlock()
	select {
	case <-b.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run is the worker: it takes a first request, gathers more until MaxBatch or MaxWait,
// and runs them as one batch.
func (b *Batcher) run() {
	defer close(b.done)
	for {
		first, ok := <-b.queue
		if !ok {
			return
		}
		<-b.slots
		batch := []*job{first}
		timer := time.NewTimer(b.cfg.MaxWait)
	gather:
		for len(batch) < b.cfg.MaxBatch {
			select {
			case j, ok := <-b.queue:
				if !ok {
					break gather
				}
				<-b.slots
				batch = append(batch, j)
			case <-timer.C:
				break gather
			}
		}
		timer.Stop()
		b.runBatch(batch)
	}
}

// runBatch drops requests whose context has ended and runs the others. The batch's
// context ends when every request in it has been cancelled.
func (b *Batcher) runBatch(batch []*job) {
	live := batch[:0]
	for _, j := range batch {
		if err := j.ctx.Err(); err != nil {
			j.done <- jobResult{err: context.Cause(j.ctx)}
			continue
		}
		live = append(live, j)
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var alive atomic.Int64
	alive.Store(int64(len(live)))
	for _, j := range live {
		stop := context.AfterFunc(j.ctx, func() {
			if alive.Add(-1) == 0 {
				cancel()
			}
		})
		defer stop()
	}
	imgs := make([]image.Image, len(live))
	qs := make([]string, len(live))
	for i, j := range live {
		imgs[i], qs[i] = j.img, j.question
	}
	start := time.Now()
	ps, err := safePredict(ctx, b.p, imgs, qs)
	elapsed := time.Since(start)
	b.batches.Add(1)
	b.requests.Add(int64(len(live)))
	if err == nil && len(ps) != len(live) {
		err = fmt.Errorf("the model returned %d predictions for %d requests", len(ps), len(live))
	}
	if err != nil && len(live) > 1 && ctx.Err() == nil {
		// One bad request must not fail the others: run each alone.
		for _, j := range live {
			b.runBatch([]*job{j})
		}
		return
	}
	for i, j := range live {
		if err != nil {
			j.done <- jobResult{err: err}
			continue
		}
		j.done <- jobResult{res: Result{Prediction: ps[i], Queued: start.Sub(j.enqueued), Model: elapsed, BatchSize: len(live)}}
	}
}

// PanicError is a panic inside the predictor, turned into an error.
type PanicError struct{ Value any }

func (e *PanicError) Error() string { return fmt.Sprintf("the model panicked: %v", e.Value) }

// safePredict calls p and turns a panic into an error.
func safePredict(ctx context.Context, p Predictor, imgs []image.Image, qs []string) (ps []*prsmed.Prediction, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &PanicError{r}
		}
	}()
	return p.PredictBatch(ctx, imgs, qs)
}
