package telemetry

import (
	"errors"
	"testing"
	"time"
)

func TestTickets(t *testing.T) {
	p := Principal{ID: "key1", Role: "readonly"}
	tests := []struct {
		name   string
		before func(s *TicketStore, c *fakeClock, tk string) string // returns the ticket to redeem
		wantOK bool
	}{
		{"fresh", func(_ *TicketStore, _ *fakeClock, tk string) string { return tk }, true},
		{"just before expiry", func(_ *TicketStore, c *fakeClock, tk string) string {
			c.Advance(DefaultTicketTTL - time.Millisecond)
			return tk
		}, true},
		{"at expiry", func(_ *TicketStore, c *fakeClock, tk string) string {
			c.Advance(DefaultTicketTTL)
			return tk
		}, false},
		{"reused", func(s *TicketStore, _ *fakeClock, tk string) string {
			s.Redeem(tk)
			return tk
		}, false},
		{"unknown", func(*TicketStore, *fakeClock, string) string { return "nope" }, false},
		{"empty", func(*TicketStore, *fakeClock, string) string { return "" }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newFakeClock()
			s := NewTicketStore(TicketOptions{Now: c.Now})
			tk, exp, err := s.Issue(p)
			if err != nil {
				t.Fatal(err)
			}
			if exp != DefaultTicketTTL || len(tk) != 43 {
				t.Errorf("ticket %q (len %d), expires in %s", tk, len(tk), exp)
			}
			got, ok := s.Redeem(tt.before(s, c, tk))
			if ok != tt.wantOK || (ok && got != p) {
				t.Errorf("Redeem = %+v, %v; want ok %v", got, ok, tt.wantOK)
			}
		})
	}
}

func TestTicketsAreUnique(t *testing.T) {
	s := NewTicketStore(TicketOptions{})
	seen := map[string]bool{}
	for range 100 {
		tk, _, err := s.Issue(Principal{ID: "x"})
		if err != nil {
			t.Fatal(err)
		}
		if seen[tk] {
			t.Fatalf("ticket %q issued twice", tk)
		}
		seen[tk] = true
	}
}

func TestTicketSweepAndCap(t *testing.T) {
	c := newFakeClock()
	s := NewTicketStore(TicketOptions{Now: c.Now, Max: 3, TTL: 10 * time.Second})
	for range 3 {
		if _, _, err := s.Issue(Principal{ID: "a"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.Issue(Principal{ID: "a"}); !errors.Is(err, ErrTooManyTickets) {
		t.Fatalf("fourth ticket: err = %v, want ErrTooManyTickets", err)
	}
	c.Advance(10 * time.Second)
	if _, _, err := s.Issue(Principal{ID: "b"}); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
	if got := s.Len(); got != 1 {
		t.Errorf("Len = %d after the expired ones were swept, want 1", got)
	}
	c.Advance(10 * time.Second)
	s.Sweep()
	if got := s.Len(); got != 0 {
		t.Errorf("Len = %d after Sweep, want 0", got)
	}
}
