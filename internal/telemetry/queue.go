package telemetry

import (
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// outItem is one message waiting for a connection's writer: a prepared
// message shared by every subscriber of a topic (pm), or a text message
// for this connection alone (text: replies).
type outItem struct {
	pm   *websocket.PreparedMessage
	text []byte
	size int // payload bytes
	// ctrl items (replies, events) are never dropped; stream frames are,
	// oldest first, when the queue is full.
	ctrl bool
	// stream items are topic frames (counted in FramesSent), not replies.
	stream bool
}

// pushResult tells the pusher what the queue did.
type pushResult struct {
	dropped  int           // stream frames dropped (oldest first) to make room
	streak   int           // frames dropped since the writer last took any
	behind   time.Duration // how long items have waited without the writer taking any
	overflow bool          // a ctrl item did not fit (the caller disconnects)
	closed   bool          // the queue no longer accepts items
}

// sendQueue is a connection's bounded FIFO: at most maxFrames stream
// frames (the oldest is dropped to make room) and maxCtrl control items
// (never dropped; overflow is reported). Order is kept across both kinds.
// Pushers never block; one writer takes everything at once.
type sendQueue struct {
	mu           sync.Mutex
	items        []outItem
	frames       int
	ctrls        int
	maxFrames    int
	maxCtrl      int
	streak       int
	pendingSince time.Time
	closed       bool
	notify       chan struct{} // capacity 1: "there is something to take"
}

func newSendQueue(maxFrames, maxCtrl int) *sendQueue {
	return &sendQueue{
		items:     make([]outItem, 0, maxFrames+8),
		maxFrames: maxFrames,
		maxCtrl:   maxCtrl,
		notify:    make(chan struct{}, 1),
	}
}

// push appends items in order under one lock and wakes the writer once
// (now is the pusher's clock, for the behind figure).
func (q *sendQueue) push(now time.Time, items ...outItem) pushResult {
	var r pushResult
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return pushResult{closed: true}
	}
	for _, it := range items {
		if it.ctrl {
			if q.ctrls >= q.maxCtrl {
				r.overflow = true
				continue
			}
			q.ctrls++
		} else {
			if q.frames >= q.maxFrames {
				q.dropOldestFrameLocked()
				q.streak++
				r.dropped++
			}
			q.frames++
		}
		if len(q.items) == 0 {
			q.pendingSince = now
		}
		q.items = append(q.items, it)
	}
	r.streak = q.streak
	if len(q.items) > 0 {
		r.behind = now.Sub(q.pendingSince)
	}
	q.mu.Unlock()
	select {
	case q.notify <- struct{}{}:
	default:
	}
	return r
}

// dropOldestFrameLocked removes the first stream frame.
func (q *sendQueue) dropOldestFrameLocked() {
	for i := range q.items {
		if !q.items[i].ctrl {
			copy(q.items[i:], q.items[i+1:])
			q.items[len(q.items)-1] = outItem{}
			q.items = q.items[:len(q.items)-1]
			q.frames--
			return
		}
	}
}

// take moves every queued item to dst (reset to length 0 first) and
// returns it; the writer has made progress, so the drop streak restarts.
func (q *sendQueue) take(dst []outItem) []outItem {
	dst = dst[:0]
	q.mu.Lock()
	dst = append(dst, q.items...)
	clear(q.items)
	q.items = q.items[:0]
	q.frames, q.ctrls, q.streak = 0, 0, 0
	q.mu.Unlock()
	return dst
}

// close refuses further items and forgets the queued ones.
func (q *sendQueue) close() {
	q.mu.Lock()
	q.closed = true
	clear(q.items)
	q.items = q.items[:0]
	q.frames, q.ctrls = 0, 0
	q.mu.Unlock()
}

// len returns the number of queued items.
func (q *sendQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}
