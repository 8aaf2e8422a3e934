package engine

import "sync"

// minChunk is the fewest particles worth handing to another goroutine.
const minChunk = 2048

type jobKind uint8

const (
	jobStep    jobKind = iota // kick-drift-kick by h
	jobAccel                  // recompute stored accelerations
	jobConvert                // float32 positions into out, moved on by lag
)

// job is one range of particle work. It is passed by value over channels,
// so dispatching allocates nothing.
type job struct {
	kind   jobKind
	kernel kernelKind
	p      *particles
	bodies []kbody
	lo, hi int
	h      float64 // step (jobStep) or lag (jobConvert)
	out    []float32
}

func (j *job) do() {
	switch j.kind {
	case jobStep:
		if j.kernel == kernelInvCube {
			kdkInvCube(j.p, j.lo, j.hi, j.bodies, j.h)
		} else {
			kdkDivSqrt(j.p, j.lo, j.hi, j.bodies, j.h)
		}
	case jobAccel:
		accelParticles(j.p, j.lo, j.hi, j.bodies)
	case jobConvert:
		convertPositions(j.p, j.lo, j.hi, j.h, j.out)
	}
}

// pool splits particle jobs between the calling goroutine and workers-1
// persistent helper goroutines, started on first use and stopped by close.
// It is used by one goroutine at a time (the world's owner).
type pool struct {
	workers int
	jobs    []chan job
	done    chan struct{}
	wg      sync.WaitGroup
	started bool
	closed  bool
}

func newPool(workers int) *pool {
	return &pool{workers: max(1, workers)}
}

func (p *pool) start() {
	p.started = true
	p.done = make(chan struct{}, p.workers)
	p.jobs = make([]chan job, p.workers-1)
	for i := range p.jobs {
		ch := make(chan job, 1)
		p.jobs[i] = ch
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for j := range ch {
				j.do()
				p.done <- struct{}{}
			}
		}()
	}
}

// run does j, split into contiguous chunks when it is large enough, and
// returns when every chunk is done.
func (p *pool) run(j job) {
	n := j.hi - j.lo
	parts := min(p.workers, n/minChunk)
	if parts <= 1 || p.closed {
		j.do()
		return
	}
	if !p.started {
		p.start()
	}
	lo := j.lo
	for i := 1; i < parts; i++ {
		c := j
		c.lo = lo + n*i/parts
		c.hi = lo + n*(i+1)/parts
		p.jobs[i-1] <- c
	}
	j.hi = lo + n/parts
	j.do()
	for i := 1; i < parts; i++ {
		<-p.done
	}
}

// close stops the helpers and waits for them. Idempotent.
func (p *pool) close() {
	if p.closed {
		return
	}
	p.closed = true
	for _, ch := range p.jobs {
		close(ch)
	}
	p.wg.Wait()
}
