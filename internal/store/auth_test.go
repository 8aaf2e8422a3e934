package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime/internal/auth"
)

// authStores is one implementation of the three auth store interfaces.
type authStores struct {
	keys     auth.KeyStore
	signing  auth.SigningKeyStore
	sessions auth.SessionStore
}

// authFactory returns fresh, empty stores for one test.
type authFactory func(t *testing.T) authStores

func memAuthStores(*testing.T) authStores {
	return authStores{auth.NewMemKeyStore(), auth.NewMemSigningKeyStore(), auth.NewMemSessionStore()}
}

func sqlAuthStores(b backend) authFactory {
	return func(t *testing.T) authStores {
		t.Helper()
		s := openStore(t, b.fresh(t))
		return authStores{s.APIKeys(), s.SigningKeys(), s.Sessions()}
	}
}

// TestAuthMem runs the auth store behaviours against the in-memory stores
// of package auth: the SQL stores pass the same tests (testContract), so
// the two have the same semantics.
func TestAuthMem(t *testing.T) {
	t.Parallel()
	testAuthBehaviour(t, memAuthStores)
}

// testAuthBehaviour is what every auth store implementation must do.
func testAuthBehaviour(t *testing.T, newStores authFactory) {
	cases := []struct {
		name string
		run  func(t *testing.T, st authStores)
	}{
		{"KeyPutGet", authKeyPutGet},
		{"KeyList", authKeyList},
		{"KeyRevoke", authKeyRevoke},
		{"SigningKeys", authSigningKeys},
		{"SessionCreateGet", authSessionCreateGet},
		{"SessionTouch", authSessionTouch},
		{"SessionEnd", authSessionEnd},
		{"SessionListOrder", authSessionListOrder},
		{"RefreshAdd", authRefreshAdd},
		{"RefreshUse", authRefreshUse},
		{"Sweep", authSweep},
		{"RefreshConcurrentUse", authRefreshConcurrentUse},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t, newStores(t))
		})
	}
}

// authBase is whole microseconds in UTC: both kinds of store keep it
// exactly.
var authBase = time.Date(2026, 5, 6, 7, 8, 9, 123456000, time.UTC)

func at(sec int) time.Time { return authBase.Add(time.Duration(sec) * time.Second) }

// norm returns t in a canonical form (UTC, no monotonic reading), so
// times from either store compare with ==.
func norm(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return time.Unix(0, t.UnixNano()).UTC()
}

func normKey(r auth.KeyRecord) auth.KeyRecord {
	r.Created, r.Revoked = norm(r.Created), norm(r.Revoked)
	return r
}

func normSession(s auth.Session) auth.Session {
	s.Created, s.LastSeen, s.Ended = norm(s.Created), norm(s.LastSeen), norm(s.Ended)
	return s
}

func normRefresh(r auth.RefreshRecord) auth.RefreshRecord {
	r.Issued, r.Expires, r.Used = norm(r.Issued), norm(r.Expires), norm(r.Used)
	return r
}

func keyRecord(id, name string, role auth.Role, created time.Time) auth.KeyRecord {
	return auth.KeyRecord{
		KeyInfo: auth.KeyInfo{ID: id, Name: name, Role: role, Created: created},
		Hash:    sha256.Sum256([]byte("st_" + id + "_secret")),
	}
}

func session(id, principal string, created time.Time) auth.Session {
	return auth.Session{
		ID:        auth.SessionID(id),
		Principal: principal,
		Name:      "name of " + principal,
		Role:      auth.RoleDeveloper,
		KeyID:     "key-" + principal,
		Created:   created,
		LastSeen:  created,
	}
}

func refresh(sid, token string, issued, expires time.Time) auth.RefreshRecord {
	return auth.RefreshRecord{Hash: sha256.Sum256([]byte(token)), SessionID: auth.SessionID(sid), Issued: issued, Expires: expires}
}

func sessionIDs(ss []auth.Session) []auth.SessionID {
	out := make([]auth.SessionID, len(ss))
	for i, s := range ss {
		out[i] = s.ID
	}
	return out
}

func mustCreate(t *testing.T, st authStores, s auth.Session, r *auth.RefreshRecord) {
	t.Helper()
	if err := st.sessions.Create(s, r); err != nil {
		t.Fatalf("Create(%s): %v", s.ID, err)
	}
}

func mustGetSession(t *testing.T, st authStores, id auth.SessionID) auth.Session {
	t.Helper()
	s, err := st.sessions.Get(id)
	if err != nil {
		t.Fatalf("Get(%s): %v", id, err)
	}
	return normSession(s)
}

func authKeyPutGet(t *testing.T, st authStores) {
	rec := keyRecord("0123456789abcdef", "ci", auth.RoleDeveloper, at(0))
	if err := st.keys.Put(rec); err != nil {
		t.Fatalf("Put: %v", err)
	}
	got, err := st.keys.Get(rec.ID)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if want := rec; !reflect.DeepEqual(normKey(got), want) {
		t.Errorf("Get:\n got %+v\nwant %+v", got, want)
	}
	dup := keyRecord(rec.ID, "other", auth.RoleAdmin, at(1))
	if err := st.keys.Put(dup); err == nil {
		t.Errorf("Put of an existing id: err = nil, want an error")
	}
	if got, _ := st.keys.Get(rec.ID); got.Name != rec.Name || got.Role != rec.Role {
		t.Errorf("after a refused Put, Get = %+v, want the first record", got)
	}
	for _, id := range []string{"ffffffffffffffff", ""} {
		_, err := st.keys.Get(id)
		if !errors.Is(err, auth.ErrKeyNotFound) || !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("Get(%q): err = %v, want auth.ErrKeyNotFound", id, err)
		}
	}
}

func authKeyList(t *testing.T, st authStores) {
	got, err := st.keys.List()
	if err != nil || len(got) != 0 {
		t.Fatalf("List of no keys = %v, %v; want none", got, err)
	}
	// Put out of order, with a tie in Created broken by id.
	recs := []auth.KeyRecord{
		keyRecord("bbbbbbbbbbbbbbbb", "b", auth.RoleAdmin, at(2)),
		keyRecord("cccccccccccccccc", "c", auth.RoleGuest, at(1)),
		keyRecord("aaaaaaaaaaaaaaaa", "a", auth.RoleReadonly, at(1)),
		keyRecord("dddddddddddddddd", "d", auth.RoleDeveloper, at(0)),
	}
	for _, r := range recs {
		if err := st.keys.Put(r); err != nil {
			t.Fatalf("Put: %v", err)
		}
	}
	if err := st.keys.Revoke("bbbbbbbbbbbbbbbb", at(5)); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	got, err = st.keys.List()
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	revoked := recs[0]
	revoked.Revoked = at(5)
	want := []auth.KeyRecord{recs[3], recs[2], recs[1], revoked}
	if len(got) != len(want) {
		t.Fatalf("List returned %d keys, want %d", len(got), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(normKey(got[i]), want[i]) {
			t.Errorf("List[%d]:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

func authKeyRevoke(t *testing.T, st authStores) {
	a := keyRecord("aaaaaaaaaaaaaaaa", "a", auth.RoleAdmin, at(0))
	b := keyRecord("bbbbbbbbbbbbbbbb", "b", auth.RoleAdmin, at(0))
	for _, r := range []auth.KeyRecord{a, b} {
		if err := st.keys.Put(r); err != nil {
			t.Fatalf("Put: %v", err)
		}
	}
	steps := []struct {
		name        string
		id          string
		at          time.Time
		wantErr     error
		wantRevoked time.Time // of a afterwards
	}{
		{"first revocation", a.ID, at(5), nil, at(5)},
		{"second keeps the first time", a.ID, at(9), nil, at(5)},
		{"unknown key", "ffffffffffffffff", at(9), auth.ErrKeyNotFound, at(5)},
	}
	for _, s := range steps {
		err := st.keys.Revoke(s.id, s.at)
		if !errors.Is(err, s.wantErr) || (s.wantErr == nil && err != nil) {
			t.Errorf("%s: Revoke: err = %v, want %v", s.name, err, s.wantErr)
		}
		got, err := st.keys.Get(a.ID)
		if err != nil {
			t.Fatalf("%s: Get: %v", s.name, err)
		}
		if !norm(got.Revoked).Equal(s.wantRevoked) || got.Active() {
			t.Errorf("%s: Revoked = %v (active %t), want %v", s.name, got.Revoked, got.Active(), s.wantRevoked)
		}
	}
	if got, err := st.keys.Get(b.ID); err != nil || !got.Active() {
		t.Errorf("untouched key: Get = %+v, %v; want it active", got, err)
	}
}

// signingKey is a key with a 32-byte secret derived from seed.
func signingKey(id string, seed byte, created, retire time.Time) auth.SigningKey {
	return auth.NewSigningKey(id, bytes.Repeat([]byte{seed, seed + 1}, 16), created, retire)
}

func checkSigningKeys(t *testing.T, st authStores, want []auth.SigningKey) {
	t.Helper()
	got, err := st.signing.Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	slices.SortFunc(got, func(a, b auth.SigningKey) int { return strings.Compare(a.ID, b.ID) })
	if len(got) != len(want) {
		t.Fatalf("Load returned %d keys, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.ID != w.ID || !norm(g.Created).Equal(w.Created) || norm(g.RetireAt) != norm(w.RetireAt) ||
			!bytes.Equal(g.Secret(), w.Secret()) {
			t.Errorf("key %d: got %s created %v retire %v, want %s created %v retire %v (or the secret differs)",
				i, g.ID, g.Created, g.RetireAt, w.ID, w.Created, w.RetireAt)
		}
	}
}

func authSigningKeys(t *testing.T, st authStores) {
	checkSigningKeys(t, st, nil)
	k1 := signingKey("k1", 1, at(0), time.Time{})
	k2 := signingKey("k2", 7, at(1), time.Time{})
	for _, k := range []auth.SigningKey{k2, k1} {
		if err := st.signing.Save(k); err != nil {
			t.Fatalf("Save(%s): %v", k.ID, err)
		}
	}
	checkSigningKeys(t, st, []auth.SigningKey{k1, k2})

	// Save replaces the key with the same id (a rotation retires it).
	k1r := signingKey("k1", 3, at(0), at(100))
	if err := st.signing.Save(k1r); err != nil {
		t.Fatalf("Save(retired): %v", err)
	}
	checkSigningKeys(t, st, []auth.SigningKey{k1r, k2})

	for _, id := range []string{"k2", "k2", "absent"} {
		if err := st.signing.Delete(id); err != nil {
			t.Errorf("Delete(%q): %v", id, err)
		}
	}
	checkSigningKeys(t, st, []auth.SigningKey{k1r})
}

func authSessionCreateGet(t *testing.T, st authStores) {
	s1 := session("s1", "alice", at(0))
	r1 := refresh("s1", "tok-1", at(0), at(100))
	mustCreate(t, st, s1, &r1)
	if got := mustGetSession(t, st, s1.ID); !reflect.DeepEqual(got, s1) {
		t.Errorf("Get:\n got %+v\nwant %+v", got, s1)
	}
	if got := mustGetSession(t, st, s1.ID); !got.Live() {
		t.Errorf("new session is not live")
	}
	if err := st.sessions.Create(session("s1", "bob", at(1)), nil); err == nil {
		t.Errorf("Create of an existing id: err = nil, want an error")
	}
	if got := mustGetSession(t, st, s1.ID); got.Principal != "alice" {
		t.Errorf("after a refused Create, principal = %q, want alice", got.Principal)
	}
	if _, err := st.sessions.Get("nope"); !errors.Is(err, auth.ErrSessionNotFound) {
		t.Errorf("Get(unknown): err = %v, want auth.ErrSessionNotFound", err)
	}
	// The first refresh token was stored with the session.
	got, err := st.sessions.UseRefresh(r1.Hash, at(1))
	if err != nil {
		t.Fatalf("UseRefresh of the first token: %v", err)
	}
	want := r1
	want.Used = at(1)
	if !reflect.DeepEqual(normRefresh(got), want) {
		t.Errorf("UseRefresh:\n got %+v\nwant %+v", got, want)
	}
	// A session without a refresh token.
	mustCreate(t, st, session("s2", "alice", at(2)), nil)
}

func authSessionTouch(t *testing.T, st authStores) {
	mustCreate(t, st, session("s1", "alice", at(0)), nil)
	steps := []struct {
		name string
		do   func() error
		want time.Time // LastSeen of s1 afterwards
	}{
		{"forward", func() error { return st.sessions.Touch("s1", at(5)) }, at(5)},
		{"never back", func() error { return st.sessions.Touch("s1", at(3)) }, at(5)},
		{"same time", func() error { return st.sessions.Touch("s1", at(5)) }, at(5)},
		{"unknown session ignored", func() error { return st.sessions.Touch("nope", at(7)) }, at(5)},
		{"end", func() error {
			_, err := st.sessions.End([]auth.SessionID{"s1"}, at(8), auth.EndLogout)
			return err
		}, at(5)},
		{"ended session ignored", func() error { return st.sessions.Touch("s1", at(9)) }, at(5)},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got := mustGetSession(t, st, "s1").LastSeen; !got.Equal(s.want) {
			t.Errorf("%s: LastSeen = %v, want %v", s.name, got, s.want)
		}
	}
}

func authSessionEnd(t *testing.T, st authStores) {
	mustCreate(t, st, session("a", "alice", at(0)), nil)
	mustCreate(t, st, session("b", "alice", at(1)), nil)
	mustCreate(t, st, session("c", "bob", at(2)), nil)
	steps := []struct {
		name   string
		ids    []auth.SessionID
		reason auth.EndReason
		want   []auth.SessionID
	}{
		{"none", nil, auth.EndRevoked, nil},
		{"live ones, in order, once", []auth.SessionID{"b", "nope", "a", "b"}, auth.EndRevoked, []auth.SessionID{"b", "a"}},
		{"already ended", []auth.SessionID{"a", "b"}, auth.EndLogout, nil},
		{"unknown only", []auth.SessionID{"x", "y"}, auth.EndLogout, nil},
	}
	for _, s := range steps {
		got, err := st.sessions.End(s.ids, at(5), s.reason)
		if err != nil {
			t.Fatalf("%s: End: %v", s.name, err)
		}
		if len(got) != len(s.want) || (len(got) > 0 && !reflect.DeepEqual(got, s.want)) {
			t.Errorf("%s: End = %v, want %v", s.name, got, s.want)
		}
	}
	a := mustGetSession(t, st, "a")
	if a.Live() || !a.Ended.Equal(at(5)) || a.EndReason != auth.EndRevoked {
		t.Errorf("ended session: Ended %v reason %q live %t; want %v, %q, false", a.Ended, a.EndReason, a.Live(), at(5), auth.EndRevoked)
	}
	if c := mustGetSession(t, st, "c"); !c.Live() {
		t.Errorf("session c ended, want it live")
	}
	alice, err := st.sessions.ByPrincipal("alice")
	if err != nil || len(alice) != 0 {
		t.Errorf("ByPrincipal(alice) = %v, %v; want none", sessionIDs(alice), err)
	}
	all, err := st.sessions.List()
	if got, want := sessionIDs(all), []auth.SessionID{"c"}; err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("List = %v, %v; want %v", got, err, want)
	}
}

func authSessionListOrder(t *testing.T, st authStores) {
	ended := session("e", "alice", at(0))
	ended.Ended, ended.EndReason = at(1), auth.EndLogout
	for _, s := range []auth.Session{
		session("s3", "alice", at(3)),
		session("s2", "bob", at(2)),
		session("s1b", "alice", at(1)),
		session("s1a", "carol", at(1)),
		ended, // created ended: never live
	} {
		mustCreate(t, st, s, nil)
	}
	// A touch does not change the order.
	if err := st.sessions.Touch("s1b", at(50)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		list func() ([]auth.Session, error)
		want []auth.SessionID
	}{
		{"List", st.sessions.List, []auth.SessionID{"s1a", "s1b", "s2", "s3"}},
		{"ByPrincipal alice", func() ([]auth.Session, error) { return st.sessions.ByPrincipal("alice") }, []auth.SessionID{"s1b", "s3"}},
		{"ByPrincipal bob", func() ([]auth.Session, error) { return st.sessions.ByPrincipal("bob") }, []auth.SessionID{"s2"}},
		{"ByPrincipal nobody", func() ([]auth.Session, error) { return st.sessions.ByPrincipal("nobody") }, []auth.SessionID{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.list()
			if err != nil {
				t.Fatal(err)
			}
			if ids := sessionIDs(got); !reflect.DeepEqual(ids, tc.want) {
				t.Errorf("got %v, want %v", ids, tc.want)
			}
			for _, s := range got {
				if s.ID == "s1b" && !norm(s.LastSeen).Equal(at(50)) {
					t.Errorf("s1b LastSeen = %v, want %v", s.LastSeen, at(50))
				}
			}
		})
	}
	if got := mustGetSession(t, st, "e"); !reflect.DeepEqual(got, ended) {
		t.Errorf("Get of a session created ended:\n got %+v\nwant %+v", got, ended)
	}
}

func authRefreshAdd(t *testing.T, st authStores) {
	if err := st.sessions.AddRefresh(refresh("nope", "t0", at(0), at(100))); err == nil {
		t.Errorf("AddRefresh for an unknown session: err = nil, want an error")
	}
	if _, err := st.sessions.UseRefresh(sha256.Sum256([]byte("t0")), at(1)); !errors.Is(err, auth.ErrRefreshInvalid) {
		t.Errorf("UseRefresh of a refused token: err = %v, want auth.ErrRefreshInvalid", err)
	}
	mustCreate(t, st, session("s1", "alice", at(0)), nil)
	r := refresh("s1", "t1", at(0), at(100))
	if err := st.sessions.AddRefresh(r); err != nil {
		t.Fatalf("AddRefresh: %v", err)
	}
	// A session's ended state does not matter to the store (Service checks it).
	if _, err := st.sessions.End([]auth.SessionID{"s1"}, at(1), auth.EndLogout); err != nil {
		t.Fatal(err)
	}
	r2 := refresh("s1", "t2", at(1), at(100))
	if err := st.sessions.AddRefresh(r2); err != nil {
		t.Fatalf("AddRefresh for an ended session: %v", err)
	}
	for _, rec := range []auth.RefreshRecord{r, r2} {
		got, err := st.sessions.UseRefresh(rec.Hash, at(2))
		if err != nil {
			t.Fatalf("UseRefresh: %v", err)
		}
		want := rec
		want.Used = at(2)
		if !reflect.DeepEqual(normRefresh(got), want) {
			t.Errorf("UseRefresh:\n got %+v\nwant %+v", got, want)
		}
	}
}

func authRefreshUse(t *testing.T, st authStores) {
	r := refresh("s1", "tok", at(0), at(100))
	mustCreate(t, st, session("s1", "alice", at(0)), &r)
	used := r
	used.Used = at(10)
	steps := []struct {
		name    string
		token   string
		now     time.Time
		want    auth.RefreshRecord
		wantErr error
	}{
		{"unknown", "other", at(1), auth.RefreshRecord{}, auth.ErrRefreshInvalid},
		{"expired at the instant", "tok", at(100), r, auth.ErrRefreshExpired},
		{"expired later", "tok", at(200), r, auth.ErrRefreshExpired},
		{"first use (expiry did not consume it)", "tok", at(10), used, nil},
		{"reuse", "tok", at(11), used, auth.ErrRefreshReuse},
		{"reuse at the same instant", "tok", at(10), used, auth.ErrRefreshReuse},
		{"expiry is checked before use", "tok", at(150), used, auth.ErrRefreshExpired},
	}
	for _, s := range steps {
		got, err := st.sessions.UseRefresh(sha256.Sum256([]byte(s.token)), s.now)
		if !errors.Is(err, s.wantErr) || (s.wantErr == nil && err != nil) {
			t.Errorf("%s: err = %v, want %v", s.name, err, s.wantErr)
		}
		if !reflect.DeepEqual(normRefresh(got), s.want) {
			t.Errorf("%s: record\n got %+v\nwant %+v", s.name, got, s.want)
		}
	}
}

func authSweep(t *testing.T, st authStores) {
	mk := func(id string, ended time.Time) {
		t.Helper()
		mustCreate(t, st, session(id, "alice", at(0)), nil)
		if !ended.IsZero() {
			if _, err := st.sessions.End([]auth.SessionID{auth.SessionID(id)}, ended, auth.EndLogout); err != nil {
				t.Fatal(err)
			}
		}
	}
	mk("a", at(10))
	mk("b", at(20))
	mk("c", time.Time{})
	mk("d", at(30))
	tokens := []struct {
		sid, tok string
		expires  time.Time
		kept     bool
	}{
		{"a", "ta", at(1000), false}, // its session is forgotten
		{"c", "tc1", at(50), false},  // expired at now
		{"c", "tc0", at(40), false},  // expired before now
		{"c", "tc2", at(1000), true}, // live
		{"b", "tb", at(1000), true},  // its session is kept
		{"d", "td", at(51), true},    // not yet expired
	}
	for _, tk := range tokens {
		if err := st.sessions.AddRefresh(refresh(tk.sid, tk.tok, at(0), tk.expires)); err != nil {
			t.Fatal(err)
		}
	}
	n, err := st.sessions.Sweep(at(50), at(20))
	if err != nil || n != 1 {
		t.Errorf("Sweep = %d, %v; want 1 session forgotten", n, err)
	}
	for _, id := range []auth.SessionID{"a"} {
		if _, err := st.sessions.Get(id); !errors.Is(err, auth.ErrSessionNotFound) {
			t.Errorf("Get(%s) after Sweep: err = %v, want auth.ErrSessionNotFound", id, err)
		}
	}
	for _, id := range []auth.SessionID{"b", "c", "d"} {
		mustGetSession(t, st, id)
	}
	for _, tk := range tokens {
		// Used before the expiry of all of them, to see what is kept.
		_, err := st.sessions.UseRefresh(sha256.Sum256([]byte(tk.tok)), at(5))
		if kept := !errors.Is(err, auth.ErrRefreshInvalid); kept != tk.kept {
			t.Errorf("token %s after Sweep: UseRefresh err = %v; kept = %t, want %t", tk.tok, err, kept, tk.kept)
		}
	}
	if n, err := st.sessions.Sweep(at(50), at(20)); err != nil || n != 0 {
		t.Errorf("second Sweep = %d, %v; want 0", n, err)
	}
	if n, err := st.sessions.Sweep(at(60), at(31)); err != nil || n != 2 {
		t.Errorf("later Sweep = %d, %v; want 2 (b and d)", n, err)
	}
}

// useConcurrently presents the token hashed h from n goroutines at once,
// spread over stores, and returns how many succeeded and how many saw
// auth.ErrRefreshReuse; other errors fail t.
func useConcurrently(t *testing.T, stores []auth.SessionStore, h [sha256.Size]byte, n int) (ok, reuse int) {
	t.Helper()
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		errs  = make([]error, n)
	)
	for i := range n {
		wg.Go(func() {
			<-start
			_, errs[i] = stores[i%len(stores)].UseRefresh(h, at(1))
		})
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, auth.ErrRefreshReuse):
			reuse++
		default:
			t.Errorf("concurrent UseRefresh: %v", err)
		}
	}
	return ok, reuse
}

func authRefreshConcurrentUse(t *testing.T, st authStores) {
	const goroutines, rounds = 8, 4
	mustCreate(t, st, session("s1", "alice", at(0)), nil)
	for round := range rounds {
		r := refresh("s1", fmt.Sprintf("tok-%d", round), at(0), at(100))
		if err := st.sessions.AddRefresh(r); err != nil {
			t.Fatal(err)
		}
		ok, reuse := useConcurrently(t, []auth.SessionStore{st.sessions}, r.Hash, goroutines)
		if ok != 1 || reuse != goroutines-1 {
			t.Errorf("round %d: %d successes and %d reuses, want 1 and %d", round, ok, reuse, goroutines-1)
		}
	}
}

// contractAuth runs the auth store behaviours against b's stores.
func contractAuth(t *testing.T, b backend) {
	testAuthBehaviour(t, sqlAuthStores(b))
}

// contractAuthAcrossReplicas presents one refresh token through two Stores
// on one database at once, as two replicas do: exactly one succeeds.
func contractAuthAcrossReplicas(t *testing.T, b backend) {
	const goroutines, rounds = 8, 3
	opts := b.fresh(t)
	s1, s2 := openStore(t, opts), openStore(t, opts)
	mustCreate(t, authStores{sessions: s1.Sessions()}, session("s1", "alice", at(0)), nil)
	for round := range rounds {
		r := refresh("s1", fmt.Sprintf("tok-%d", round), at(0), at(100))
		if err := s2.Sessions().AddRefresh(r); err != nil {
			t.Fatal(err)
		}
		ok, reuse := useConcurrently(t, []auth.SessionStore{s1.Sessions(), s2.Sessions()}, r.Hash, goroutines)
		if ok != 1 || reuse != goroutines-1 {
			t.Errorf("round %d: %d successes and %d reuses, want 1 and %d", round, ok, reuse, goroutines-1)
		}
	}
	// A key rotated on one replica is seen by the other.
	k := signingKey("k1", 9, at(0), at(60))
	if err := s1.SigningKeys().Save(k); err != nil {
		t.Fatal(err)
	}
	checkSigningKeys(t, authStores{signing: s2.SigningKeys()}, []auth.SigningKey{k})
}

// contractAuthSurvivesReopen writes every kind of auth state, closes the
// store and checks it all after reopening.
func contractAuthSurvivesReopen(t *testing.T, b backend) {
	ctx := context.Background()
	opts := b.fresh(t)
	s, err := Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	st := authStores{s.APIKeys(), s.SigningKeys(), s.Sessions()}
	key := keyRecord("0123456789abcdef", "ci", auth.RoleAdmin, at(0))
	if err := st.keys.Put(key); err != nil {
		t.Fatal(err)
	}
	if err := st.keys.Revoke(key.ID, at(3)); err != nil {
		t.Fatal(err)
	}
	key.Revoked = at(3)
	sk := signingKey("k1", 5, at(0), at(70))
	if err := st.signing.Save(sk); err != nil {
		t.Fatal(err)
	}
	ses := session("s1", "alice", at(0))
	r := refresh("s1", "tok", at(0), at(100))
	mustCreate(t, st, ses, &r)
	if err := st.sessions.Touch("s1", at(4)); err != nil {
		t.Fatal(err)
	}
	ses.LastSeen = at(4)
	if _, err := st.sessions.UseRefresh(r.Hash, at(5)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2 := openStore(t, opts)
	st = authStores{s2.APIKeys(), s2.SigningKeys(), s2.Sessions()}
	gotKey, err := st.keys.Get(key.ID)
	if err != nil || !reflect.DeepEqual(normKey(gotKey), key) {
		t.Errorf("key after reopen = %+v, %v; want %+v", gotKey, err, key)
	}
	checkSigningKeys(t, st, []auth.SigningKey{sk})
	if got := mustGetSession(t, st, "s1"); !reflect.DeepEqual(got, ses) {
		t.Errorf("session after reopen:\n got %+v\nwant %+v", got, ses)
	}
	want := r
	want.Used = at(5)
	got, err := st.sessions.UseRefresh(r.Hash, at(6))
	if !errors.Is(err, auth.ErrRefreshReuse) || !reflect.DeepEqual(normRefresh(got), want) {
		t.Errorf("UseRefresh after reopen = %+v, %v; want %+v, auth.ErrRefreshReuse", got, err, want)
	}
}

// contractAuthInvalidRole: the SQL stores keep role names, so a value that
// is not one of the four roles is refused (the Mem stores keep anything).
func contractAuthInvalidRole(t *testing.T, b backend) {
	s := openStore(t, b.fresh(t))
	if err := s.APIKeys().Put(keyRecord("0123456789abcdef", "x", auth.RoleDefault, at(0))); !errors.Is(err, auth.ErrInvalidRole) {
		t.Errorf("Put with RoleDefault: err = %v, want auth.ErrInvalidRole", err)
	}
	bad := session("s1", "alice", at(0))
	bad.Role = auth.Role(9)
	if err := s.Sessions().Create(bad, nil); !errors.Is(err, auth.ErrInvalidRole) {
		t.Errorf("Create with Role(9): err = %v, want auth.ErrInvalidRole", err)
	}
}
