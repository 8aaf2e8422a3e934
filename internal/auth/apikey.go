package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/spacetime-vr/spacetime/internal/config"
)

// API key format: "st_" + id + "_" + secret, the id 16 hex digits (8 random
// bytes), the secret 32 random bytes base64url (43 characters).
const (
	apiKeyPrefix   = "st_"
	apiKeyIDBytes  = 8
	apiKeyIDLen    = 2 * apiKeyIDBytes
	apiKeySecLen   = 43 // base64.RawURLEncoding.EncodedLen(secretBytes)
	apiKeyLen      = len(apiKeyPrefix) + apiKeyIDLen + 1 + apiKeySecLen
	maxKeyNameLen  = 64
	maxRawKeyBytes = 512 // longer input is refused before hashing
)

// KeyInfo describes an API key, without its secret. It is what admins list.
type KeyInfo struct {
	// ID is the key's public id (the middle of st_<id>_<secret>); it is the
	// principal id of the key's holder.
	ID string `json:"id"`
	// Name is the admin's label for the key.
	Name string `json:"name"`
	// Role is what the key's holder may do.
	Role Role `json:"role"`
	// Created is when the key was minted.
	Created time.Time `json:"created"`
	// Revoked is when the key was revoked; zero while active.
	Revoked time.Time `json:"revoked,omitzero"`
}

// Active reports whether the key is not revoked.
func (k KeyInfo) Active() bool { return k.Revoked.IsZero() }

// KeyRecord is an API key at rest: its description and the SHA-256 of the
// raw key. The raw key itself is never stored.
type KeyRecord struct {
	KeyInfo
	// Hash is sha256(raw key).
	Hash [sha256.Size]byte `json:"-"`
}

// String describes the key without its hash.
func (r KeyRecord) String() string {
	return fmt.Sprintf("KeyRecord{%s %q %s}", r.ID, r.Name, r.Role)
}

// LogValue logs the key's id, name and role, never the hash.
func (r KeyRecord) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", r.ID), slog.String("name", r.Name), slog.String("role", r.Role.String()))
}

// KeyStore keeps API keys. Implementations are safe for concurrent use; Get
// is on the request path of /auth/token and of legacy bearer tokens.
type KeyStore interface {
	// Put stores a new key. An id that exists already is an error.
	Put(rec KeyRecord) error
	// Get returns the key named id, or an error wrapping ErrKeyNotFound.
	Get(id string) (KeyRecord, error)
	// List returns every key, active and revoked, oldest first.
	List() ([]KeyRecord, error)
	// Revoke marks the key named id revoked at at (a second revocation
	// keeps the first time), or returns an error wrapping ErrKeyNotFound.
	Revoke(id string, at time.Time) error
}

// MemKeyStore is an in-memory KeyStore. The zero value is ready to use.
type MemKeyStore struct {
	mu   sync.RWMutex
	keys map[string]KeyRecord
}

var _ KeyStore = (*MemKeyStore)(nil)

// NewMemKeyStore returns an empty in-memory KeyStore.
func NewMemKeyStore() *MemKeyStore { return &MemKeyStore{} }

// Put implements KeyStore.
func (m *MemKeyStore) Put(rec KeyRecord) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.keys == nil {
		m.keys = make(map[string]KeyRecord)
	}
	if _, ok := m.keys[rec.ID]; ok {
		return fmt.Errorf("auth: key %s exists", rec.ID)
	}
	m.keys[rec.ID] = rec
	return nil
}

// Get implements KeyStore.
func (m *MemKeyStore) Get(id string) (KeyRecord, error) {
	m.mu.RLock()
	rec, ok := m.keys[id]
	m.mu.RUnlock()
	if !ok {
		return KeyRecord{}, ErrKeyNotFound
	}
	return rec, nil
}

// List implements KeyStore.
func (m *MemKeyStore) List() ([]KeyRecord, error) {
	m.mu.RLock()
	out := make([]KeyRecord, 0, len(m.keys))
	for _, rec := range m.keys {
		out = append(out, rec)
	}
	m.mu.RUnlock()
	slices.SortFunc(out, func(a, b KeyRecord) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// Revoke implements KeyStore.
func (m *MemKeyStore) Revoke(id string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	rec, ok := m.keys[id]
	if !ok {
		return ErrKeyNotFound
	}
	if rec.Revoked.IsZero() {
		rec.Revoked = at
		m.keys[id] = rec
	}
	return nil
}

// APIKeys mints, lists, revokes and checks API keys, and recognises the
// bootstrap API_TOKEN. It is safe for concurrent use.
type APIKeys struct {
	store       KeyStore
	clock       func() time.Time
	defaultRole Role

	hasBootstrap  bool
	bootstrapHash [sha256.Size]byte
	// dummyHash is compared against when an id is unknown, so unknown and
	// known ids cost the same.
	dummyHash [sha256.Size]byte
}

// NewAPIKeys returns an API key manager over store (nil: a new
// MemKeyStore). defaultRole is what Mint(RoleDefault, ...) gives; bootstrap,
// when set, authenticates as the admin principal BootstrapPrincipalID;
// clock (nil: time.Now) stamps creation and revocation.
func NewAPIKeys(store KeyStore, defaultRole Role, bootstrap config.Secret, clock func() time.Time) (*APIKeys, error) {
	if !defaultRole.Valid() {
		return nil, fmt.Errorf("auth: default role: %w", ErrInvalidRole)
	}
	if store == nil {
		store = NewMemKeyStore()
	}
	if clock == nil {
		clock = time.Now
	}
	k := &APIKeys{store: store, clock: clock, defaultRole: defaultRole}
	if bootstrap.IsSet() {
		k.hasBootstrap = true
		k.bootstrapHash = hashSecret(bootstrap.Reveal())
	}
	copy(k.dummyHash[:], randomBytes(sha256.Size))
	return k, nil
}

// checkKeyName validates an admin-chosen key name: 1 to 64 characters of
// valid UTF-8, no control characters, no leading or trailing space.
func checkKeyName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty", ErrInvalidName)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: not UTF-8", ErrInvalidName)
	case utf8.RuneCountInString(name) > maxKeyNameLen:
		return fmt.Errorf("%w: longer than %d characters", ErrInvalidName, maxKeyNameLen)
	case strings.TrimSpace(name) != name:
		return fmt.Errorf("%w: leading or trailing space", ErrInvalidName)
	case strings.ContainsFunc(name, unicode.IsControl):
		return fmt.Errorf("%w: control characters", ErrInvalidName)
	}
	return nil
}

// Mint creates an API key for role (RoleDefault: the configured
// default_role) labelled name, stores its hash and returns the raw key,
// st_<id>_<secret>, which is shown once and cannot be recovered. Errors:
// ErrInvalidRole, ErrInvalidName (both ErrInvalid), or a store failure.
func (k *APIKeys) Mint(role Role, name string) (string, KeyInfo, error) {
	if role == RoleDefault {
		role = k.defaultRole
	}
	if !role.Valid() {
		return "", KeyInfo{}, fmt.Errorf("auth: mint key: %w", ErrInvalidRole)
	}
	if err := checkKeyName(name); err != nil {
		return "", KeyInfo{}, fmt.Errorf("auth: mint key: %w", err)
	}
	id := hex.EncodeToString(randomBytes(apiKeyIDBytes))
	raw := apiKeyPrefix + id + "_" + randomToken(secretBytes)
	info := KeyInfo{ID: id, Name: name, Role: role, Created: k.clock()}
	if err := k.store.Put(KeyRecord{KeyInfo: info, Hash: hashSecret(raw)}); err != nil {
		return "", KeyInfo{}, fmt.Errorf("auth: mint key: %w", err)
	}
	return raw, info, nil
}

// Revoke revokes the key named id: it no longer authenticates. Ending the
// key's sessions is Service.RevokeKey's job. Error: ErrKeyNotFound.
func (k *APIKeys) Revoke(id string) error {
	if err := k.store.Revoke(id, k.clock()); err != nil {
		return fmt.Errorf("auth: revoke key %q: %w", id, err)
	}
	return nil
}

// Get returns the key named id without its secret. Error: ErrKeyNotFound.
func (k *APIKeys) Get(id string) (KeyInfo, error) {
	rec, err := k.store.Get(id)
	if err != nil {
		return KeyInfo{}, fmt.Errorf("auth: key %q: %w", id, err)
	}
	return rec.KeyInfo, nil
}

// List returns every key, active and revoked, oldest first, without
// secrets.
func (k *APIKeys) List() ([]KeyInfo, error) {
	recs, err := k.store.List()
	if err != nil {
		return nil, fmt.Errorf("auth: list keys: %w", err)
	}
	out := make([]KeyInfo, len(recs))
	for i, r := range recs {
		out[i] = r.KeyInfo
	}
	return out, nil
}

// splitAPIKey returns the id of a raw key of the right shape.
func splitAPIKey(raw string) (id string, ok bool) {
	if len(raw) != apiKeyLen || !strings.HasPrefix(raw, apiKeyPrefix) {
		return "", false
	}
	id = raw[len(apiKeyPrefix) : len(apiKeyPrefix)+apiKeyIDLen]
	if raw[len(apiKeyPrefix)+apiKeyIDLen] != '_' {
		return "", false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return "", false
		}
	}
	return id, true
}

// Authenticate checks a raw credential: the bootstrap API_TOKEN (principal
// BootstrapPrincipalID, admin, MethodBootstrap) or an API key (principal =
// the key id, its role, MethodAPIKey). Comparisons are constant time over
// SHA-256 hashes. Errors: ErrInvalidAPIKey for anything malformed, unknown
// or wrong; ErrKeyRevoked only for the right secret of a revoked key; a
// wrapped store failure otherwise.
func (k *APIKeys) Authenticate(raw string) (Principal, error) {
	if raw == "" || len(raw) > maxRawKeyBytes {
		return Principal{}, ErrInvalidAPIKey
	}
	h := hashSecret(raw)
	if k.hasBootstrap && equalHash(h, k.bootstrapHash) {
		return Principal{
			ID:     BootstrapPrincipalID,
			Name:   "API_TOKEN",
			Role:   RoleAdmin,
			KeyID:  BootstrapPrincipalID,
			Method: MethodBootstrap,
		}, nil
	}
	id, ok := splitAPIKey(raw)
	if !ok {
		return Principal{}, ErrInvalidAPIKey
	}
	rec, err := k.store.Get(id)
	if err != nil {
		if errors.Is(err, ErrKeyNotFound) {
			_ = equalHash(h, k.dummyHash)
			return Principal{}, ErrInvalidAPIKey
		}
		return Principal{}, fmt.Errorf("auth: authenticate key: %w", err)
	}
	if !equalHash(h, rec.Hash) {
		return Principal{}, ErrInvalidAPIKey
	}
	if !rec.Active() {
		return Principal{}, ErrKeyRevoked
	}
	return Principal{ID: rec.ID, Name: rec.Name, Role: rec.Role, KeyID: rec.ID, Method: MethodAPIKey}, nil
}
