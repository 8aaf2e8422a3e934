package auth

import (
	"sync"
	"time"
)

// DefaultSessionFresh is how long a session read from the store is used
// again without a new read (Options.SessionFresh).
const DefaultSessionFresh = 500 * time.Millisecond

// DefaultSessionGrace is how long a session read from the store may vouch
// for its tokens while the store cannot be reached (Options.SessionGrace).
const DefaultSessionGrace = 2 * time.Minute

// sessionCache remembers the live sessions Verify read from the store, so
// that their access tokens keep working through a short store outage, and
// the sessions known to have ended (here, or on another replica by a
// notice), which it never vouches for again.
//
// While the store answers, a session is read again once what was read is
// older than SessionFresh (0.5 s), so a logout on another replica holds
// here within that (at once when its session_revoked notice arrives, and
// at once for ends here).
type sessionCache struct {
	grace time.Duration
	max   int

	mu      sync.Mutex
	live    map[SessionID]cachedSession
	ended   map[SessionID]time.Time // when the end became known
	serving bool                    // the last Verify was answered from here
}

type cachedSession struct {
	ses Session
	at  time.Time // when the store last returned it
}

// maxCachedSessions bounds the cache; past it the oldest entries go.
const maxCachedSessions = 100_000

func newSessionCache(grace time.Duration) *sessionCache {
	return &sessionCache{
		grace: grace,
		max:   maxCachedSessions,
		live:  make(map[SessionID]cachedSession),
		ended: make(map[SessionID]time.Time),
	}
}

// put records ses as the store returned it at now.
func (c *sessionCache) put(ses Session, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !ses.Live() {
		delete(c.live, ses.ID)
		return
	}
	if _, ok := c.ended[ses.ID]; ok {
		return // ended elsewhere; the store will say so soon
	}
	if len(c.live) >= c.max {
		c.evictLocked(now)
	}
	c.live[ses.ID] = cachedSession{ses: ses, at: now}
}

// touched records activity of id written to the store at at.
func (c *sessionCache) touched(id SessionID, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.live[id]; ok && at.After(e.ses.LastSeen) {
		e.ses.LastSeen = at
		c.live[id] = e
	}
}

// forget drops id, when the store says it does not exist.
func (c *sessionCache) forget(id SessionID) {
	c.mu.Lock()
	delete(c.live, id)
	c.mu.Unlock()
}

// end marks ids as ended at now: the cache never vouches for them again.
func (c *sessionCache) end(ids []SessionID, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ids {
		delete(c.live, id)
		c.ended[id] = now
	}
}

// clear forgets every live session (notices may have been lost).
func (c *sessionCache) clear() {
	c.mu.Lock()
	clear(c.live)
	c.mu.Unlock()
}

// get returns the cached live session id if the store returned it less
// than grace before now and no end of it is known.
func (c *sessionCache) get(id SessionID, now time.Time) (Session, bool) {
	return c.within(id, now, c.grace)
}

// within returns the cached live session id if the store returned it less
// than maxAge before now and no end of it is known.
func (c *sessionCache) within(id SessionID, now time.Time, maxAge time.Duration) (Session, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.live[id]
	if !ok || now.Sub(e.at) >= maxAge {
		return Session{}, false
	}
	if _, gone := c.ended[id]; gone {
		return Session{}, false
	}
	return e.ses, true
}

// setServing records whether Verify is answering from the cache and
// reports whether that changed.
func (c *sessionCache) setServing(on bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	changed := c.serving != on
	c.serving = on
	return changed
}

// sweep forgets entries that can no longer be used: live ones older than
// grace and ended ones older than grace (a token of an ended session can
// only be vouched for by an entry fetched before the end, which is gone
// by then).
func (c *sessionCache) sweep(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.evictLocked(now)
}

func (c *sessionCache) evictLocked(now time.Time) {
	for id, e := range c.live {
		if now.Sub(e.at) >= c.grace {
			delete(c.live, id)
		}
	}
	for id, at := range c.ended {
		if now.Sub(at) >= c.grace {
			delete(c.ended, id)
		}
	}
	// Still full: drop arbitrary entries down to 90 %, so that a full
	// cache is not scanned again on every put.
	for id := range c.live {
		if len(c.live) < c.max*9/10 {
			break
		}
		delete(c.live, id)
	}
}
