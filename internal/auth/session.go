package auth

import (
	"crypto/sha256"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// SessionID names a session. It is not a secret (it travels in the sid
// claim and in admin listings) and grants nothing by itself.
type SessionID string

// EndReason says why a session ended.
type EndReason string

// The reasons a session ends.
const (
	EndLogout     EndReason = "logout"        // the holder logged out
	EndRevoked    EndReason = "revoked"       // an admin revoked it (or all of the principal's)
	EndKeyRevoked EndReason = "key_revoked"   // the API key it descends from was revoked
	EndEvicted    EndReason = "evicted"       // a newer login exceeded max_concurrent_sessions
	EndIdle       EndReason = "idle"          // idle longer than session_timeout_minutes
	EndReuse      EndReason = "refresh_reuse" // a used refresh token was presented again
)

// Session is one login: the principal it belongs to, and its activity.
// Access tokens name it in their sid claim and are refused once it ends;
// its refresh tokens form its family (each refresh rotates the token,
// keeping the session).
type Session struct {
	ID        SessionID `json:"id"`
	Principal string    `json:"principal"`
	Name      string    `json:"name,omitempty"`
	Role      Role      `json:"role"`
	KeyID     string    `json:"key_id,omitempty"`
	Created   time.Time `json:"created"`
	// LastSeen is the last recorded activity (login, refresh, or a
	// verified access token; recorded at most every few seconds).
	LastSeen time.Time `json:"last_seen"`
	// Ended is when the session ended; zero while live.
	Ended     time.Time `json:"ended,omitzero"`
	EndReason EndReason `json:"end_reason,omitempty"`
}

// Live reports whether the session has not ended (it may still be idle
// past the timeout: Service decides that).
func (s Session) Live() bool { return s.Ended.IsZero() }

// RefreshRecord is a refresh token at rest: the SHA-256 of the raw token
// and its session. The raw token is never stored.
type RefreshRecord struct {
	Hash      [sha256.Size]byte `json:"-"`
	SessionID SessionID         `json:"session_id"`
	Issued    time.Time         `json:"issued"`
	Expires   time.Time         `json:"expires"`
	// Used is when the token was exchanged; zero while unused. A used
	// record is kept until it expires, to detect reuse.
	Used time.Time `json:"used,omitzero"`
}

// String describes the record without its hash.
func (r RefreshRecord) String() string {
	return fmt.Sprintf("RefreshRecord{session %s, expires %s, used %t}", r.SessionID, r.Expires.Format(time.RFC3339), !r.Used.IsZero())
}

// LogValue logs the record without its hash.
func (r RefreshRecord) LogValue() slog.Value {
	return slog.GroupValue(slog.String("session", string(r.SessionID)), slog.Time("expires", r.Expires), slog.Bool("used", !r.Used.IsZero()))
}

// SessionStore keeps sessions and refresh tokens. Implementations are safe
// for concurrent use. Get and Touch are on every request's path and must be
// cheap; UseRefresh must be atomic (two concurrent uses of one token: one
// succeeds, the other sees ErrRefreshReuse).
type SessionStore interface {
	// Create stores a new live session and, when refresh is not nil, its
	// first refresh token. An existing id is an error.
	Create(s Session, refresh *RefreshRecord) error
	// Get returns the session named id, live or ended, or an error
	// wrapping ErrSessionNotFound.
	Get(id SessionID) (Session, error)
	// Touch records activity of a live session at at (LastSeen never
	// moves back). Unknown or ended sessions are ignored.
	Touch(id SessionID, at time.Time) error
	// End ends, at at with reason, those of ids that are live and returns
	// them; the others are ignored.
	End(ids []SessionID, at time.Time, reason EndReason) ([]SessionID, error)
	// ByPrincipal returns the live sessions of principal, oldest first.
	ByPrincipal(principal string) ([]Session, error)
	// List returns every live session, oldest first.
	List() ([]Session, error)
	// AddRefresh stores a refresh token of an existing session.
	AddRefresh(r RefreshRecord) error
	// UseRefresh atomically consumes the refresh token whose hash is h, in
	// this order: unknown → ErrRefreshInvalid; expired at now → the record
	// and ErrRefreshExpired (not consumed); already used → the record and
	// ErrRefreshReuse; otherwise it marks the record used at now and
	// returns it.
	UseRefresh(h [sha256.Size]byte, now time.Time) (RefreshRecord, error)
	// Sweep forgets sessions that ended before endedBefore and refresh
	// records that expired by now or whose session it forgot; it returns
	// how many sessions it forgot.
	Sweep(now, endedBefore time.Time) (int, error)
}

// MemSessionStore is an in-memory SessionStore. Get and Touch take a read
// lock; activity is an atomic per session. The zero value is ready.
type MemSessionStore struct {
	mu       sync.RWMutex
	sessions map[SessionID]*memSession
	refresh  map[[sha256.Size]byte]*RefreshRecord
	// live indexes the live sessions by principal.
	live map[string]map[SessionID]*memSession
}

type memSession struct {
	s        Session      // LastSeen unused; Ended and EndReason guarded by mu
	lastSeen atomic.Int64 // unix nanoseconds
}

var _ SessionStore = (*MemSessionStore)(nil)

// NewMemSessionStore returns an empty in-memory SessionStore.
func NewMemSessionStore() *MemSessionStore { return &MemSessionStore{} }

func (m *memSession) view() Session {
	s := m.s
	s.LastSeen = time.Unix(0, m.lastSeen.Load())
	return s
}

// Create implements SessionStore.
func (m *MemSessionStore) Create(s Session, refresh *RefreshRecord) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sessions == nil {
		m.sessions = make(map[SessionID]*memSession)
		m.refresh = make(map[[sha256.Size]byte]*RefreshRecord)
		m.live = make(map[string]map[SessionID]*memSession)
	}
	if _, ok := m.sessions[s.ID]; ok {
		return fmt.Errorf("auth: session %s exists", s.ID)
	}
	ms := &memSession{s: s}
	ms.lastSeen.Store(s.LastSeen.UnixNano())
	m.sessions[s.ID] = ms
	if s.Ended.IsZero() {
		byID := m.live[s.Principal]
		if byID == nil {
			byID = make(map[SessionID]*memSession)
			m.live[s.Principal] = byID
		}
		byID[s.ID] = ms
	}
	if refresh != nil {
		r := *refresh
		m.refresh[r.Hash] = &r
	}
	return nil
}

// Get implements SessionStore.
func (m *MemSessionStore) Get(id SessionID) (Session, error) {
	m.mu.RLock()
	ms, ok := m.sessions[id]
	var s Session
	if ok {
		s = ms.view()
	}
	m.mu.RUnlock()
	if !ok {
		return Session{}, ErrSessionNotFound
	}
	return s, nil
}

// Touch implements SessionStore.
func (m *MemSessionStore) Touch(id SessionID, at time.Time) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	ms, ok := m.sessions[id]
	if !ok || !ms.s.Ended.IsZero() {
		return nil
	}
	n := at.UnixNano()
	for {
		old := ms.lastSeen.Load()
		if n <= old || ms.lastSeen.CompareAndSwap(old, n) {
			return nil
		}
	}
}

// End implements SessionStore.
func (m *MemSessionStore) End(ids []SessionID, at time.Time, reason EndReason) ([]SessionID, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var ended []SessionID
	for _, id := range ids {
		ms, ok := m.sessions[id]
		if !ok || !ms.s.Ended.IsZero() {
			continue
		}
		ms.s.Ended = at
		ms.s.EndReason = reason
		ended = append(ended, id)
		if byID := m.live[ms.s.Principal]; byID != nil {
			delete(byID, id)
			if len(byID) == 0 {
				delete(m.live, ms.s.Principal)
			}
		}
	}
	return ended, nil
}

// sortSessions orders sessions oldest first.
func sortSessions(out []Session) {
	slices.SortFunc(out, func(a, b Session) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(string(a.ID), string(b.ID))
	})
}

// ByPrincipal implements SessionStore.
func (m *MemSessionStore) ByPrincipal(principal string) ([]Session, error) {
	m.mu.RLock()
	byID := m.live[principal]
	out := make([]Session, 0, len(byID))
	for _, ms := range byID {
		out = append(out, ms.view())
	}
	m.mu.RUnlock()
	sortSessions(out)
	return out, nil
}

// List implements SessionStore.
func (m *MemSessionStore) List() ([]Session, error) {
	m.mu.RLock()
	var out []Session
	for _, byID := range m.live {
		for _, ms := range byID {
			out = append(out, ms.view())
		}
	}
	m.mu.RUnlock()
	sortSessions(out)
	return out, nil
}

// AddRefresh implements SessionStore.
func (m *MemSessionStore) AddRefresh(r RefreshRecord) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.sessions[r.SessionID]; !ok {
		return fmt.Errorf("auth: refresh token for unknown session %s", r.SessionID)
	}
	m.refresh[r.Hash] = &r
	return nil
}

// UseRefresh implements SessionStore.
func (m *MemSessionStore) UseRefresh(h [sha256.Size]byte, now time.Time) (RefreshRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.refresh[h]
	switch {
	case !ok:
		return RefreshRecord{}, ErrRefreshInvalid
	case !now.Before(r.Expires):
		return *r, ErrRefreshExpired
	case !r.Used.IsZero():
		return *r, ErrRefreshReuse
	}
	r.Used = now
	return *r, nil
}

// Sweep implements SessionStore.
func (m *MemSessionStore) Sweep(now, endedBefore time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for id, ms := range m.sessions {
		if !ms.s.Ended.IsZero() && ms.s.Ended.Before(endedBefore) {
			delete(m.sessions, id)
			n++
		}
	}
	for h, r := range m.refresh {
		if _, ok := m.sessions[r.SessionID]; !ok || !now.Before(r.Expires) {
			delete(m.refresh, h)
		}
	}
	return n, nil
}

// Tokens is what a login or refresh returns, shaped for the /auth/token
// and /auth/refresh responses. Its String and LogValue never show the
// tokens.
type Tokens struct {
	AccessToken string `json:"access_token"`
	// RefreshToken is empty when token_refresh_enabled is false.
	RefreshToken string `json:"refresh_token,omitempty"`
	// TokenType is always "Bearer".
	TokenType string `json:"token_type"`
	// ExpiresIn is the access token's lifetime in seconds.
	ExpiresIn int  `json:"expires_in"`
	Role      Role `json:"role"`
	// SessionID and ExpiresAt are for the caller, not the response.
	SessionID SessionID `json:"-"`
	ExpiresAt time.Time `json:"-"`
}

// String describes the tokens without showing them.
func (t Tokens) String() string {
	return fmt.Sprintf("Tokens{%s session %s role %s expires_in %d}", redacted, t.SessionID, t.Role, t.ExpiresIn)
}

// GoString is String.
func (t Tokens) GoString() string { return t.String() }

// LogValue logs the session, role and lifetime, never the tokens.
func (t Tokens) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("session", string(t.SessionID)),
		slog.String("role", t.Role.String()),
		slog.Int("expires_in", t.ExpiresIn),
	)
}
