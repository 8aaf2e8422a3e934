package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spacetime-vr/spacetime/internal/auth"
)

// AuthTimeout bounds one call of KeyStore, SigningKeyStore or SessionStore.
// The auth interfaces take no context, so a database that hangs would
// otherwise hang the request that waits on it.
const AuthTimeout = 5 * time.Second

// endChunk bounds the ids of one End statement (parameters per statement).
const endChunk = 500

// authCtx is the context of one auth store call.
func authCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), AuthTimeout)
}

// nullTimeArg is timeArg, with the zero time stored as NULL.
func (d dialect) nullTimeArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return d.timeArg(t)
}

// nullTimeScanner scans a nullable time column of either engine; NULL is
// the zero time.
type nullTimeScanner struct {
	t *time.Time
}

// Scan implements sql.Scanner.
func (ns nullTimeScanner) Scan(v any) error {
	if v == nil {
		*ns.t = time.Time{}
		return nil
	}
	return timeScanner(ns).Scan(v)
}

// roleScanner scans a role column (its name, as config spells it).
type roleScanner struct {
	r *auth.Role
}

// Scan implements sql.Scanner.
func (rs roleScanner) Scan(v any) error {
	var name string
	switch x := v.(type) {
	case string:
		name = x
	case []byte:
		name = string(x)
	default:
		return fmt.Errorf("store: role column holds %T", v)
	}
	r, err := auth.ParseRole(name)
	if err != nil {
		return fmt.Errorf("store: role column: %w", err)
	}
	*rs.r = r
	return nil
}

// roleArg is r's column value. Only the four roles can be stored: a name
// survives a reordering of the enumeration, and an operator reading the
// table sees "admin".
func roleArg(r auth.Role) (string, error) {
	if !r.Valid() {
		return "", fmt.Errorf("store: role %d: %w", int(r), auth.ErrInvalidRole)
	}
	return r.String(), nil
}

// hashScanner scans a SHA-256 column.
type hashScanner struct {
	h *[sha256.Size]byte
}

// Scan implements sql.Scanner.
func (hs hashScanner) Scan(v any) error {
	b, ok := v.([]byte)
	if !ok || len(b) != sha256.Size {
		return fmt.Errorf("store: hash column holds %T of %d bytes", v, len(b))
	}
	copy(hs.h[:], b)
	return nil
}

// KeyStore keeps API keys (their SHA-256 hashes, never the raw keys) in the
// api_keys table. It is an auth.KeyStore with MemKeyStore's semantics,
// except that times come back in UTC to the microsecond and only valid
// roles can be stored. Safe for concurrent use, also across replicas.
type KeyStore struct {
	s *Store
}

var _ auth.KeyStore = (*KeyStore)(nil)

// APIKeys returns the store's API keys, for auth.Options.KeyStore.
func (s *Store) APIKeys() *KeyStore { return &KeyStore{s: s} }

const keyColumns = `id, name, role, hash, created, revoked`

func scanKey(sc interface{ Scan(...any) error }) (auth.KeyRecord, error) {
	var r auth.KeyRecord
	err := sc.Scan(&r.ID, &r.Name, roleScanner{&r.Role}, hashScanner{&r.Hash},
		timeScanner{&r.Created}, nullTimeScanner{&r.Revoked})
	return r, err
}

// Put implements auth.KeyStore: an id that exists already is an error.
func (k *KeyStore) Put(rec auth.KeyRecord) error {
	role, err := roleArg(rec.Role)
	if err != nil {
		return fmt.Errorf("store: put key %s: %w", rec.ID, err)
	}
	ctx, cancel := authCtx()
	defer cancel()
	d := k.s.dialect
	res, err := k.s.db.ExecContext(ctx, d.rebind(`INSERT INTO api_keys (`+keyColumns+`)
    VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`),
		rec.ID, rec.Name, role, rec.Hash[:], d.timeArg(rec.Created), d.nullTimeArg(rec.Revoked))
	if err != nil {
		return k.s.wrap("put key", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return k.s.wrap("put key", err)
	} else if n == 0 {
		return fmt.Errorf("store: key %s exists", rec.ID)
	}
	return nil
}

// Get implements auth.KeyStore: an unknown id is an error wrapping
// auth.ErrKeyNotFound.
func (k *KeyStore) Get(id string) (auth.KeyRecord, error) {
	ctx, cancel := authCtx()
	defer cancel()
	rec, err := scanKey(k.s.db.QueryRowContext(ctx,
		k.s.dialect.rebind(`SELECT `+keyColumns+` FROM api_keys WHERE id = ?`), id))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return auth.KeyRecord{}, fmt.Errorf("store: key %s: %w", id, auth.ErrKeyNotFound)
	case err != nil:
		return auth.KeyRecord{}, k.s.wrap("get key", err)
	}
	return rec, nil
}

// List implements auth.KeyStore: every key, oldest first (ties by id).
func (k *KeyStore) List() ([]auth.KeyRecord, error) {
	ctx, cancel := authCtx()
	defer cancel()
	rows, err := k.s.db.QueryContext(ctx, `SELECT `+keyColumns+` FROM api_keys`)
	if err != nil {
		return nil, k.s.wrap("list keys", err)
	}
	defer rows.Close()
	out := []auth.KeyRecord{}
	for rows.Next() {
		rec, err := scanKey(rows)
		if err != nil {
			return nil, k.s.wrap("list keys", err)
		}
		out = append(out, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, k.s.wrap("list keys", err)
	}
	// Sorted here, byte-wise like MemKeyStore, whatever the collation.
	slices.SortFunc(out, func(a, b auth.KeyRecord) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// Revoke implements auth.KeyStore: the first revocation time is kept; an
// unknown id is an error wrapping auth.ErrKeyNotFound.
func (k *KeyStore) Revoke(id string, at time.Time) error {
	ctx, cancel := authCtx()
	defer cancel()
	d := k.s.dialect
	res, err := k.s.db.ExecContext(ctx, d.rebind(`UPDATE api_keys SET revoked = COALESCE(revoked, ?) WHERE id = ?`),
		d.nullTimeArg(at), id)
	if err != nil {
		return k.s.wrap("revoke key", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return k.s.wrap("revoke key", err)
	} else if n == 0 {
		return fmt.Errorf("store: revoke key %s: %w", id, auth.ErrKeyNotFound)
	}
	return nil
}

// SigningKeyStore keeps the JWT keyring's keys in the signing_keys table,
// so every replica verifies what any of them signed. It is an
// auth.SigningKeyStore with MemSigningKeyStore's semantics (times in UTC to
// the microsecond). Safe for concurrent use.
//
// The secrets are stored as given, in the clear: they are HMAC keys, as
// sensitive as the database itself. Encrypting them at rest (with a key
// from the environment or a KMS) is future work.
type SigningKeyStore struct {
	s *Store
}

var _ auth.SigningKeyStore = (*SigningKeyStore)(nil)

// SigningKeys returns the store's signing keys, for
// auth.Options.SigningKeyStore.
func (s *Store) SigningKeys() *SigningKeyStore { return &SigningKeyStore{s: s} }

// Load implements auth.SigningKeyStore: every stored key, in id order.
func (k *SigningKeyStore) Load() ([]auth.SigningKey, error) {
	ctx, cancel := authCtx()
	defer cancel()
	rows, err := k.s.db.QueryContext(ctx, `SELECT id, secret, created, retire_at FROM signing_keys ORDER BY id`)
	if err != nil {
		return nil, k.s.wrap("load signing keys", err)
	}
	defer rows.Close()
	out := []auth.SigningKey{}
	for rows.Next() {
		var (
			id               string
			secret           []byte
			created, retires time.Time
		)
		if err := rows.Scan(&id, &secret, timeScanner{&created}, nullTimeScanner{&retires}); err != nil {
			return nil, k.s.wrap("load signing keys", err)
		}
		out = append(out, auth.NewSigningKey(id, secret, created, retires))
	}
	if err := rows.Err(); err != nil {
		return nil, k.s.wrap("load signing keys", err)
	}
	return out, nil
}

// Save implements auth.SigningKeyStore: it adds key or replaces the stored
// key with its id.
func (k *SigningKeyStore) Save(key auth.SigningKey) error {
	ctx, cancel := authCtx()
	defer cancel()
	d := k.s.dialect
	secret := key.Secret()
	if secret == nil {
		secret = []byte{}
	}
	_, err := k.s.db.ExecContext(ctx, d.rebind(`INSERT INTO signing_keys (id, secret, created, retire_at)
    VALUES (?, ?, ?, ?)
    ON CONFLICT (id) DO UPDATE SET secret = excluded.secret, created = excluded.created, retire_at = excluded.retire_at`),
		key.ID, secret, d.timeArg(key.Created), d.nullTimeArg(key.RetireAt))
	clear(secret)
	if err != nil {
		return k.s.wrap("save signing key", err)
	}
	return nil
}

// Delete implements auth.SigningKeyStore: an absent key is not an error.
func (k *SigningKeyStore) Delete(id string) error {
	ctx, cancel := authCtx()
	defer cancel()
	if _, err := k.s.db.ExecContext(ctx, k.s.dialect.rebind(`DELETE FROM signing_keys WHERE id = ?`), id); err != nil {
		return k.s.wrap("delete signing key", err)
	}
	return nil
}

// SessionStore keeps sessions and their refresh tokens (SHA-256 hashes) in
// the sessions and refresh_tokens tables. It is an auth.SessionStore with
// MemSessionStore's semantics (times in UTC to the microsecond, valid roles
// only), shared by every replica on the database: UseRefresh is one
// conditional UPDATE, so of two replicas presenting one token at once
// exactly one succeeds and the other sees auth.ErrRefreshReuse. Safe for
// concurrent use.
type SessionStore struct {
	s *Store
}

var _ auth.SessionStore = (*SessionStore)(nil)

// Sessions returns the store's sessions, for auth.Options.SessionStore.
func (s *Store) Sessions() *SessionStore { return &SessionStore{s: s} }

const sessionColumns = `id, principal, name, role, key_id, created, last_seen, ended, end_reason`

func scanSession(sc interface{ Scan(...any) error }) (auth.Session, error) {
	var (
		s      auth.Session
		id     string
		reason string
	)
	err := sc.Scan(&id, &s.Principal, &s.Name, roleScanner{&s.Role}, &s.KeyID,
		timeScanner{&s.Created}, timeScanner{&s.LastSeen}, nullTimeScanner{&s.Ended}, &reason)
	s.ID, s.EndReason = auth.SessionID(id), auth.EndReason(reason)
	return s, err
}

// execer is what *sql.DB and *sql.Tx share.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// putRefresh adds r, or replaces the record with its hash.
func (ss *SessionStore) putRefresh(ctx context.Context, e execer, r auth.RefreshRecord) error {
	d := ss.s.dialect
	_, err := e.ExecContext(ctx, d.rebind(`INSERT INTO refresh_tokens (hash, session_id, issued, expires, used_at)
    VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (hash) DO UPDATE SET session_id = excluded.session_id, issued = excluded.issued,
        expires = excluded.expires, used_at = excluded.used_at`),
		r.Hash[:], string(r.SessionID), d.timeArg(r.Issued), d.timeArg(r.Expires), d.nullTimeArg(r.Used))
	return err
}

// Create implements auth.SessionStore: it stores s and, when refresh is
// not nil, its first refresh token, in one transaction. An existing id is
// an error.
func (ss *SessionStore) Create(s auth.Session, refresh *auth.RefreshRecord) error {
	role, err := roleArg(s.Role)
	if err != nil {
		return fmt.Errorf("store: create session %s: %w", s.ID, err)
	}
	ctx, cancel := authCtx()
	defer cancel()
	d := ss.s.dialect
	tx, err := ss.s.db.BeginTx(ctx, nil)
	if err != nil {
		return ss.s.wrap("create session: begin", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	res, err := tx.ExecContext(ctx, d.rebind(`INSERT INTO sessions (`+sessionColumns+`)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`),
		string(s.ID), s.Principal, s.Name, role, s.KeyID, d.timeArg(s.Created), d.timeArg(s.LastSeen),
		d.nullTimeArg(s.Ended), string(s.EndReason))
	if err != nil {
		return ss.s.wrap("create session", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return ss.s.wrap("create session", err)
	} else if n == 0 {
		return fmt.Errorf("store: session %s exists", s.ID)
	}
	if refresh != nil {
		if err := ss.putRefresh(ctx, tx, *refresh); err != nil {
			return ss.s.wrap("create session: refresh token", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return ss.s.wrap("create session: commit", err)
	}
	return nil
}

// Get implements auth.SessionStore: the session, live or ended, or an
// error wrapping auth.ErrSessionNotFound.
func (ss *SessionStore) Get(id auth.SessionID) (auth.Session, error) {
	ctx, cancel := authCtx()
	defer cancel()
	s, err := scanSession(ss.s.db.QueryRowContext(ctx,
		ss.s.dialect.rebind(`SELECT `+sessionColumns+` FROM sessions WHERE id = ?`), string(id)))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return auth.Session{}, fmt.Errorf("store: session %s: %w", id, auth.ErrSessionNotFound)
	case err != nil:
		return auth.Session{}, ss.s.wrap("get session", err)
	}
	return s, nil
}

// Touch implements auth.SessionStore: LastSeen of a live session moves
// forward to at, never back; unknown and ended sessions are ignored.
func (ss *SessionStore) Touch(id auth.SessionID, at time.Time) error {
	ctx, cancel := authCtx()
	defer cancel()
	d := ss.s.dialect
	t := d.timeArg(at)
	if _, err := ss.s.db.ExecContext(ctx, d.rebind(`UPDATE sessions SET last_seen = ?
    WHERE id = ? AND ended IS NULL AND last_seen < ?`), t, string(id), t); err != nil {
		return ss.s.wrap("touch session", err)
	}
	return nil
}

// End implements auth.SessionStore: it ends those of ids that are live, at
// at with reason, and returns them in the order of ids (nil when none).
// Each session ends once even when several replicas end it together.
func (ss *SessionStore) End(ids []auth.SessionID, at time.Time, reason auth.EndReason) ([]auth.SessionID, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	ctx, cancel := authCtx()
	defer cancel()
	d := ss.s.dialect
	tx, err := ss.s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, ss.s.wrap("end sessions: begin", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	endedSet := make(map[auth.SessionID]bool)
	for start := 0; start < len(ids); start += endChunk {
		chunk := ids[start:min(start+endChunk, len(ids))]
		args := make([]any, 0, len(chunk)+2)
		args = append(args, d.timeArg(at), string(reason))
		for _, id := range chunk {
			args = append(args, string(id))
		}
		q := `UPDATE sessions SET ended = ?, end_reason = ?
    WHERE id IN (?` + strings.Repeat(`, ?`, len(chunk)-1) + `) AND ended IS NULL RETURNING id`
		rows, err := tx.QueryContext(ctx, d.rebind(q), args...)
		if err != nil {
			return nil, ss.s.wrap("end sessions", err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, ss.s.wrap("end sessions", err)
			}
			endedSet[auth.SessionID(id)] = true
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, ss.s.wrap("end sessions", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, ss.s.wrap("end sessions: commit", err)
	}
	var ended []auth.SessionID
	for _, id := range ids {
		if endedSet[id] {
			ended = append(ended, id)
			delete(endedSet, id) // a duplicate id is reported once
		}
	}
	return ended, nil
}

// sortSessions orders sessions oldest first, ties by id, byte-wise like
// MemSessionStore whatever the collation.
func sortSessions(out []auth.Session) {
	slices.SortFunc(out, func(a, b auth.Session) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(string(a.ID), string(b.ID))
	})
}

// liveSessions returns the live sessions the condition selects, oldest
// first.
func (ss *SessionStore) liveSessions(op, cond string, args ...any) ([]auth.Session, error) {
	ctx, cancel := authCtx()
	defer cancel()
	rows, err := ss.s.db.QueryContext(ctx, ss.s.dialect.rebind(
		`SELECT `+sessionColumns+` FROM sessions WHERE ended IS NULL`+cond), args...)
	if err != nil {
		return nil, ss.s.wrap(op, err)
	}
	defer rows.Close()
	out := []auth.Session{}
	for rows.Next() {
		s, err := scanSession(rows)
		if err != nil {
			return nil, ss.s.wrap(op, err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, ss.s.wrap(op, err)
	}
	sortSessions(out)
	return out, nil
}

// ByPrincipal implements auth.SessionStore: the live sessions of
// principal, oldest first.
func (ss *SessionStore) ByPrincipal(principal string) ([]auth.Session, error) {
	return ss.liveSessions("sessions by principal", ` AND principal = ?`, principal)
}

// List implements auth.SessionStore: every live session, oldest first.
func (ss *SessionStore) List() ([]auth.Session, error) {
	return ss.liveSessions("list sessions", ``)
}

// AddRefresh implements auth.SessionStore: it stores a refresh token of an
// existing (live or ended) session, replacing a record with its hash.
func (ss *SessionStore) AddRefresh(r auth.RefreshRecord) error {
	ctx, cancel := authCtx()
	defer cancel()
	tx, err := ss.s.db.BeginTx(ctx, nil)
	if err != nil {
		return ss.s.wrap("add refresh token: begin", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	var one int
	err = tx.QueryRowContext(ctx, ss.s.dialect.rebind(`SELECT 1 FROM sessions WHERE id = ?`), string(r.SessionID)).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("store: refresh token for unknown session %s", r.SessionID)
	case err != nil:
		return ss.s.wrap("add refresh token", err)
	}
	// The foreign key keeps a concurrent Sweep from orphaning the record.
	if err := ss.putRefresh(ctx, tx, r); err != nil {
		return ss.s.wrap("add refresh token", err)
	}
	if err := tx.Commit(); err != nil {
		return ss.s.wrap("add refresh token: commit", err)
	}
	return nil
}

const refreshColumns = `session_id, issued, expires, used_at`

func scanRefresh(sc interface{ Scan(...any) error }, h [sha256.Size]byte) (auth.RefreshRecord, error) {
	r := auth.RefreshRecord{Hash: h}
	var sid string
	err := sc.Scan(&sid, timeScanner{&r.Issued}, timeScanner{&r.Expires}, nullTimeScanner{&r.Used})
	r.SessionID = auth.SessionID(sid)
	return r, err
}

// UseRefresh implements auth.SessionStore. The token is consumed by one
// conditional UPDATE (unused and unexpired → used at now), atomic on both
// engines and across replicas: PostgreSQL's row lock makes a concurrent
// second UPDATE re-check used_at and match nothing, SQLite runs writers one
// at a time. Only when it matched nothing is the record read to say why:
// unknown → auth.ErrRefreshInvalid; expired at now → the record and
// auth.ErrRefreshExpired; used → the record and auth.ErrRefreshReuse.
func (ss *SessionStore) UseRefresh(h [sha256.Size]byte, now time.Time) (auth.RefreshRecord, error) {
	ctx, cancel := authCtx()
	defer cancel()
	d := ss.s.dialect
	t := d.timeArg(now)
	// A record replaced by AddRefresh between the two statements could
	// make them disagree; a few rounds settle it.
	for range 3 {
		r, err := scanRefresh(ss.s.db.QueryRowContext(ctx, d.rebind(`UPDATE refresh_tokens SET used_at = ?
    WHERE hash = ? AND used_at IS NULL AND expires > ? RETURNING `+refreshColumns), t, h[:], t), h)
		switch {
		case err == nil:
			return r, nil
		case !errors.Is(err, sql.ErrNoRows):
			return auth.RefreshRecord{}, ss.s.wrap("use refresh token", err)
		}
		r, err = scanRefresh(ss.s.db.QueryRowContext(ctx, d.rebind(
			`SELECT `+refreshColumns+` FROM refresh_tokens WHERE hash = ?`), h[:]), h)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return auth.RefreshRecord{}, auth.ErrRefreshInvalid
		case err != nil:
			return auth.RefreshRecord{}, ss.s.wrap("use refresh token", err)
		case !now.Truncate(time.Microsecond).Before(r.Expires):
			return r, auth.ErrRefreshExpired
		case !r.Used.IsZero():
			return r, auth.ErrRefreshReuse
		}
	}
	return auth.RefreshRecord{}, fmt.Errorf("store: use refresh token: record kept changing")
}

// Sweep implements auth.SessionStore: in one transaction it forgets the
// sessions that ended before endedBefore (with their refresh tokens) and
// the refresh tokens expired by now, and returns how many sessions it
// forgot.
func (ss *SessionStore) Sweep(now, endedBefore time.Time) (int, error) {
	ctx, cancel := authCtx()
	defer cancel()
	d := ss.s.dialect
	tx, err := ss.s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, ss.s.wrap("sweep: begin", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	before := d.timeArg(endedBefore)
	// Explicit, though the foreign key cascades: the sweep does not depend
	// on SQLite's foreign_keys pragma.
	if _, err := tx.ExecContext(ctx, d.rebind(`DELETE FROM refresh_tokens WHERE session_id IN
    (SELECT id FROM sessions WHERE ended IS NOT NULL AND ended < ?)`), before); err != nil {
		return 0, ss.s.wrap("sweep refresh tokens of sessions", err)
	}
	res, err := tx.ExecContext(ctx, d.rebind(`DELETE FROM sessions WHERE ended IS NOT NULL AND ended < ?`), before)
	if err != nil {
		return 0, ss.s.wrap("sweep sessions", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, ss.s.wrap("sweep sessions", err)
	}
	if _, err := tx.ExecContext(ctx, d.rebind(`DELETE FROM refresh_tokens WHERE expires <= ?`), d.timeArg(now)); err != nil {
		return 0, ss.s.wrap("sweep refresh tokens", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, ss.s.wrap("sweep: commit", err)
	}
	return int(n), nil
}
