-- Scene history and the audit log. Times are INTEGER Unix nanoseconds (UTC),
-- kept to the microsecond like PostgreSQL's timestamptz.

CREATE TABLE scene_history (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    scene_path   TEXT    NOT NULL,
    loaded_at    INTEGER NOT NULL,
    load_time_ms REAL    NOT NULL,
    status       TEXT    NOT NULL,
    error        TEXT    NOT NULL DEFAULT '',
    error_code   TEXT    NOT NULL DEFAULT ''
);

CREATE INDEX scene_history_loaded_at_idx ON scene_history (loaded_at);

CREATE TABLE audit_records (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    time        INTEGER NOT NULL,
    request_id  TEXT    NOT NULL DEFAULT '',
    principal   TEXT    NOT NULL,
    role        TEXT    NOT NULL DEFAULT '',
    client_addr TEXT    NOT NULL DEFAULT '',
    method      TEXT    NOT NULL DEFAULT '',
    route       TEXT    NOT NULL DEFAULT '',
    path        TEXT    NOT NULL DEFAULT '',
    scene_path  TEXT    NOT NULL DEFAULT '',
    status      INTEGER NOT NULL,
    duration_ms REAL    NOT NULL,
    reason      TEXT    NOT NULL DEFAULT '',
    user_agent  TEXT    NOT NULL DEFAULT ''
);

CREATE INDEX audit_records_time_idx ON audit_records (time, id);
CREATE INDEX audit_records_principal_time_idx ON audit_records (principal, time);
CREATE INDEX audit_records_status_time_idx ON audit_records (status, time);
CREATE INDEX audit_records_reason_time_idx ON audit_records (reason, time);
