package auth

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestLoginVerify(t *testing.T) {
	f := newFixture(t, nil)
	tok := f.login(t, "dev1", RoleDeveloper)
	if tok.TokenType != "Bearer" || tok.Role != RoleDeveloper || tok.RefreshToken == "" || tok.SessionID == "" {
		t.Fatalf("tokens = %v", tok)
	}
	if want := int(f.opts.Security.Authentication.AccessTokenTTL() / time.Second); tok.ExpiresIn != want {
		t.Errorf("ExpiresIn = %d, want %d", tok.ExpiresIn, want)
	}
	p, err := f.svc.Verify(tok.AccessToken)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	want := Principal{ID: "dev1", Name: "dev1", Role: RoleDeveloper, SessionID: tok.SessionID, KeyID: "dev1", Method: MethodJWT}
	if p != want {
		t.Errorf("Verify = %+v, want %+v", p, want)
	}
	if _, _, err := f.svc.Login(Principal{ID: "", Role: RoleAdmin}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Login without id = %v, want ErrInvalid", err)
	}
	if _, _, err := f.svc.Login(Principal{ID: "x", Role: RoleDefault}); !errors.Is(err, ErrInvalidRole) {
		t.Errorf("Login with RoleDefault = %v, want ErrInvalidRole", err)
	}
}

func TestRefreshRotationAndReuse(t *testing.T) {
	f := newFixture(t, nil)
	first := f.login(t, "dev1", RoleDeveloper)
	other := f.login(t, "dev1", RoleDeveloper) // another login of the same principal

	f.clock.Advance(10 * time.Minute)
	second, err := f.svc.Refresh(first.RefreshToken)
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if second.RefreshToken == first.RefreshToken || second.RefreshToken == "" {
		t.Fatal("refresh token did not rotate")
	}
	if second.AccessToken == first.AccessToken {
		t.Fatal("access token did not change")
	}
	if second.SessionID != first.SessionID {
		t.Errorf("refresh changed the session: %s → %s", first.SessionID, second.SessionID)
	}
	if _, err := f.svc.Verify(second.AccessToken); err != nil {
		t.Fatalf("refreshed access token: %v", err)
	}
	f.clock.Advance(time.Minute)
	third, err := f.svc.Refresh(second.RefreshToken)
	if err != nil {
		t.Fatalf("second Refresh: %v", err)
	}

	// Replaying an already used refresh token revokes the whole family.
	if _, err := f.svc.Refresh(first.RefreshToken); !errors.Is(err, ErrRefreshReuse) {
		t.Fatalf("reuse = %v, want ErrRefreshReuse", err)
	}
	for name, tok := range map[string]string{"first": first.AccessToken, "second": second.AccessToken, "third": third.AccessToken} {
		if _, err := f.svc.Verify(tok); !errors.Is(err, ErrSessionRevoked) {
			t.Errorf("%s access token after reuse = %v, want ErrSessionRevoked", name, err)
		}
	}
	if _, err := f.svc.Refresh(third.RefreshToken); !errors.Is(err, ErrSessionRevoked) {
		t.Errorf("latest refresh token after reuse = %v, want ErrSessionRevoked", err)
	}
	// Another session of the same principal is not part of the family.
	if _, err := f.svc.Verify(other.AccessToken); err != nil {
		t.Errorf("unrelated session affected: %v", err)
	}
	if !strings.Contains(f.log.String(), "refresh token reused") {
		t.Error("reuse was not logged")
	}
	assertNoSecrets(t, "log", f.log.String(), first.RefreshToken, second.RefreshToken, third.RefreshToken,
		first.AccessToken, second.AccessToken, third.AccessToken, testToken)
}

func TestRefreshConcurrentUseOneWins(t *testing.T) {
	f := newFixture(t, nil)
	tok := f.login(t, "dev1", RoleDeveloper)
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = f.svc.Refresh(tok.RefreshToken)
		}()
	}
	wg.Wait()
	ok, reuse := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, ErrRefreshReuse):
			reuse++
		}
	}
	if ok != 1 || reuse != n-1 {
		t.Errorf("%d succeeded and %d saw reuse, want 1 and %d", ok, reuse, n-1)
	}
}

func TestRefreshFailures(t *testing.T) {
	f := newFixture(t, nil)
	tok := f.login(t, "dev1", RoleDeveloper)
	tests := []struct {
		name string
		raw  string
		want error
	}{
		{"empty", "", ErrRefreshInvalid},
		{"junk", "not-a-token", ErrRefreshInvalid},
		{"unknown", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", ErrRefreshInvalid},
		{"access token", tok.AccessToken, ErrRefreshInvalid},
		{"bad characters", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", ErrRefreshInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := f.svc.Refresh(tt.raw); !errors.Is(err, tt.want) {
				t.Errorf("Refresh = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestRefreshExpired(t *testing.T) {
	f := newFixture(t, func(o *Options) {
		o.Security.Authentication.RefreshTokenTTLHours = 1
		o.Security.Authentication.SessionTimeoutMinutes = 600
	})
	tok := f.login(t, "dev1", RoleDeveloper)
	f.clock.Advance(time.Hour)
	if _, err := f.svc.Refresh(tok.RefreshToken); !errors.Is(err, ErrRefreshExpired) {
		t.Fatalf("Refresh = %v, want ErrRefreshExpired", err)
	}
	// An expired token is not consumed: presenting it again is not reuse.
	if _, err := f.svc.Refresh(tok.RefreshToken); !errors.Is(err, ErrRefreshExpired) {
		t.Fatalf("second Refresh = %v, want ErrRefreshExpired", err)
	}
}

func TestRefreshDisabled(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.Security.Authentication.TokenRefreshEnabled = false })
	tok := f.login(t, "dev1", RoleDeveloper)
	if tok.RefreshToken != "" {
		t.Error("refresh token issued although refresh is disabled")
	}
	if _, err := f.svc.Refresh("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"); !errors.Is(err, ErrRefreshDisabled) {
		t.Errorf("Refresh = %v, want ErrRefreshDisabled", err)
	}
}

func TestIdleExpiry(t *testing.T) {
	f := newFixture(t, func(o *Options) {
		o.Security.Authentication.SessionTimeoutMinutes = 30
		o.Security.Authentication.AccessTokenTTLMinutes = 120
	})
	tok := f.login(t, "dev1", RoleDeveloper)

	// Activity every 20 minutes keeps it alive past the timeout.
	for range 4 {
		f.clock.Advance(20 * time.Minute)
		if _, err := f.svc.Verify(tok.AccessToken); err != nil {
			t.Fatalf("active session refused: %v", err)
		}
	}
	// Then 30 idle minutes end it.
	f.clock.Advance(30 * time.Minute)
	if _, err := f.svc.Verify(tok.AccessToken); !errors.Is(err, ErrSessionExpired) {
		t.Fatalf("idle session = %v, want ErrSessionExpired", err)
	}
	if _, err := f.svc.Refresh(tok.RefreshToken); !errors.Is(err, ErrSessionExpired) {
		t.Errorf("refresh of idle session = %v, want ErrSessionExpired", err)
	}
	if list, _ := f.svc.Sessions(); len(list) != 0 {
		t.Errorf("Sessions lists %d sessions, want 0", len(list))
	}
}

func TestIdleExpiryWithoutRequests(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.Security.Authentication.SessionTimeoutMinutes = 10 })
	tok := f.login(t, "dev1", RoleDeveloper)
	f.clock.Advance(9 * time.Minute)
	if list, _ := f.svc.Sessions(); len(list) != 1 {
		t.Fatalf("Sessions = %d, want 1", len(list))
	}
	f.clock.Advance(time.Minute)
	if err := f.svc.Maintain(f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Verify(tok.AccessToken); !errors.Is(err, ErrSessionExpired) {
		t.Fatalf("Verify = %v, want ErrSessionExpired", err)
	}
}

func TestSessionCapEvictsOldest(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.Security.Authentication.MaxConcurrentSessions = 3 })
	var toks []Tokens
	for range 3 {
		toks = append(toks, f.login(t, "dev1", RoleDeveloper))
		f.clock.Advance(time.Second)
	}
	f.login(t, "dev2", RoleDeveloper) // other principals do not count
	// Touch the oldest so "oldest" is about creation, not activity.
	f.clock.Advance(time.Minute)
	if _, err := f.svc.Verify(toks[0].AccessToken); err != nil {
		t.Fatal(err)
	}
	fourth, evicted, err := f.svc.Login(Principal{ID: "dev1", Role: RoleDeveloper, Method: MethodAPIKey})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(evicted, []SessionID{toks[0].SessionID}) {
		t.Fatalf("evicted = %v, want [%s]", evicted, toks[0].SessionID)
	}
	if _, err := f.svc.Verify(toks[0].AccessToken); !errors.Is(err, ErrSessionRevoked) {
		t.Errorf("evicted session = %v, want ErrSessionRevoked", err)
	}
	if _, err := f.svc.Refresh(toks[0].RefreshToken); !errors.Is(err, ErrSessionRevoked) {
		t.Errorf("evicted session refresh = %v, want ErrSessionRevoked", err)
	}
	for _, tok := range append(toks[1:], fourth) {
		if _, err := f.svc.Verify(tok.AccessToken); err != nil {
			t.Errorf("surviving session refused: %v", err)
		}
	}
	list, _ := f.svc.Sessions()
	if len(list) != 4 {
		t.Errorf("Sessions = %d, want 4 (3 of dev1, 1 of dev2)", len(list))
	}
}

func TestSessionCapIdleSessionsDoNotCount(t *testing.T) {
	f := newFixture(t, func(o *Options) {
		o.Security.Authentication.MaxConcurrentSessions = 1
		o.Security.Authentication.SessionTimeoutMinutes = 5
	})
	f.login(t, "dev1", RoleDeveloper)
	f.clock.Advance(6 * time.Minute)
	_, evicted, err := f.svc.Login(Principal{ID: "dev1", Role: RoleDeveloper, Method: MethodAPIKey})
	if err != nil || len(evicted) != 0 {
		t.Fatalf("Login = %v, %v; want no eviction (the old session was idle)", evicted, err)
	}
}

func TestLogoutAndRevoke(t *testing.T) {
	tests := []struct {
		name string
		end  func(f *fixture, tok Tokens) error
	}{
		{"logout", func(f *fixture, tok Tokens) error { return f.svc.Logout(tok.SessionID) }},
		{"logout by refresh token", func(f *fixture, tok Tokens) error { return f.svc.LogoutRefresh(tok.RefreshToken) }},
		{"admin revoke", func(f *fixture, tok Tokens) error { return f.svc.Revoke(tok.SessionID) }},
		{"revoke principal", func(f *fixture, tok Tokens) error {
			ids, err := f.svc.RevokePrincipal("dev1")
			if err == nil && (len(ids) != 1 || ids[0] != tok.SessionID) {
				return errors.New("RevokePrincipal returned the wrong ids")
			}
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			tok := f.login(t, "dev1", RoleDeveloper)
			keep := f.login(t, "dev2", RoleDeveloper)
			if err := tt.end(f, tok); err != nil {
				t.Fatalf("end: %v", err)
			}
			if _, err := f.svc.Verify(tok.AccessToken); !errors.Is(err, ErrSessionRevoked) {
				t.Errorf("access token after end = %v, want ErrSessionRevoked", err)
			}
			if _, err := f.svc.Refresh(tok.RefreshToken); err == nil {
				t.Error("refresh after end succeeded")
			}
			if _, err := f.svc.Verify(keep.AccessToken); err != nil {
				t.Errorf("other session affected: %v", err)
			}
			if err := f.svc.Logout(tok.SessionID); !errors.Is(err, ErrNoSuchSession) || !errors.Is(err, ErrNotFound) {
				t.Errorf("second logout = %v, want ErrNoSuchSession", err)
			}
		})
	}
}

func TestSessionsForgottenAfterTokensExpire(t *testing.T) {
	f := newFixture(t, nil)
	tok := f.login(t, "dev1", RoleDeveloper)
	if err := f.svc.Logout(tok.SessionID); err != nil {
		t.Fatal(err)
	}
	// Right after logout the tombstone names the reason.
	if err := f.svc.Maintain(f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Verify(tok.AccessToken); !errors.Is(err, ErrSessionRevoked) {
		t.Fatalf("Verify = %v, want ErrSessionRevoked", err)
	}
	f.clock.Advance(f.opts.Security.Authentication.AccessTokenTTL() + DefaultLeeway + time.Second)
	if err := f.svc.Maintain(f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.sessions.Get(tok.SessionID); !errors.Is(err, ErrSessionNotFound) {
		t.Errorf("ended session not forgotten: %v", err)
	}
	if _, err := f.svc.Refresh(tok.RefreshToken); !errors.Is(err, ErrRefreshInvalid) {
		t.Errorf("refresh of forgotten session = %v, want ErrRefreshInvalid", err)
	}
}

func TestSessionsListing(t *testing.T) {
	f := newFixture(t, nil)
	a := f.login(t, "a", RoleReadonly)
	f.clock.Advance(time.Second)
	b := f.login(t, "b", RoleAdmin)
	list, err := f.svc.Sessions()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != a.SessionID || list[1].ID != b.SessionID {
		t.Fatalf("Sessions = %+v", list)
	}
	if list[1].Role != RoleAdmin || list[1].Principal != "b" || !list[1].Live() {
		t.Errorf("session b = %+v", list[1])
	}
}

func TestMemSessionStore(t *testing.T) {
	m := NewMemSessionStore()
	now := epoch
	mk := func(id, principal string, at time.Time) Session {
		return Session{ID: SessionID(id), Principal: principal, Role: RoleReadonly, Created: at, LastSeen: at}
	}
	h := func(s string) [32]byte { return hashSecret(s) }
	if err := m.Create(mk("s1", "p", now), &RefreshRecord{Hash: h("r1"), SessionID: "s1", Issued: now, Expires: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := m.Create(mk("s2", "p", now.Add(time.Second)), nil); err != nil {
		t.Fatal(err)
	}
	if err := m.Create(mk("s1", "q", now), nil); err == nil {
		t.Error("duplicate session id accepted")
	}
	if err := m.AddRefresh(RefreshRecord{Hash: h("x"), SessionID: "nope"}); err == nil {
		t.Error("refresh token for an unknown session accepted")
	}

	// Touch moves LastSeen forward only.
	_ = m.Touch("s1", now.Add(time.Minute))
	_ = m.Touch("s1", now.Add(time.Second))
	if s, _ := m.Get("s1"); !s.LastSeen.Equal(now.Add(time.Minute)) {
		t.Errorf("LastSeen = %v", s.LastSeen)
	}

	// UseRefresh: unknown, good, reuse, expired.
	steps := []struct {
		name string
		h    [32]byte
		at   time.Time
		want error
	}{
		{"unknown", h("zz"), now, ErrRefreshInvalid},
		{"first use", h("r1"), now, nil},
		{"reuse", h("r1"), now, ErrRefreshReuse},
		{"used and expired", h("r1"), now.Add(time.Hour), ErrRefreshExpired},
	}
	for _, st := range steps {
		rec, err := m.UseRefresh(st.h, st.at)
		if !errors.Is(err, st.want) && !(st.want == nil && err == nil) {
			t.Errorf("%s: UseRefresh = %v, want %v", st.name, err, st.want)
		}
		if st.want != ErrRefreshInvalid && rec.SessionID != "s1" {
			t.Errorf("%s: record session = %q", st.name, rec.SessionID)
		}
	}

	ended, _ := m.End([]SessionID{"s1", "s1", "nope"}, now, EndRevoked)
	if !slices.Equal(ended, []SessionID{"s1"}) {
		t.Errorf("End = %v", ended)
	}
	if live, _ := m.ByPrincipal("p"); len(live) != 1 || live[0].ID != "s2" {
		t.Errorf("ByPrincipal after End = %+v", live)
	}
	if n, _ := m.Sweep(now.Add(time.Hour), now); n != 0 {
		t.Errorf("Sweep forgot %d sessions ended at the cut-off, want 0", n)
	}
	if n, _ := m.Sweep(now.Add(time.Hour), now.Add(time.Nanosecond)); n != 1 {
		t.Errorf("Sweep forgot %d sessions, want 1", n)
	}
	if _, err := m.Get("s1"); !errors.Is(err, ErrSessionNotFound) {
		t.Errorf("Get after sweep = %v", err)
	}
	if _, err := m.UseRefresh(h("r1"), now); !errors.Is(err, ErrRefreshInvalid) {
		t.Errorf("refresh of a swept session = %v", err)
	}
	if all, _ := m.List(); len(all) != 1 {
		t.Errorf("List = %d sessions, want 1", len(all))
	}
}
