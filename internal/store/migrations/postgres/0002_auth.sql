-- Authentication state shared by replicas: API keys (hashed), the JWT
-- signing keys, sessions and their refresh tokens (hashed). Times are
-- timestamptz (microseconds); a NULL time is the Go zero time.

CREATE TABLE api_keys (
    id      TEXT        PRIMARY KEY,
    name    TEXT        NOT NULL,
    role    TEXT        NOT NULL,
    hash    BYTEA       NOT NULL,
    created TIMESTAMPTZ NOT NULL,
    revoked TIMESTAMPTZ
);

-- secret is the raw HMAC key. Encrypting it at rest is future work.
CREATE TABLE signing_keys (
    id        TEXT        PRIMARY KEY,
    secret    BYTEA       NOT NULL,
    created   TIMESTAMPTZ NOT NULL,
    retire_at TIMESTAMPTZ
);

CREATE TABLE sessions (
    id         TEXT        PRIMARY KEY,
    principal  TEXT        NOT NULL,
    name       TEXT        NOT NULL DEFAULT '',
    role       TEXT        NOT NULL,
    key_id     TEXT        NOT NULL DEFAULT '',
    created    TIMESTAMPTZ NOT NULL,
    last_seen  TIMESTAMPTZ NOT NULL,
    ended      TIMESTAMPTZ,
    end_reason TEXT        NOT NULL DEFAULT ''
);

CREATE INDEX sessions_live_principal_idx ON sessions (principal, created) WHERE ended IS NULL;
CREATE INDEX sessions_live_created_idx ON sessions (created) WHERE ended IS NULL;
CREATE INDEX sessions_ended_idx ON sessions (ended) WHERE ended IS NOT NULL;

-- A refresh token's session is its family: reuse of a used token ends the
-- session, and forgetting a session forgets its tokens.
CREATE TABLE refresh_tokens (
    hash       BYTEA       PRIMARY KEY,
    session_id TEXT        NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    issued     TIMESTAMPTZ NOT NULL,
    expires    TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ
);

CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);
CREATE INDEX refresh_tokens_expires_idx ON refresh_tokens (expires);
