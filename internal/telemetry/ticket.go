package telemetry

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"sync"
	"time"
)

// DefaultTicketTTL is how long a ticket may wait to be redeemed.
const DefaultTicketTTL = 30 * time.Second

// defaultMaxTickets caps the outstanding tickets of a store.
const defaultMaxTickets = 10_000

// TicketOptions configure a TicketStore. The zero value gives the
// defaults.
type TicketOptions struct {
	// TTL is a ticket's lifetime (default DefaultTicketTTL).
	TTL time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Max caps the outstanding tickets (default 10 000); Issue fails with
	// ErrTooManyTickets beyond it.
	Max int
}

// TicketStore issues short-lived single-use tickets that stand for a
// principal, for clients that cannot set headers on a WebSocket (browsers):
// an authenticated `POST /telemetry/ticket` issues one, the client opens
// /telemetry?ticket=T within the TTL, and the hub redeems it once. Only a
// hash of each ticket is kept. Safe for concurrent use.
type TicketStore struct {
	ttl  time.Duration
	now  func() time.Time
	max  int
	mu   sync.Mutex
	m    map[[sha256.Size]byte]ticketEntry
	next time.Time // next sweep of expired tickets
}

type ticketEntry struct {
	p   Principal
	exp time.Time
}

// NewTicketStore returns an empty store.
func NewTicketStore(opts TicketOptions) *TicketStore {
	if opts.TTL <= 0 {
		opts.TTL = DefaultTicketTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Max <= 0 {
		opts.Max = defaultMaxTickets
	}
	return &TicketStore{ttl: opts.TTL, now: opts.Now, max: opts.Max, m: make(map[[sha256.Size]byte]ticketEntry)}
}

// Issue returns a new ticket for p (32 random bytes, base64url, 43
// characters) and its lifetime. It fails with ErrTooManyTickets when Max
// tickets are outstanding.
func (s *TicketStore) Issue(p Principal) (ticket string, expiresIn time.Duration, err error) {
	var raw [32]byte
	_, _ = rand.Read(raw[:]) // never fails (crypto/rand since Go 1.24)
	ticket = base64.RawURLEncoding.EncodeToString(raw[:])
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked(now, false)
	if len(s.m) >= s.max {
		s.sweepLocked(now, true)
		if len(s.m) >= s.max {
			return "", 0, ErrTooManyTickets
		}
	}
	s.m[sha256.Sum256([]byte(ticket))] = ticketEntry{p: p, exp: now.Add(s.ttl)}
	return ticket, s.ttl, nil
}

// Redeem returns the principal of ticket and forgets the ticket: it is
// good once, before its expiry. ok is false for an unknown, used or
// expired ticket.
func (s *TicketStore) Redeem(ticket string) (p Principal, ok bool) {
	if ticket == "" {
		return Principal{}, false
	}
	h := sha256.Sum256([]byte(ticket))
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	e, found := s.m[h]
	if !found {
		return Principal{}, false
	}
	delete(s.m, h)
	if !now.Before(e.exp) {
		return Principal{}, false
	}
	return e.p, true
}

// Len returns the number of tickets held (expired ones may linger until
// the next sweep).
func (s *TicketStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// Sweep forgets the expired tickets now.
func (s *TicketStore) Sweep() {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked(now, true)
}

// sweepLocked drops expired tickets, at most once per TTL unless forced.
func (s *TicketStore) sweepLocked(now time.Time, force bool) {
	if !force && now.Before(s.next) {
		return
	}
	for h, e := range s.m {
		if !now.Before(e.exp) {
			delete(s.m, h)
		}
	}
	s.next = now.Add(s.ttl)
}
