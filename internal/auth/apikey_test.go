package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"github.com/spacetime-vr/spacetime/internal/config"
)

var apiKeyPattern = regexp.MustCompile(`^st_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$`)

func newTestKeys(t *testing.T, store KeyStore) *APIKeys {
	t.Helper()
	k, err := NewAPIKeys(store, RoleReadonly, config.NewSecret(testToken), newFakeClock().Now)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestMintAuthenticateRevoke(t *testing.T) {
	store := NewMemKeyStore()
	k := newTestKeys(t, store)

	raw, info, err := k.Mint(RoleDeveloper, "ci pipeline")
	if err != nil {
		t.Fatalf("Mint: %v", err)
	}
	if !apiKeyPattern.MatchString(raw) {
		t.Fatalf("raw key has the wrong format (len %d)", len(raw))
	}
	if info.Role != RoleDeveloper || info.Name != "ci pipeline" || !info.Active() || info.Created != epoch {
		t.Errorf("info = %+v", info)
	}
	if !strings.HasPrefix(raw, "st_"+info.ID+"_") {
		t.Errorf("raw key does not carry id %s", info.ID)
	}

	p, err := k.Authenticate(raw)
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	want := Principal{ID: info.ID, Name: "ci pipeline", Role: RoleDeveloper, KeyID: info.ID, Method: MethodAPIKey}
	if p != want {
		t.Errorf("Authenticate = %+v, want %+v", p, want)
	}

	// Hash at rest: neither the raw key nor its secret is stored.
	recs, _ := store.List()
	if len(recs) != 1 {
		t.Fatalf("store has %d keys", len(recs))
	}
	secret := raw[len("st_")+16+1:]
	dump := fmt.Sprintf("%v %+v %#v %s", recs, recs, recs, string(recs[0].Hash[:]))
	assertNoSecrets(t, "stored record", dump, raw, secret)
	if recs[0].Hash != hashSecret(raw) {
		t.Error("stored hash is not sha256(raw)")
	}

	// Listing carries no secret.
	list, _ := k.List()
	js, _ := json.Marshal(list)
	assertNoSecrets(t, "listing", string(js), raw, secret)
	if len(list) != 1 || list[0].ID != info.ID {
		t.Errorf("List = %+v", list)
	}

	if err := k.Revoke(info.ID); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	if _, err := k.Authenticate(raw); !errors.Is(err, ErrKeyRevoked) {
		t.Fatalf("Authenticate revoked = %v, want ErrKeyRevoked", err)
	}
	got, _ := k.Get(info.ID)
	if got.Active() {
		t.Error("revoked key still active in Get")
	}
	if err := k.Revoke("0000000000000000"); !errors.Is(err, ErrKeyNotFound) || !errors.Is(err, ErrNotFound) {
		t.Errorf("Revoke unknown = %v, want ErrKeyNotFound", err)
	}
}

func TestMintDefaultRoleAndValidation(t *testing.T) {
	k := newTestKeys(t, nil)
	_, info, err := k.Mint(RoleDefault, "viewer")
	if err != nil || info.Role != RoleReadonly {
		t.Fatalf("Mint(RoleDefault) = %v, %v; want readonly", info.Role, err)
	}
	tests := []struct {
		name    string
		role    Role
		keyName string
		want    error
	}{
		{"bad role", Role(9), "x", ErrInvalidRole},
		{"empty name", RoleAdmin, "", ErrInvalidName},
		{"long name", RoleAdmin, strings.Repeat("n", 65), ErrInvalidName},
		{"control char", RoleAdmin, "a\nb", ErrInvalidName},
		{"leading space", RoleAdmin, " a", ErrInvalidName},
		{"bad utf8", RoleAdmin, "a\xffb", ErrInvalidName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := k.Mint(tt.role, tt.keyName)
			if !errors.Is(err, tt.want) || !errors.Is(err, ErrInvalid) {
				t.Errorf("Mint = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestAuthenticateFailures(t *testing.T) {
	k := newTestKeys(t, nil)
	raw, _, err := k.Mint(RoleAdmin, "ops")
	if err != nil {
		t.Fatal(err)
	}
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	tests := []struct {
		name string
		raw  string
	}{
		{"empty", ""},
		{"garbage", "hello"},
		{"wrong secret", flip(raw, len(raw)-1)},
		{"unknown id", "st_0123456789abcdef_" + raw[len(raw)-43:]},
		{"uppercase id", "st_" + strings.ToUpper(raw[3:19]) + raw[19:]},
		{"truncated", raw[:len(raw)-1]},
		{"extended", raw + "x"},
		{"bootstrap prefix", testToken[:len(testToken)-1]},
		{"bootstrap extended", testToken + "x"},
		{"huge", strings.Repeat("s", 10000)},
		{"missing separator", strings.Replace(raw, "_", "-", 2)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := k.Authenticate(tt.raw)
			if !errors.Is(err, ErrInvalidAPIKey) || !errors.Is(err, ErrUnauthenticated) {
				t.Errorf("Authenticate = %v, want ErrInvalidAPIKey", err)
			}
		})
	}
}

func TestAuthenticateBootstrap(t *testing.T) {
	k := newTestKeys(t, nil)
	p, err := k.Authenticate(testToken)
	if err != nil {
		t.Fatal(err)
	}
	if p.ID != BootstrapPrincipalID || p.Role != RoleAdmin || p.Method != MethodBootstrap {
		t.Errorf("bootstrap principal = %+v", p)
	}
	noBoot, err := NewAPIKeys(nil, RoleGuest, config.Secret{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := noBoot.Authenticate(testToken); !errors.Is(err, ErrInvalidAPIKey) {
		t.Errorf("without bootstrap: %v", err)
	}
}

func TestKeyRecordRedaction(t *testing.T) {
	rec := KeyRecord{KeyInfo: KeyInfo{ID: "abc", Name: "n", Role: RoleAdmin}, Hash: hashSecret("raw-key")}
	h := rec.Hash
	hexHash := fmt.Sprintf("%x", h[:])
	var sb strings.Builder
	slog.New(slog.NewTextHandler(&sb, nil)).Info("x", "rec", rec)
	out := fmt.Sprintf("%v %+v %s", rec, rec, rec) + sb.String()
	assertNoSecrets(t, "output", out, hexHash, string(h[:]))
}
