package audit

import (
	"context"
	"sync"
)

// MemorySink keeps the most recent records in memory, up to a capacity,
// forgetting the oldest. It is a Sink and a Querier, safe for concurrent
// use: a stand-in for the store sink of the persistence work, and a fake
// for tests.
type MemorySink struct {
	mu   sync.Mutex
	buf  []Record
	cap  int
	next int // where the next record goes once buf is full
}

var (
	_ Sink    = (*MemorySink)(nil)
	_ Querier = (*MemorySink)(nil)
)

// NewMemorySink returns a MemorySink holding at most capacity records
// (at least 1).
func NewMemorySink(capacity int) *MemorySink {
	return &MemorySink{cap: max(capacity, 1)}
}

// String names the sink in Logger reports.
func (m *MemorySink) String() string { return "memory" }

// Write stores copies of recs. It never fails.
func (m *MemorySink) Write(_ context.Context, recs []Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range recs {
		if len(m.buf) < m.cap {
			m.buf = append(m.buf, r)
			continue
		}
		m.buf[m.next] = r
		m.next = (m.next + 1) % m.cap
	}
	return nil
}

// Records returns the records held, oldest first.
func (m *MemorySink) Records() []Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Record, 0, len(m.buf))
	out = append(out, m.buf[m.next:]...)
	return append(out, m.buf[:m.next]...)
}

// Query returns the matching records held, newest first.
func (m *MemorySink) Query(ctx context.Context, f Filter) ([]Record, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	limit := f.limit()
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Record
	for i := len(m.buf) - 1; i >= 0 && len(out) < limit; i-- {
		if r := m.buf[(m.next+i)%len(m.buf)]; f.Match(r) {
			out = append(out, r)
		}
	}
	return out, nil
}
