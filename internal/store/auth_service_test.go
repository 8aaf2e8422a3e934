package store

import (
	"errors"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime/internal/auth"
	"github.com/spacetime-vr/spacetime/internal/config"
)

// newAuthService builds a development auth.Service over s's stores, as
// the lead wires it, on the clock now.
func newAuthService(t *testing.T, s *Store, now func() time.Time) *auth.Service {
	t.Helper()
	opts := auth.Options{
		Security:        config.Defaults().Security,
		Environment:     config.EnvDevelopment,
		DataDir:         t.TempDir(),
		APIToken:        config.NewSecret("bootstrap-token-for-store-tests-0123456789"),
		Clock:           now,
		KeyStore:        s.APIKeys(),
		SigningKeyStore: s.SigningKeys(),
		SessionStore:    s.Sessions(),
		VerifyCacheSize: -1,
	}
	svc, err := auth.New(opts)
	if err != nil {
		t.Fatalf("auth.New: %v", err)
	}
	return svc
}

// contractAuthServiceReplicas runs two auth.Services on two Stores sharing
// one database, as two replicas do: a key minted by one is exchanged on the
// other, tokens verify on both, a refresh token replayed on the other
// replica ends the session everywhere, and a key revoked on one no longer
// works on the other. The state survives a restart.
func contractAuthServiceReplicas(t *testing.T, b backend) {
	now := at(0)
	clock := func() time.Time { return now }
	// An end on one replica holds on the other once what that one read of
	// the session is older than auth.DefaultSessionFresh (at once with
	// notices, which these replicas do not exchange).
	settle := func() { now = now.Add(auth.DefaultSessionFresh) }
	opts := b.fresh(t)
	storeA, storeB := openStore(t, opts), openStore(t, opts)
	// A starts first and creates the signing key; B loads it.
	a := newAuthService(t, storeA, clock)
	bsvc := newAuthService(t, storeB, clock)

	raw, _, err := a.APIKeys().Mint(auth.RoleDeveloper, "ci")
	if err != nil {
		t.Fatalf("Mint: %v", err)
	}
	tokens, _, err := bsvc.Exchange(raw)
	if err != nil {
		t.Fatalf("Exchange on the other replica: %v", err)
	}
	if p, err := a.Verify(tokens.AccessToken); err != nil || p.Role != auth.RoleDeveloper {
		t.Fatalf("Verify on the first replica = %+v, %v; want a developer", p, err)
	}
	next, err := a.Refresh(tokens.RefreshToken)
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if _, err := bsvc.Refresh(tokens.RefreshToken); !errors.Is(err, auth.ErrRefreshReuse) {
		t.Errorf("replayed refresh on the other replica: err = %v, want auth.ErrRefreshReuse", err)
	}
	settle()
	for name, svc := range map[string]*auth.Service{"A": a, "B": bsvc} {
		if _, err := svc.Verify(next.AccessToken); !errors.Is(err, auth.ErrSessionRevoked) {
			t.Errorf("replica %s: Verify after the replay: err = %v, want auth.ErrSessionRevoked", name, err)
		}
	}

	fresh, _, err := a.Exchange(raw)
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	p, err := bsvc.Verify(fresh.AccessToken)
	if err != nil {
		t.Fatalf("Verify of a new session on the other replica: %v", err)
	}
	ended, err := bsvc.RevokeKey(p.KeyID)
	if err != nil || len(ended) != 1 || ended[0] != fresh.SessionID {
		t.Errorf("RevokeKey on B = %v, %v; want the session %s ended", ended, err, fresh.SessionID)
	}
	if _, _, err := a.Exchange(raw); !errors.Is(err, auth.ErrKeyRevoked) {
		t.Errorf("Exchange on A of a key revoked on B: err = %v, want auth.ErrKeyRevoked", err)
	}
	settle()
	if _, err := a.Verify(fresh.AccessToken); !errors.Is(err, auth.ErrSessionRevoked) {
		t.Errorf("Verify on A of a session of a key revoked on B: err = %v, want auth.ErrSessionRevoked", err)
	}

	// A restarted replica verifies the tokens of the other: the signing
	// keys and sessions are in the database.
	login, _, err := bsvc.Login(auth.Principal{ID: "ops", Name: "ops", Role: auth.RoleAdmin, KeyID: "ops", Method: auth.MethodAPIKey})
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	if err := storeA.Close(); err != nil {
		t.Fatal(err)
	}
	restarted := newAuthService(t, openStore(t, opts), clock)
	if p, err := restarted.Verify(login.AccessToken); err != nil || p.ID != "ops" {
		t.Errorf("Verify on a restarted replica = %+v, %v; want principal ops", p, err)
	}
	if _, err := restarted.Refresh(login.RefreshToken); err != nil {
		t.Errorf("Refresh on a restarted replica: %v", err)
	}
}
