package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestVerifyTokenFailures crafts one bad token per failure kind and checks
// that the session-bound Verify names the right kind.
func TestVerifyTokenFailures(t *testing.T) {
	f := newFixture(t, nil)
	good := f.login(t, "dev1", RoleDeveloper)
	sid := good.SessionID
	now := f.clock.Now()
	key := f.currentKey(t)
	kid := map[string]any{"kid": key.ID}
	hs := jwt.SigningMethodHS256

	mod := func(edit func(c *Claims)) Claims {
		c := f.goodClaims(sid, now)
		edit(&c)
		return c
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	segs := strings.Split(good.AccessToken, ".")
	b64 := base64.RawURLEncoding.EncodeToString

	// A signature re-encoded with non-zero padding bits decodes to the same
	// bytes under lenient base64; strict decoding must refuse it.
	sig := segs[2]
	last := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", sig[len(sig)-1])
	malleable := segs[0] + "." + segs[1] + "." + sig[:len(sig)-1] +
		string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[last|1])

	tests := []struct {
		name  string
		token string
		want  error
	}{
		{"expired", craft(t, hs, key.secret, kid, mod(func(c *Claims) {
			c.ExpiresAt = now.Add(-time.Minute).Unix()
		})), ErrTokenExpired},
		{"nbf in future", craft(t, hs, key.secret, kid, mod(func(c *Claims) {
			c.NotBefore = now.Add(2 * time.Minute).Unix()
		})), ErrTokenNotYetValid},
		{"iat in future", craft(t, hs, key.secret, kid, mod(func(c *Claims) {
			c.IssuedAt = now.Add(2 * time.Minute).Unix()
		})), ErrTokenNotYetValid},
		{"wrong signature key", craft(t, hs, []byte("another-secret-of-32-bytes-00000"), kid, mod(func(*Claims) {})), ErrTokenSignature},
		{"tampered claims", segs[0] + "." + b64([]byte(`{"role":"admin","sid":"`+string(sid)+`","sub":"dev1"}`)) + "." + segs[2], ErrTokenSignature},
		{"signature stripped", segs[0] + "." + segs[1] + ".", ErrTokenSignature},
		{"non-canonical base64 signature", malleable, ErrTokenMalformed},
		{"alg none", craft(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, kid, mod(func(*Claims) {})), ErrTokenAlgorithm},
		{"alg none, HS256 signature", b64([]byte(`{"alg":"none","kid":"`+key.ID+`","typ":"JWT"}`)) + "." + segs[1] + "." + segs[2], ErrTokenAlgorithm},
		{"alg NONE", b64([]byte(`{"alg":"NONE","kid":"`+key.ID+`"}`)) + "." + segs[1] + ".", ErrTokenAlgorithm},
		{"alg RS256", craft(t, jwt.SigningMethodRS256, rsaKey, kid, mod(func(*Claims) {})), ErrTokenAlgorithm},
		{"alg EdDSA", craft(t, jwt.SigningMethodEdDSA, edKey, kid, mod(func(*Claims) {})), ErrTokenAlgorithm},
		{"alg HS512 with our key", craft(t, jwt.SigningMethodHS512, key.secret, kid, mod(func(*Claims) {})), ErrTokenAlgorithm},
		{"alg missing", b64([]byte(`{"kid":"`+key.ID+`"}`)) + "." + segs[1] + "." + segs[2], ErrTokenAlgorithm},
		{"alg unknown", b64([]byte(`{"alg":"XS999","kid":"`+key.ID+`"}`)) + "." + segs[1] + "." + segs[2], ErrTokenAlgorithm},
		{"unknown kid", craft(t, hs, key.secret, map[string]any{"kid": "nope"}, mod(func(*Claims) {})), ErrUnknownKey},
		{"missing kid", craft(t, hs, key.secret, nil, mod(func(*Claims) {})), ErrUnknownKey},
		{"numeric kid", craft(t, hs, key.secret, map[string]any{"kid": 7}, mod(func(*Claims) {})), ErrUnknownKey},
		{"wrong issuer", craft(t, hs, key.secret, kid, mod(func(c *Claims) { c.Issuer = "evil" })), ErrTokenIssuer},
		{"wrong audience", craft(t, hs, key.secret, kid, mod(func(c *Claims) { c.Audience = audience{"other-api"} })), ErrTokenAudience},
		{"missing issuer", craft(t, hs, key.secret, kid, mod(func(c *Claims) { c.Issuer = "" })), ErrTokenClaims},
		{"missing audience", craft(t, hs, key.secret, kid, mod(func(c *Claims) { c.Audience = nil })), ErrTokenClaims},
		{"missing exp", craft(t, hs, key.secret, kid, mod(func(c *Claims) { c.ExpiresAt = 0 })), ErrTokenClaims},
		{"missing sub", craft(t, hs, key.secret, kid, mod(func(c *Claims) { c.Subject = "" })), ErrTokenClaims},
		{"missing sid", craft(t, hs, key.secret, kid, mod(func(c *Claims) { c.SessionID = "" })), ErrTokenClaims},
		{"missing jti", craft(t, hs, key.secret, kid, mod(func(c *Claims) { c.ID = "" })), ErrTokenClaims},
		{"role differs from session", craft(t, hs, key.secret, kid, mod(func(c *Claims) { c.Role = RoleAdmin })), ErrTokenClaims},
		{"subject differs from session", craft(t, hs, key.secret, kid, mod(func(c *Claims) { c.Subject = "someone" })), ErrTokenClaims},
		{"unknown session", craft(t, hs, key.secret, kid, mod(func(c *Claims) { c.SessionID = "no-such-session" })), ErrSessionNotFound},
		{"empty", "", ErrTokenMalformed},
		{"one segment", "abc", ErrTokenMalformed},
		{"two segments", segs[0] + "." + segs[1], ErrTokenMalformed},
		{"four segments", good.AccessToken + ".x", ErrTokenMalformed},
		{"bad base64 header", "!!!." + segs[1] + "." + segs[2], ErrTokenMalformed},
		{"bad json header", b64([]byte("{")) + "." + segs[1] + "." + segs[2], ErrTokenMalformed},
		{"bad json claims", segs[0] + "." + b64([]byte("[1,2")) + "." + segs[2], ErrTokenMalformed},
		{"claims of wrong type", segs[0] + "." + b64([]byte(`{"exp":"tomorrow"}`)) + "." + segs[2], ErrTokenMalformed},
		{"padded segment", segs[0] + "=." + segs[1] + "." + segs[2], ErrTokenMalformed},
		{"dots only", "..", ErrTokenMalformed},
		{"huge", segs[0] + "." + strings.Repeat("A", MaxTokenLen) + "." + segs[2], ErrTokenMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := f.svc.Verify(tt.token)
			if err == nil {
				t.Fatalf("Verify succeeded: %+v", p)
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify error = %v (%s), want %v", err, Reason(err), tt.want)
			}
			if !errors.Is(err, ErrUnauthenticated) {
				t.Errorf("error %v does not wrap ErrUnauthenticated", err)
			}
			if len(tt.token) > 10 {
				assertNoSecrets(t, "error", err.Error(), tt.token, segs[2])
			}
		})
	}

	// The good token still verifies (the table did not break the session).
	p, err := f.svc.Verify(good.AccessToken)
	if err != nil {
		t.Fatalf("good token: %v", err)
	}
	if p.ID != "dev1" || p.Role != RoleDeveloper || p.SessionID != sid || p.Method != MethodJWT {
		t.Errorf("principal = %+v", p)
	}
}

func TestVerifyLeeway(t *testing.T) {
	f := newFixture(t, nil)
	tok := f.login(t, "dev1", RoleDeveloper)
	ttl := f.opts.Security.Authentication.AccessTokenTTL()
	f.clock.Advance(ttl + DefaultLeeway - time.Second)
	if _, err := f.svc.Verify(tok.AccessToken); err != nil {
		t.Fatalf("within leeway: %v", err)
	}
	f.clock.Advance(time.Second)
	if _, err := f.svc.Verify(tok.AccessToken); !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("past leeway: %v, want ErrTokenExpired", err)
	}
}

func TestRotationOldTokensVerifyUntilExpiry(t *testing.T) {
	var added []SigningKey
	f := newFixture(t, func(o *Options) { o.OnKeyAdded = func(k SigningKey) { added = append(added, k) } })
	if len(added) != 1 {
		t.Fatalf("OnKeyAdded calls for the first key = %d, want 1", len(added))
	}
	ttl := f.opts.Security.Authentication.AccessTokenTTL()
	old := f.login(t, "dev1", RoleDeveloper)
	oldKid := f.currentKey(t).ID

	f.clock.Advance(time.Minute)
	info, err := f.svc.Keyring().RotateNow()
	if err != nil {
		t.Fatalf("RotateNow: %v", err)
	}
	if info.ID == oldKid || !info.Current {
		t.Fatalf("RotateNow = %+v", info)
	}
	if len(added) != 2 || added[1].ID != info.ID { // the first key, then this one
		t.Fatalf("OnKeyAdded calls = %v", added)
	}
	keys := f.svc.Keyring().Keys()
	if len(keys) != 2 || keys[0].ID != info.ID || !keys[0].Current || keys[1].ID != oldKid || keys[1].Current {
		t.Fatalf("Keys = %+v", keys)
	}
	wantRetire := f.clock.Now().Add(ttl + DefaultLeeway)
	if !keys[1].RetireAt.Equal(wantRetire) {
		t.Errorf("old key retires at %v, want %v", keys[1].RetireAt, wantRetire)
	}

	fresh := f.login(t, "dev2", RoleDeveloper)
	if h := header(t, fresh.AccessToken); h["kid"] != info.ID {
		t.Errorf("new token kid = %v, want %v", h["kid"], info.ID)
	}
	if h := header(t, old.AccessToken); h["kid"] != oldKid {
		t.Errorf("old token kid = %v, want %v", h["kid"], oldKid)
	}

	// The old token keeps verifying until it expires.
	f.clock.Advance(ttl - 2*time.Minute)
	if _, err := f.svc.Verify(old.AccessToken); err != nil {
		t.Fatalf("old token before expiry: %v", err)
	}
	f.clock.Advance(time.Minute + DefaultLeeway)
	if _, err := f.svc.Verify(old.AccessToken); !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("old token after expiry: %v, want ErrTokenExpired", err)
	}
	// Once retired, its key is gone: even a fresh token under it is refused.
	f.clock.Advance(time.Minute)
	if err := f.svc.Maintain(f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if keys := f.svc.Keyring().Keys(); len(keys) != 1 || keys[0].ID != info.ID {
		t.Fatalf("after retirement Keys = %+v", keys)
	}
	now := f.clock.Now()
	c := f.goodClaims(fresh.SessionID, now)
	c.Subject = "dev2"
	if _, err := f.svc.Verify(craft(t, jwt.SigningMethodHS256, added[len(added)-1].Secret(), map[string]any{"kid": info.ID}, c)); err != nil {
		t.Fatalf("current key: %v", err)
	}
	oldSecret := []byte(nil)
	for _, k := range mustLoad(t, f) {
		if k.ID == oldKid {
			oldSecret = k.Secret()
		}
	}
	if oldSecret != nil {
		t.Fatal("retired key still in the store")
	}
}

func mustLoad(t *testing.T, f *fixture) []SigningKey {
	t.Helper()
	keys, err := f.svc.ring.store.Load()
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func header(t *testing.T, tok string) map[string]any {
	t.Helper()
	p := jwt.NewParser()
	tk, _, err := p.ParseUnverified(tok, &Claims{})
	if err != nil {
		t.Fatal(err)
	}
	return tk.Header
}

func TestRetiredKeyIsUnknown(t *testing.T) {
	f := newFixture(t, nil)
	ttl := f.opts.Security.Authentication.AccessTokenTTL()
	old := f.currentKey(t)
	if _, err := f.svc.Keyring().RotateNow(); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(ttl + DefaultLeeway)
	// A token under the retired key with otherwise valid times.
	tok := f.login(t, "dev1", RoleDeveloper)
	c := f.goodClaims(tok.SessionID, f.clock.Now())
	forged := craft(t, jwt.SigningMethodHS256, old.secret, map[string]any{"kid": old.ID}, c)
	if _, err := f.svc.Verify(forged); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("retired key: %v, want ErrUnknownKey", err)
	}
}

func TestMaybeRotate(t *testing.T) {
	tests := []struct {
		name    string
		enabled bool
		advance time.Duration
		want    bool
	}{
		{"before interval", true, 71 * time.Hour, false},
		{"at interval", true, 72 * time.Hour, true},
		{"disabled", false, 100 * time.Hour, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(o *Options) {
				o.Security.Authentication.TokenRotationEnabled = tt.enabled
				o.Security.Authentication.TokenRotationIntervalHours = 72
			})
			before := f.currentKey(t).ID
			f.clock.Advance(tt.advance)
			got, err := f.svc.Keyring().MaybeRotate(f.clock.Now())
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want || (f.currentKey(t).ID != before) != tt.want {
				t.Errorf("MaybeRotate = %t (key changed %t), want %t", got, f.currentKey(t).ID != before, tt.want)
			}
		})
	}
}

func TestKeyringReplicaReload(t *testing.T) {
	store := NewMemSigningKeyStore()
	f := newFixture(t, func(o *Options) { o.SigningKeyStore = store })
	clock := f.clock
	replica, err := NewKeyring(KeyringOptions{
		Store: store, Clock: clock.Now, Issuer: "spacetime", Audience: "spacetime-api", TTL: 15 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	tok := f.login(t, "dev1", RoleDeveloper)
	if _, err := replica.Verify(tok.AccessToken); err != nil {
		t.Fatalf("replica verify: %v", err)
	}
	if _, err := f.svc.Keyring().RotateNow(); err != nil {
		t.Fatal(err)
	}
	tok2 := f.login(t, "dev2", RoleDeveloper)
	if _, err := replica.Verify(tok2.AccessToken); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("replica before reload: %v, want ErrUnknownKey", err)
	}
	if err := replica.Reload(); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{tok.AccessToken, tok2.AccessToken} {
		if _, err := replica.Verify(s); err != nil {
			t.Fatalf("replica after reload: %v", err)
		}
	}
	if got, want := replica.Keys()[0].ID, f.svc.Keyring().Keys()[0].ID; got != want {
		t.Errorf("replica current key %s, want %s", got, want)
	}
}

func TestSigningKeyRedaction(t *testing.T) {
	k := NewSigningKey("kid1", []byte("super-secret-signing-key-bytes!!"), epoch, time.Time{})
	js, err := json.Marshal([]SigningKey{k})
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	slog.New(slog.NewJSONHandler(&sb, nil)).Info("k", "key", k, "keys", []SigningKey{k})
	out := fmt.Sprintf("%v|%+v|%#v|%s|%x|%q|%v", k, k, k, k, k, k, []SigningKey{k}) + sb.String() + string(js)
	sec := k.Secret()
	assertNoSecrets(t, "formatted key", out, string(sec), fmt.Sprintf("%x", sec), base64.StdEncoding.EncodeToString(sec))
	if !strings.Contains(out, "kid1") {
		t.Error("key id missing from output")
	}
}

func TestNewKeyringValidation(t *testing.T) {
	if _, err := NewKeyring(KeyringOptions{Issuer: "i", Audience: "a"}); err == nil {
		t.Error("zero TTL accepted")
	}
	if _, err := NewKeyring(KeyringOptions{TTL: time.Minute}); err == nil {
		t.Error("missing issuer accepted")
	}
}

func TestVerifyCache(t *testing.T) {
	t.Run("bounded", func(t *testing.T) {
		f := newFixture(t, func(o *Options) { o.VerifyCacheSize = 2 })
		var toks []Tokens
		for i := range 5 {
			toks = append(toks, f.login(t, fmt.Sprintf("p%d", i), RoleReadonly))
		}
		for round := range 2 {
			for i, tok := range toks {
				if _, err := f.svc.Verify(tok.AccessToken); err != nil {
					t.Fatalf("round %d token %d: %v", round, i, err)
				}
			}
		}
		if n := len(f.svc.ring.cache.m); n > 2 {
			t.Errorf("cache holds %d entries, bound 2", n)
		}
	})
	t.Run("removed key refuses cached token", func(t *testing.T) {
		store := NewMemSigningKeyStore()
		f := newFixture(t, func(o *Options) { o.SigningKeyStore = store })
		tok := f.login(t, "dev1", RoleDeveloper)
		if _, err := f.svc.Verify(tok.AccessToken); err != nil {
			t.Fatal(err)
		}
		old := f.currentKey(t).ID
		if _, err := f.svc.Keyring().RotateNow(); err != nil {
			t.Fatal(err)
		}
		// Another replica deleted the old key; this one reloads.
		if err := store.Delete(old); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.Keyring().Reload(); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Verify(tok.AccessToken); !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("cached token of a removed key = %v, want ErrUnknownKey", err)
		}
	})
	t.Run("tokens are not kept", func(t *testing.T) {
		f := newFixture(t, nil)
		tok := f.login(t, "dev1", RoleDeveloper)
		if _, err := f.svc.Verify(tok.AccessToken); err != nil {
			t.Fatal(err)
		}
		dump := fmt.Sprintf("%+v", f.svc.ring.cache.m)
		assertNoSecrets(t, "cache", dump, tok.AccessToken)
		if len(f.svc.ring.cache.m) != 1 {
			t.Errorf("cache has %d entries, want 1", len(f.svc.ring.cache.m))
		}
	})
}

// TestVerifyFailuresUncached repeats a few failure kinds without the cache.
func TestVerifyFailuresUncached(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.VerifyCacheSize = -1 })
	tok := f.login(t, "dev1", RoleDeveloper)
	if _, err := f.svc.Verify(tok.AccessToken); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Verify(tok.AccessToken[:len(tok.AccessToken)-3] + "AAA"); !errors.Is(err, ErrTokenSignature) {
		t.Errorf("bad signature = %v", err)
	}
	f.clock.Advance(f.opts.Security.Authentication.AccessTokenTTL() + DefaultLeeway)
	if _, err := f.svc.Verify(tok.AccessToken); !errors.Is(err, ErrTokenExpired) {
		t.Errorf("expired = %v", err)
	}
}

func TestKeyringLoadsStoredKeys(t *testing.T) {
	clock := newFakeClock()
	now := clock.Now()
	opts := func(store SigningKeyStore, added *[]string) KeyringOptions {
		return KeyringOptions{Store: store, Clock: clock.Now, Issuer: "i", Audience: "a", TTL: 15 * time.Minute,
			OnKeyAdded: func(k SigningKey) { *added = append(*added, k.ID) }}
	}
	tests := []struct {
		name        string
		stored      []SigningKey
		wantCurrent string // "" : a new key
		wantKeys    int
		wantAdded   int
	}{
		{"empty store", nil, "", 1, 1},
		{"one live key", []SigningKey{NewSigningKey("k1", []byte("s1"), now.Add(-time.Hour), time.Time{})}, "k1", 1, 0},
		{"newest live key signs", []SigningKey{
			NewSigningKey("k1", []byte("s1"), now.Add(-time.Hour), time.Time{}),
			NewSigningKey("k2", []byte("s2"), now.Add(-time.Minute), time.Time{}),
		}, "k2", 2, 0},
		{"old unretired key dropped", []SigningKey{
			NewSigningKey("k1", []byte("s1"), now.Add(-2*time.Hour), time.Time{}),
			NewSigningKey("k2", []byte("s2"), now.Add(-time.Hour), time.Time{}),
		}, "k2", 1, 0},
		{"only retired keys", []SigningKey{NewSigningKey("k1", []byte("s1"), now.Add(-time.Hour), now.Add(-time.Minute))}, "", 1, 1},
		{"retiring key kept", []SigningKey{
			NewSigningKey("k1", []byte("s1"), now.Add(-time.Hour), now.Add(time.Minute)),
			NewSigningKey("k2", []byte("s2"), now.Add(-time.Minute), time.Time{}),
		}, "k2", 2, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := NewMemSigningKeyStore()
			for _, k := range tt.stored {
				if err := store.Save(k); err != nil {
					t.Fatal(err)
				}
			}
			var added []string
			k, err := NewKeyring(opts(store, &added))
			if err != nil {
				t.Fatal(err)
			}
			keys := k.Keys()
			if len(keys) != tt.wantKeys || !keys[0].Current {
				t.Fatalf("Keys = %+v, want %d keys, the first current", keys, tt.wantKeys)
			}
			if tt.wantCurrent != "" && keys[0].ID != tt.wantCurrent {
				t.Errorf("current = %s, want %s", keys[0].ID, tt.wantCurrent)
			}
			if len(added) != tt.wantAdded {
				t.Errorf("OnKeyAdded called %d times, want %d", len(added), tt.wantAdded)
			}
			stored, _ := store.Load()
			if len(stored) != tt.wantKeys {
				t.Errorf("store holds %d keys, want %d (retired ones deleted)", len(stored), tt.wantKeys)
			}
			if _, _, err := k.Sign("sub", RoleGuest, "sid", 0); err != nil {
				t.Errorf("Sign: %v", err)
			}
		})
	}
}

func TestVerifyAudienceForms(t *testing.T) {
	f := newFixture(t, nil)
	tok := f.login(t, "dev1", RoleDeveloper)
	now := f.clock.Now()
	key := f.currentKey(t)
	a := f.opts.Security.Authentication
	base := jwt.MapClaims{
		"iss": a.Issuer, "sub": "dev1", "exp": now.Add(time.Minute).Unix(), "nbf": now.Unix(), "iat": now.Unix(),
		"jti": "j", "role": "developer", "sid": string(tok.SessionID),
	}
	tests := []struct {
		name string
		aud  any
		want error // nil: verifies
	}{
		{"string", a.Audience, nil},
		{"array", []string{a.Audience}, nil},
		{"array with others", []string{"x", a.Audience}, nil},
		{"other string", "x", ErrTokenAudience},
		{"number", 7, ErrTokenMalformed},
		{"array of numbers", []int{7}, ErrTokenMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := jwt.MapClaims{"aud": tt.aud}
			for k, v := range base {
				c[k] = v
			}
			_, err := f.svc.Verify(craft(t, jwt.SigningMethodHS256, key.secret, map[string]any{"kid": key.ID}, c))
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Verify = %v", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}
