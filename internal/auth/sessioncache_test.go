package auth

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// errStoreDown stands for a database that does not answer.
var errStoreDown = errors.New("session store: connection refused")

// flakyStore is a MemSessionStore whose reads and writes fail while down
// is set, as a SQL store's do while its database is unreachable.
type flakyStore struct {
	*MemSessionStore
	down atomic.Bool
	gets atomic.Int64
}

func (f *flakyStore) Get(id SessionID) (Session, error) {
	f.gets.Add(1)
	if f.down.Load() {
		return Session{}, errStoreDown
	}
	return f.MemSessionStore.Get(id)
}

func (f *flakyStore) Touch(id SessionID, at time.Time) error {
	if f.down.Load() {
		return errStoreDown
	}
	return f.MemSessionStore.Touch(id, at)
}

func (f *flakyStore) End(ids []SessionID, at time.Time, reason EndReason) ([]SessionID, error) {
	if f.down.Load() {
		return nil, errStoreDown
	}
	return f.MemSessionStore.End(ids, at, reason)
}

func newFlakyFixture(t *testing.T, edit func(*Options)) (*fixture, *flakyStore) {
	t.Helper()
	st := &flakyStore{MemSessionStore: NewMemSessionStore()}
	f := newFixture(t, func(o *Options) {
		o.SessionStore = st
		o.SessionGrace = time.Minute
		o.VerifyCacheSize = -1 // every Verify reaches the session
		if edit != nil {
			edit(o)
		}
	})
	return f, st
}

func TestVerifyThroughStoreOutage(t *testing.T) {
	f, st := newFlakyFixture(t, nil)
	seen := f.login(t, "seen", RoleDeveloper)
	// A session another replica created: in the shared store, never read
	// by this service.
	now := f.clock.Now()
	other := Session{ID: "other-replica-session", Principal: "unseen", Name: "unseen", Role: RoleReadonly, Created: now, LastSeen: now}
	if err := st.Create(other, nil); err != nil {
		t.Fatal(err)
	}
	unseenTok, _, err := f.svc.ring.Sign(other.Principal, other.Role, other.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	unseen := Tokens{AccessToken: unseenTok}
	if _, err := f.svc.Verify(seen.AccessToken); err != nil {
		t.Fatalf("Verify while up: %v", err)
	}

	st.down.Store(true)
	f.clock.Advance(10 * time.Second)
	p, err := f.svc.Verify(seen.AccessToken)
	if err != nil {
		t.Fatalf("Verify of a recently seen session while down: %v", err)
	}
	if p.ID != "seen" || p.Role != RoleDeveloper {
		t.Errorf("principal from memory = %+v", p)
	}
	if !strings.Contains(f.log.String(), "session store unreachable") {
		t.Errorf("no log line for serving from memory:\n%s", f.log.String())
	}
	if _, err := f.svc.Verify(unseen.AccessToken); !errors.Is(err, errStoreDown) {
		t.Errorf("Verify of a session never read while down = %v, want the store's error", err)
	}

	f.clock.Advance(time.Minute) // past the grace since it was read
	if _, err := f.svc.Verify(seen.AccessToken); !errors.Is(err, errStoreDown) {
		t.Errorf("Verify past the grace = %v, want the store's error", err)
	}

	st.down.Store(false)
	if _, err := f.svc.Verify(seen.AccessToken); err != nil {
		t.Fatalf("Verify after the store is back: %v", err)
	}
	if !strings.Contains(f.log.String(), "session store reachable again") {
		t.Errorf("no log line for the recovery")
	}
}

func TestVerifyFromMemoryNeverOutlivesAnEnd(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(f *fixture, st *flakyStore, tok Tokens, sid SessionID)
	}{
		{"logout here", func(f *fixture, st *flakyStore, tok Tokens, sid SessionID) {
			if err := f.svc.Logout(sid); err != nil {
				t.Fatalf("Logout: %v", err)
			}
		}},
		{"revoked here", func(f *fixture, st *flakyStore, tok Tokens, sid SessionID) {
			if _, err := f.svc.RevokePrincipal("p1"); err != nil {
				t.Fatalf("RevokePrincipal: %v", err)
			}
		}},
		{"ended on another replica", func(f *fixture, st *flakyStore, tok Tokens, sid SessionID) {
			f.svc.SessionsEndedElsewhere([]SessionID{sid})
		}},
		{"notices lost", func(f *fixture, st *flakyStore, tok Tokens, sid SessionID) {
			f.svc.ForgetCachedSessions()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, st := newFlakyFixture(t, nil)
			tok := f.login(t, "p1", RoleAdmin)
			p, err := f.svc.Verify(tok.AccessToken)
			if err != nil {
				t.Fatal(err)
			}
			tc.end(f, st, tok, p.SessionID)
			st.down.Store(true)
			if _, err := f.svc.Verify(tok.AccessToken); err == nil {
				t.Fatal("an ended session was vouched for from memory")
			}
		})
	}
}

func TestVerifyFromMemoryNeedsEndsToBeHeard(t *testing.T) {
	var heard atomic.Bool
	f, st := newFlakyFixture(t, func(o *Options) { o.EndsHeard = heard.Load })
	tok := f.login(t, "p1", RoleDeveloper)
	if _, err := f.svc.Verify(tok.AccessToken); err != nil {
		t.Fatal(err)
	}
	st.down.Store(true)
	if _, err := f.svc.Verify(tok.AccessToken); !errors.Is(err, errStoreDown) {
		t.Errorf("with the notice channel down: %v, want the store's error", err)
	}
	heard.Store(true)
	if _, err := f.svc.Verify(tok.AccessToken); err != nil {
		t.Errorf("with the notice channel up: %v", err)
	}
}

func TestVerifyFromMemoryKeepsTheIdleTimeout(t *testing.T) {
	f, st := newFlakyFixture(t, func(o *Options) { o.SessionGrace = time.Hour })
	tok := f.login(t, "p1", RoleDeveloper)
	if _, err := f.svc.Verify(tok.AccessToken); err != nil {
		t.Fatal(err)
	}
	st.down.Store(true)
	f.clock.Advance(f.svc.idle)
	if _, err := f.svc.Verify(tok.AccessToken); !errors.Is(err, ErrSessionExpired) && !errors.Is(err, ErrTokenExpired) {
		t.Errorf("idle past the timeout while down: %v, want expired", err)
	}
}

func TestSessionGraceNegativeFailsClosed(t *testing.T) {
	f, st := newFlakyFixture(t, func(o *Options) { o.SessionGrace = -1 })
	tok := f.login(t, "p1", RoleDeveloper)
	if _, err := f.svc.Verify(tok.AccessToken); err != nil {
		t.Fatal(err)
	}
	st.down.Store(true)
	if _, err := f.svc.Verify(tok.AccessToken); !errors.Is(err, errStoreDown) {
		t.Errorf("Verify with the cache off while down = %v, want the store's error", err)
	}
}

func TestOnSessionsEndedIsToldEveryEnd(t *testing.T) {
	var (
		mu  sync.Mutex
		got []SessionID
	)
	f, _ := newFlakyFixture(t, func(o *Options) {
		o.OnSessionsEnded = func(ids []SessionID) {
			mu.Lock()
			got = append(got, ids...)
			mu.Unlock()
		}
		o.Security.Authentication.MaxConcurrentSessions = 1
	})
	verify := func(tok Tokens) SessionID {
		p, err := f.svc.Verify(tok.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		return p.SessionID
	}
	a := verify(f.login(t, "p1", RoleDeveloper))
	b := verify(f.login(t, "p1", RoleDeveloper)) // evicts a
	if err := f.svc.Logout(b); err != nil {
		t.Fatal(err)
	}
	c := verify(f.login(t, "p2", RoleDeveloper))
	if _, err := f.svc.RevokePrincipal("p2"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []SessionID{a, b, c}; !slices.Equal(got, want) {
		t.Errorf("ended sessions told = %v, want %v", got, want)
	}
}

func TestSessionCacheSweep(t *testing.T) {
	c := newSessionCache(time.Minute)
	now := epoch
	c.put(Session{ID: "a", Principal: "p"}, now)
	c.end([]SessionID{"b"}, now)
	if live, ended := c.size(); live != 1 || ended != 1 {
		t.Fatalf("size = %d, %d", live, ended)
	}
	c.put(Session{ID: "b", Principal: "p"}, now) // ended: not cached
	if _, ok := c.get("b", now); ok {
		t.Error("an ended session was cached")
	}
	c.sweep(now.Add(time.Minute))
	if live, ended := c.size(); live != 0 || ended != 0 {
		t.Errorf("after sweep size = %d, %d", live, ended)
	}
	c.max = 2
	for _, id := range []SessionID{"x", "y", "z"} {
		c.put(Session{ID: id, Principal: "p"}, now)
	}
	if live, _ := c.size(); live > 2 {
		t.Errorf("cache grew past its bound: %d", live)
	}
}

func TestVerifyReadsTheStoreAgainAfterSessionFresh(t *testing.T) {
	f, st := newFlakyFixture(t, func(o *Options) { o.SessionFresh = 500 * time.Millisecond })
	tok := f.login(t, "p1", RoleDeveloper)
	p, err := f.svc.Verify(tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	st.gets.Store(0)
	for range 10 {
		if _, err := f.svc.Verify(tok.AccessToken); err != nil {
			t.Fatal(err)
		}
	}
	if n := st.gets.Load(); n != 0 {
		t.Errorf("%d store reads within SessionFresh, want 0", n)
	}
	// Another replica ends the session in the shared store: it holds here
	// once what was read is older than SessionFresh.
	if _, err := st.MemSessionStore.End([]SessionID{p.SessionID}, f.clock.Now(), EndRevoked); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(500 * time.Millisecond)
	if _, err := f.svc.Verify(tok.AccessToken); !errors.Is(err, ErrSessionRevoked) {
		t.Errorf("after SessionFresh, a session ended elsewhere: %v, want ErrSessionRevoked", err)
	}
	if n := st.gets.Load(); n != 1 {
		t.Errorf("%d store reads, want 1", n)
	}
	// An end here holds at once.
	tok2 := f.login(t, "p2", RoleDeveloper)
	p2, err := f.svc.Verify(tok2.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Logout(p2.SessionID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Verify(tok2.AccessToken); err == nil {
		t.Error("a session logged out here was accepted within SessionFresh")
	}
}

// size returns the number of live and ended entries .
func (c *sessionCache) size() (live, ended int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.live), len(c.ended)
}
