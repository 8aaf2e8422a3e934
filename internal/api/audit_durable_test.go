package api_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime/internal/api"
)

// gateAuditor is a DurableAuditor whose stores complete only when the test
// opens the gate.
type gateAuditor struct {
	fakeAuditor
	gate chan struct{}

	mu      sync.Mutex
	durable []string // request IDs recorded through RecordDurably
}

func (g *gateAuditor) RecordDurably(ctx context.Context, r api.AuditRecord) error {
	g.Record(r)
	g.mu.Lock()
	g.durable = append(g.durable, r.RequestID)
	g.mu.Unlock()
	select {
	case <-g.gate:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *gateAuditor) durableIDs() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.durable...)
}

func TestAnswerToAChangeWaitsForItsAuditRecord(t *testing.T) {
	g := &gateAuditor{gate: make(chan struct{})}
	s := newSecured(t, func(o *api.Options) {
		o.Security.Auditor = g
		o.Security.AuditLog = g
		o.Security.AuditWait = time.Minute
	})

	// A read is answered at once and recorded behind the answer.
	r := s.do("GET", "/scene", "", "Authorization", "Bearer role:readonly", "X-Request-ID", "read-1")
	if r.status != http.StatusOK {
		t.Fatalf("GET /scene = %d", r.status)
	}
	if ids := g.durableIDs(); len(ids) != 0 {
		t.Errorf("a read waited for its record: %v", ids)
	}

	// A scene load is not answered until its record is stored.
	answered := make(chan response, 1)
	go func() {
		answered <- s.do("POST", "/scene/load", `{"scene_path":"res://vr_main.tscn"}`,
			"Authorization", "Bearer role:developer", "X-Request-ID", "load-1")
	}()
	deadline := time.Now().Add(5 * time.Second)
	for len(g.durableIDs()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the scene load never reached RecordDurably")
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case r := <-answered:
		t.Fatalf("answered (%d) before the audit record was stored", r.status)
	case <-time.After(100 * time.Millisecond):
	}
	close(g.gate)
	if r := <-answered; r.status != http.StatusOK {
		t.Errorf("POST /scene/load = %d after the record was stored", r.status)
	}
	if ids := g.durableIDs(); len(ids) != 1 || ids[0] != "load-1" {
		t.Errorf("durably recorded = %v, want [load-1]", ids)
	}
}

func TestAnswerToAChangeGivesUpWaitingAfterAuditWait(t *testing.T) {
	g := &gateAuditor{gate: make(chan struct{})} // never opened
	s := newSecured(t, func(o *api.Options) {
		o.Security.Auditor = g
		o.Security.AuditWait = 20 * time.Millisecond
	})
	r := s.do("POST", "/scene/load", `{"scene_path":"res://vr_main.tscn"}`, bearer("role:developer")...)
	if r.status != http.StatusOK {
		t.Errorf("POST /scene/load with a stuck audit sink = %d, want 200 after the wait", r.status)
	}
	if got := g.last(); got.Route != "POST /scene/load" {
		t.Errorf("record = %+v", got)
	}
}
