package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Algorithm is the one JWT algorithm the keyring signs and accepts. HS256
// verifies in about 4 µs (EdDSA would take about 39 µs per request); the
// keys never leave the process (and, later, the shared store), so a
// symmetric algorithm is enough.
const Algorithm = "HS256"

// DefaultLeeway is the clock skew tolerated on exp, nbf and iat.
const DefaultLeeway = 30 * time.Second

// MaxTokenLen bounds an access token (and a whole Authorization header);
// longer input is refused before any decoding.
const MaxTokenLen = 4 << 10

// SigningKey is one HS256 key of the keyring. Its secret is unexported:
// it never appears in fmt, encoding/json or slog output; a store reads it
// with Secret and rebuilds a key with NewSigningKey.
type SigningKey struct {
	// ID is the key id, the JWT "kid" header of every token it signs.
	ID string
	// secret is the HMAC key: 32 random bytes.
	secret []byte
	// Created is when the key was made; the newest unretired key signs.
	Created time.Time
	// RetireAt, when set, is the moment the key stops verifying: every
	// token it signed has expired by then (rotation time + access-token
	// TTL + leeway). A key with RetireAt set no longer signs.
	RetireAt time.Time
}

// NewSigningKey rebuilds a stored key (for SigningKeyStore
// implementations). It copies secret.
func NewSigningKey(id string, secret []byte, created, retireAt time.Time) SigningKey {
	return SigningKey{ID: id, secret: slices.Clone(secret), Created: created, RetireAt: retireAt}
}

// Secret returns a copy of the HMAC key, for SigningKeyStore
// implementations only.
func (k SigningKey) Secret() []byte { return slices.Clone(k.secret) }

// String names the key, never its secret.
func (k SigningKey) String() string { return "SigningKey(" + k.ID + ")" }

// GoString is String, so %#v does not show the secret either.
func (k SigningKey) GoString() string { return k.String() }

// Format prints String for every verb.
func (k SigningKey) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(k.String())) }

// LogValue logs the key's id and times, never its secret.
func (k SigningKey) LogValue() slog.Value {
	return slog.GroupValue(slog.String("kid", k.ID), slog.Time("created", k.Created), slog.Time("retire_at", k.RetireAt))
}

// SigningKeyInfo describes a signing key without its secret (the admin
// listing).
type SigningKeyInfo struct {
	ID       string    `json:"kid"`
	Created  time.Time `json:"created"`
	RetireAt time.Time `json:"retire_at,omitzero"`
	// Current is true for the key that signs new tokens.
	Current bool `json:"current"`
}

// SigningKeyStore keeps the keyring's keys. Implementations are safe for
// concurrent use. The keyring calls it only when keys change (rotation,
// pruning, Reload), never on the request path.
type SigningKeyStore interface {
	// Load returns every stored key, in any order.
	Load() ([]SigningKey, error)
	// Save adds the key or replaces the stored key with the same ID.
	Save(k SigningKey) error
	// Delete removes the key named id; an absent key is not an error.
	Delete(id string) error
}

// MemSigningKeyStore is an in-memory SigningKeyStore (keys die with the
// process, and with them every access token). The zero value is ready.
type MemSigningKeyStore struct {
	mu   sync.Mutex
	keys map[string]SigningKey
}

var _ SigningKeyStore = (*MemSigningKeyStore)(nil)

// NewMemSigningKeyStore returns an empty in-memory SigningKeyStore.
func NewMemSigningKeyStore() *MemSigningKeyStore { return &MemSigningKeyStore{} }

// Load implements SigningKeyStore.
func (m *MemSigningKeyStore) Load() ([]SigningKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]SigningKey, 0, len(m.keys))
	for _, k := range m.keys {
		k.secret = slices.Clone(k.secret)
		out = append(out, k)
	}
	return out, nil
}

// Save implements SigningKeyStore.
func (m *MemSigningKeyStore) Save(k SigningKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.keys == nil {
		m.keys = make(map[string]SigningKey)
	}
	k.secret = slices.Clone(k.secret)
	m.keys[k.ID] = k
	return nil
}

// Delete implements SigningKeyStore.
func (m *MemSigningKeyStore) Delete(id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.keys, id)
	return nil
}

// Claims are the claims of an access token: iss, aud, sub (the principal
// id), exp, nbf, iat (Unix seconds), jti, plus role and sid (the session
// id). The struct is flat (no jwt.RegisteredClaims) so decoding is cheap;
// it implements jwt.Claims for the library's validator.
type Claims struct {
	Issuer    string    `json:"iss,omitempty"`
	Subject   string    `json:"sub,omitempty"`
	Audience  audience  `json:"aud,omitempty"`
	ExpiresAt int64     `json:"exp,omitempty"`
	NotBefore int64     `json:"nbf,omitempty"`
	IssuedAt  int64     `json:"iat,omitempty"`
	ID        string    `json:"jti,omitempty"`
	Role      Role      `json:"role"`
	SessionID SessionID `json:"sid,omitempty"`
}

var _ jwt.ClaimsValidator = Claims{}

// audience is the aud claim: a string or an array of strings on the wire.
type audience []string

// UnmarshalJSON accepts a string or an array of strings.
func (a *audience) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*a = audience{s}
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return err
	}
	*a = list
	return nil
}

func numericDate(sec int64) (*jwt.NumericDate, error) {
	if sec == 0 {
		return nil, nil
	}
	return jwt.NewNumericDate(time.Unix(sec, 0)), nil
}

// GetExpirationTime implements jwt.Claims.
func (c Claims) GetExpirationTime() (*jwt.NumericDate, error) { return numericDate(c.ExpiresAt) }

// GetNotBefore implements jwt.Claims.
func (c Claims) GetNotBefore() (*jwt.NumericDate, error) { return numericDate(c.NotBefore) }

// GetIssuedAt implements jwt.Claims.
func (c Claims) GetIssuedAt() (*jwt.NumericDate, error) { return numericDate(c.IssuedAt) }

// GetAudience implements jwt.Claims.
func (c Claims) GetAudience() (jwt.ClaimStrings, error) { return jwt.ClaimStrings(c.Audience), nil }

// GetIssuer implements jwt.Claims.
func (c Claims) GetIssuer() (string, error) { return c.Issuer, nil }

// GetSubject implements jwt.Claims.
func (c Claims) GetSubject() (string, error) { return c.Subject, nil }

// Validate is called by the parser after the standard checks: sub, sid
// and jti must be present and role valid.
func (c Claims) Validate() error {
	if c.Subject == "" || c.SessionID == "" || c.ID == "" || !c.Role.Valid() {
		return ErrTokenClaims
	}
	return nil
}

// KeyringOptions configure a Keyring.
type KeyringOptions struct {
	// Store keeps the keys (nil: a new MemSigningKeyStore).
	Store SigningKeyStore
	// Clock is the time source (nil: time.Now).
	Clock func() time.Time
	// Issuer and Audience are the iss and aud of every token, required on
	// verification.
	Issuer, Audience string
	// TTL is the access-token lifetime (access_token_ttl_minutes); Sign
	// never issues a longer one.
	TTL time.Duration
	// Leeway is the tolerated clock skew (0: DefaultLeeway).
	Leeway time.Duration
	// RotationInterval is the age at which MaybeRotate replaces the
	// signing key (token_rotation_interval_hours); 0 disables automatic
	// rotation (RotateNow still works).
	RotationInterval time.Duration
	// OnKeyAdded, when set, is called (outside any lock) after a new
	// signing key has been stored and installed: the hook where a later
	// issue announces rotations to other replicas, which then call Reload.
	// The key carries its secret: never log it other than through slog.
	OnKeyAdded func(SigningKey)
	// Logger receives rotation events (nil: discard).
	Logger *slog.Logger
	// CacheSize bounds the cache of verified tokens (0:
	// DefaultVerifyCacheSize; negative: no cache). See Verify.
	CacheSize int
}

// DefaultVerifyCacheSize is the default number of verified tokens the
// keyring remembers.
const DefaultVerifyCacheSize = 4096

// keyset is an immutable view of the keyring, swapped atomically.
type keyset struct {
	current *SigningKey
	byID    map[string]*SigningKey
	// retire is each key's effective retirement (zero: the current key).
	retire map[string]time.Time
}

// Keyring signs access tokens with its current key and verifies tokens of
// every key not yet retired. Verification takes no lock. It is safe for
// concurrent use.
type Keyring struct {
	opts    KeyringOptions
	store   SigningKeyStore
	clock   func() time.Time
	log     *slog.Logger
	parser  *jwt.Parser
	keyfunc jwt.Keyfunc

	mu  sync.Mutex // serialises changes of set
	set atomic.Pointer[keyset]

	cache verifiedCache
}

// verifiedCache remembers tokens that passed full verification, keyed by
// the SHA-256 of the token (the tokens themselves are not kept), so a
// client that presents the same access token on every request pays the
// JWT parse once. A hit re-checks everything that can change: the times
// (exp, nbf, iat with the leeway) and the signing key's presence and
// retirement. The signature and claims cannot change for the same bytes.
type verifiedCache struct {
	max int // 0: disabled
	mu  sync.RWMutex
	m   map[[sha256.Size]byte]cachedClaims
}

type cachedClaims struct {
	claims Claims
	kid    string
}

func (vc *verifiedCache) get(h [sha256.Size]byte) (cachedClaims, bool) {
	vc.mu.RLock()
	e, ok := vc.m[h]
	vc.mu.RUnlock()
	return e, ok
}

// put remembers a verified token; when full it first drops expired
// entries, and everything if that is not enough.
func (vc *verifiedCache) put(h [sha256.Size]byte, e cachedClaims, now time.Time, leeway time.Duration) {
	vc.mu.Lock()
	defer vc.mu.Unlock()
	if vc.m == nil {
		vc.m = make(map[[sha256.Size]byte]cachedClaims)
	}
	if len(vc.m) >= vc.max {
		vc.dropExpiredLocked(now, leeway)
		if len(vc.m) >= vc.max {
			clear(vc.m)
		}
	}
	vc.m[h] = e
}

// dropExpired forgets tokens expired at now.
func (vc *verifiedCache) dropExpired(now time.Time, leeway time.Duration) {
	vc.mu.Lock()
	vc.dropExpiredLocked(now, leeway)
	vc.mu.Unlock()
}

func (vc *verifiedCache) dropExpiredLocked(now time.Time, leeway time.Duration) {
	for h, e := range vc.m {
		if !now.Before(time.Unix(e.claims.ExpiresAt, 0).Add(leeway)) {
			delete(vc.m, h)
		}
	}
}

// timesValid repeats the parser's time checks for a cached token.
func timesValid(c *Claims, now time.Time, leeway time.Duration) bool {
	if !now.Before(time.Unix(c.ExpiresAt, 0).Add(leeway)) {
		return false
	}
	if c.NotBefore != 0 && now.Before(time.Unix(c.NotBefore, 0).Add(-leeway)) {
		return false
	}
	return c.IssuedAt == 0 || !now.Before(time.Unix(c.IssuedAt, 0).Add(-leeway))
}

// NewKeyring loads the keys of opts.Store, creating a first key when there
// is none.
func NewKeyring(opts KeyringOptions) (*Keyring, error) {
	if opts.TTL <= 0 {
		return nil, errors.New("auth: keyring: access token TTL must be positive")
	}
	if opts.Issuer == "" || opts.Audience == "" {
		return nil, errors.New("auth: keyring: issuer and audience are required")
	}
	if opts.Leeway <= 0 {
		opts.Leeway = DefaultLeeway
	}
	k := &Keyring{opts: opts, store: opts.Store, clock: opts.Clock, log: opts.Logger}
	switch {
	case opts.CacheSize == 0:
		k.cache.max = DefaultVerifyCacheSize
	case opts.CacheSize > 0:
		k.cache.max = opts.CacheSize
	}
	if k.store == nil {
		k.store = NewMemSigningKeyStore()
	}
	if k.clock == nil {
		k.clock = time.Now
	}
	if k.log == nil {
		k.log = slog.New(slog.DiscardHandler)
	}
	k.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{Algorithm}),
		jwt.WithIssuer(opts.Issuer),
		jwt.WithAudience(opts.Audience),
		jwt.WithLeeway(opts.Leeway),
		jwt.WithTimeFunc(k.clock),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithStrictDecoding(),
	)
	k.keyfunc = k.lookup
	if err := k.Reload(); err != nil {
		return nil, err
	}
	return k, nil
}

// Reload rebuilds the keyring from the store: what a replica does when
// another announces a rotation. The newest key without RetireAt signs;
// other keys without RetireAt retire TTL + leeway after it was created.
// Keys already retired are deleted from the store. When no key can sign,
// a new one is made (and announced through OnKeyAdded).
func (k *Keyring) Reload() error {
	k.mu.Lock()
	keys, err := k.store.Load()
	if err != nil {
		k.mu.Unlock()
		return fmt.Errorf("auth: keyring: load keys: %w", err)
	}
	now := k.clock()
	err = k.installLocked(keys, now)
	var added *SigningKey
	if err == nil && k.set.Load().current == nil {
		var key SigningKey
		if key, err = k.rotateLocked(now); err == nil {
			added = &key
		}
	}
	k.mu.Unlock()
	if err != nil {
		return err
	}
	if added != nil && k.opts.OnKeyAdded != nil {
		k.opts.OnKeyAdded(*added)
	}
	return nil
}

// installLocked publishes a keyset of the keys not retired by now and
// deletes the retired ones from the store.
func (k *Keyring) installLocked(keys []SigningKey, now time.Time) error {
	set := &keyset{byID: make(map[string]*SigningKey, len(keys)), retire: make(map[string]time.Time, len(keys))}
	for i := range keys {
		key := &keys[i]
		if key.RetireAt.IsZero() && (set.current == nil || newer(key, set.current)) {
			set.current = key
		}
	}
	var stale []string
	for i := range keys {
		key := &keys[i]
		retire := key.RetireAt
		if key != set.current && retire.IsZero() {
			retire = set.current.Created.Add(k.opts.TTL + k.opts.Leeway)
		}
		if !retire.IsZero() && !now.Before(retire) {
			stale = append(stale, key.ID)
			continue
		}
		set.byID[key.ID] = key
		set.retire[key.ID] = retire
	}
	k.set.Store(set)
	for _, id := range stale {
		if err := k.store.Delete(id); err != nil {
			return fmt.Errorf("auth: keyring: delete retired key %s: %w", id, err)
		}
	}
	return nil
}

func newer(a, b *SigningKey) bool {
	if c := a.Created.Compare(b.Created); c != 0 {
		return c > 0
	}
	return a.ID > b.ID
}

// snapshotLocked returns copies of the keys that verify, each with its
// effective RetireAt (zero only for the current key).
func (k *Keyring) snapshotLocked() []SigningKey {
	set := k.set.Load()
	if set == nil {
		return nil
	}
	out := make([]SigningKey, 0, len(set.byID))
	for id, key := range set.byID {
		c := *key
		c.RetireAt = set.retire[id]
		out = append(out, c)
	}
	return out
}

// RotateNow makes a new signing key current at once (POST
// /admin/keys/rotate). The previous key keeps verifying until every token
// it signed has expired (now + TTL + leeway). It returns the new key's
// description.
func (k *Keyring) RotateNow() (SigningKeyInfo, error) {
	k.mu.Lock()
	key, err := k.rotateLocked(k.clock())
	k.mu.Unlock()
	if err != nil {
		return SigningKeyInfo{}, err
	}
	if k.opts.OnKeyAdded != nil {
		k.opts.OnKeyAdded(key)
	}
	return SigningKeyInfo{ID: key.ID, Created: key.Created, Current: true}, nil
}

// MaybeRotate rotates when automatic rotation is on and the current key is
// at least RotationInterval old at now, and forgets keys retired by now.
// The caller drives it from a ticker (see Service.Run) or a test clock. It
// reports whether it rotated.
func (k *Keyring) MaybeRotate(now time.Time) (bool, error) {
	k.mu.Lock()
	set := k.set.Load()
	due := set.current == nil || k.opts.RotationInterval > 0 &&
		!now.Before(set.current.Created.Add(k.opts.RotationInterval))
	var key SigningKey
	var err error
	if due {
		key, err = k.rotateLocked(now)
	} else {
		err = k.pruneLocked(now)
	}
	k.mu.Unlock()
	if err != nil {
		return false, err
	}
	if due && k.opts.OnKeyAdded != nil {
		k.opts.OnKeyAdded(key)
	}
	return due, nil
}

// rotateLocked stores a new current key, retires the old one and prunes.
func (k *Keyring) rotateLocked(now time.Time) (SigningKey, error) {
	key := SigningKey{ID: hex.EncodeToString(randomBytes(8)), secret: randomBytes(secretBytes), Created: now}
	if err := k.store.Save(key); err != nil {
		return SigningKey{}, fmt.Errorf("auth: keyring: save new key: %w", err)
	}
	keys := k.snapshotLocked()
	for i := range keys {
		if keys[i].RetireAt.IsZero() {
			keys[i].RetireAt = now.Add(k.opts.TTL + k.opts.Leeway)
			if err := k.store.Save(keys[i]); err != nil {
				return SigningKey{}, fmt.Errorf("auth: keyring: retire key %s: %w", keys[i].ID, err)
			}
		}
	}
	keys = append(keys, key)
	if err := k.installLocked(keys, now); err != nil {
		return SigningKey{}, err
	}
	k.log.Info("signing key rotated", "kid", key.ID, "verifying_keys", len(k.set.Load().byID))
	return key, nil
}

// pruneLocked forgets keys retired by now and expired cached tokens.
func (k *Keyring) pruneLocked(now time.Time) error {
	if k.cache.max > 0 {
		k.cache.dropExpired(now, k.opts.Leeway)
	}
	for _, r := range k.set.Load().retire {
		if !r.IsZero() && !now.Before(r) {
			return k.installLocked(k.snapshotLocked(), now)
		}
	}
	return nil
}

// Keys describes the keys that still verify, newest first, without
// secrets.
func (k *Keyring) Keys() []SigningKeyInfo {
	set := k.set.Load()
	out := make([]SigningKeyInfo, 0, len(set.byID))
	for id, key := range set.byID {
		out = append(out, SigningKeyInfo{ID: id, Created: key.Created, RetireAt: set.retire[id], Current: key == set.current})
	}
	slices.SortFunc(out, func(a, b SigningKeyInfo) int {
		if c := b.Created.Compare(a.Created); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	return out
}

// Sign issues an access token for subject with role and session sid,
// valid from now for ttl (capped at the keyring's TTL; ttl <= 0 means the
// TTL). It returns the token and its expiry.
func (k *Keyring) Sign(subject string, role Role, sid SessionID, ttl time.Duration) (string, time.Time, error) {
	if ttl <= 0 || ttl > k.opts.TTL {
		ttl = k.opts.TTL
	}
	now := k.clock()
	set := k.set.Load()
	if set.current == nil {
		return "", time.Time{}, errors.New("auth: keyring: no signing key")
	}
	exp := now.Add(ttl).Truncate(time.Second)
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, Claims{
		Issuer:    k.opts.Issuer,
		Subject:   subject,
		Audience:  audience{k.opts.Audience},
		ExpiresAt: exp.Unix(),
		NotBefore: now.Unix(),
		IssuedAt:  now.Unix(),
		ID:        randomToken(16),
		Role:      role,
		SessionID: sid,
	})
	t.Header["kid"] = set.current.ID
	s, err := t.SignedString(set.current.secret)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("auth: sign token: %w", err)
	}
	return s, exp, nil
}

// lookup is the jwt.Keyfunc: the pinned algorithm, then the kid.
func (k *Keyring) lookup(t *jwt.Token) (any, error) {
	if t.Method != jwt.SigningMethodHS256 {
		return nil, ErrTokenAlgorithm
	}
	kid, _ := t.Header["kid"].(string)
	set := k.set.Load()
	key, ok := set.byID[kid]
	if !ok || !set.usable(kid, k.clock()) {
		return nil, ErrUnknownKey
	}
	return key.secret, nil
}

// Verify checks an access token: size, structure, the pinned algorithm,
// kid, signature, iss, aud, exp, nbf and iat (with the leeway), and the
// presence of sub, sid, jti and a valid role. It does not check the
// session (Service.Verify does). Errors are the token kinds
// (ErrTokenMalformed, ErrTokenAlgorithm, ErrUnknownKey, ErrTokenSignature,
// ErrTokenExpired, ErrTokenNotYetValid, ErrTokenIssuer, ErrTokenAudience,
// ErrTokenClaims, ErrTokenInvalid), never containing the token.
//
// A token that verified before is found in a bounded cache (by its
// SHA-256) and only its times and signing key are checked again; a cached
// token that fails those checks goes through full verification, which
// names the failure.
func (k *Keyring) Verify(token string) (Claims, error) {
	if len(token) > MaxTokenLen || strings.Count(token, ".") != 2 {
		return Claims{}, ErrTokenMalformed
	}
	if k.cache.max == 0 {
		return k.verifyFull(token)
	}
	h := sha256.Sum256([]byte(token))
	if e, ok := k.cache.get(h); ok {
		now := k.clock()
		if timesValid(&e.claims, now, k.opts.Leeway) && k.keyUsable(e.kid, now) {
			return e.claims, nil
		}
	}
	c, kid, err := k.verifyFullKid(token)
	if err != nil {
		return Claims{}, err
	}
	k.cache.put(h, cachedClaims{claims: c, kid: kid}, k.clock(), k.opts.Leeway)
	return c, nil
}

// keyUsable reports whether key kid still verifies at now.
func (k *Keyring) keyUsable(kid string, now time.Time) bool { return k.set.Load().usable(kid, now) }

// usable reports whether the set holds key kid, not retired at now.
func (set *keyset) usable(kid string, now time.Time) bool {
	if _, ok := set.byID[kid]; !ok {
		return false
	}
	r := set.retire[kid]
	return r.IsZero() || now.Before(r)
}

func (k *Keyring) verifyFull(token string) (Claims, error) {
	c, _, err := k.verifyFullKid(token)
	return c, err
}

// verifyFullKid parses and verifies token with the jwt library and returns
// its claims and kid.
func (k *Keyring) verifyFullKid(token string) (Claims, string, error) {
	var c Claims
	t, err := k.parser.ParseWithClaims(token, &c, k.keyfunc)
	if err != nil {
		return Claims{}, "", classify(t, err)
	}
	kid, _ := t.Header["kid"].(string)
	return c, kid, nil
}

// classify maps a jwt error to one of the package's token kinds, most
// specific first.
func classify(t *jwt.Token, err error) error {
	switch {
	case errors.Is(err, ErrUnknownKey): // from lookup
		return ErrUnknownKey
	case errors.Is(err, ErrTokenAlgorithm): // from lookup
		return ErrTokenAlgorithm
	case errors.Is(err, jwt.ErrTokenMalformed):
		return ErrTokenMalformed
	}
	if t != nil {
		if alg, _ := t.Header["alg"].(string); alg != Algorithm {
			return ErrTokenAlgorithm
		}
	}
	switch {
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return ErrTokenSignature
	case errors.Is(err, jwt.ErrTokenExpired):
		return ErrTokenExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return ErrTokenNotYetValid
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return ErrTokenIssuer
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return ErrTokenAudience
	case errors.Is(err, ErrTokenClaims), errors.Is(err, jwt.ErrTokenRequiredClaimMissing),
		errors.Is(err, jwt.ErrInvalidType):
		return ErrTokenClaims
	}
	return ErrTokenInvalid
}
