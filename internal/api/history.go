package api

import (
	"context"
	"sync"
)

// DefaultHistorySize is how many entries NewMemoryHistory keeps when asked
// for a size of 0 or less.
const DefaultHistorySize = 1000

// MemoryHistory is a History kept in memory: a ring of the most recent
// entries, lost on restart. Safe for concurrent use.
type MemoryHistory struct {
	mu      sync.Mutex
	entries []HistoryEntry // ring buffer, len == max once full
	next    int            // where the next entry goes once full
	max     int
}

var _ History = (*MemoryHistory)(nil)

// NewMemoryHistory returns a History that keeps the last max entries
// (DefaultHistorySize when max <= 0).
func NewMemoryHistory(max int) *MemoryHistory {
	if max <= 0 {
		max = DefaultHistorySize
	}
	return &MemoryHistory{max: max}
}

// Append records e, dropping the oldest entry when full. It never fails.
func (h *MemoryHistory) Append(_ context.Context, e HistoryEntry) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.entries) < h.max {
		h.entries = append(h.entries, e)
		return nil
	}
	h.entries[h.next] = e
	h.next = (h.next + 1) % h.max
	return nil
}

// List returns the last limit entries (all when limit <= 0), oldest first.
func (h *MemoryHistory) List(_ context.Context, limit int) ([]HistoryEntry, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := len(h.entries)
	if limit <= 0 || limit > n {
		limit = n
	}
	out := make([]HistoryEntry, 0, limit)
	// Oldest is at h.next once the ring is full, at 0 before (h.next is 0).
	for i := n - limit; i < n; i++ {
		out = append(out, h.entries[(h.next+i)%n])
	}
	return out, nil
}
