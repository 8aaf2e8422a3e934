package store

import (
	"context"
	"database/sql"
	"strings"

	"github.com/spacetime-vr/spacetime/internal/audit"
)

// auditChunk is how many records one INSERT carries (14 parameters each,
// well under SQLite's and PostgreSQL's parameter limits).
const auditChunk = 200

const auditColumns = `record_id, time, request_id, principal, role, client_addr, method, route, path,
    scene_path, status, duration_ms, reason, user_agent`

// AuditLog keeps audit records in the audit_records table. It is an
// audit.Sink and an audit.Querier, safe for concurrent use; the audit
// Logger's writer goroutine calls Write, request handlers call Query.
type AuditLog struct {
	s *Store
}

var (
	_ audit.Sink    = (*AuditLog)(nil)
	_ audit.Querier = (*AuditLog)(nil)
)

// Audit returns the store's audit log.
func (s *Store) Audit() *AuditLog { return &AuditLog{s: s} }

// String names the sink in audit Logger reports: "store postgres host:5432".
func (a *AuditLog) String() string { return "store " + a.s.name }

// Write inserts recs in one transaction: all of them or none (an error is
// never an audit.PartialError), so the Logger may retry the whole batch.
// Records are stored as given (the Logger normalizes them); times in UTC to
// the microsecond.
func (a *AuditLog) Write(ctx context.Context, recs []audit.Record) error {
	if len(recs) == 0 {
		return nil
	}
	d := a.s.dialect
	tx, err := a.s.db.BeginTx(ctx, nil)
	if err != nil {
		return a.s.wrap("audit write: begin", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	var (
		q    strings.Builder
		args = make([]any, 0, min(len(recs), auditChunk)*13)
	)
	for start := 0; start < len(recs); start += auditChunk {
		chunk := recs[start:min(start+auditChunk, len(recs))]
		q.Reset()
		args = args[:0]
		q.WriteString(`INSERT INTO audit_records (` + auditColumns + `) VALUES `)
		for i, r := range chunk {
			if i > 0 {
				q.WriteByte(',')
			}
			q.WriteString(`(?,?,?,?,?,?,?,?,?,?,?,?,?,?)`)
			principal := r.Principal
			if principal == "" {
				principal = audit.Anonymous
			}
			var id any // NULL for records without an ID: never deduplicated
			if r.ID != "" {
				id = r.ID
			}
			args = append(args, id, d.timeArg(r.Time), r.RequestID, principal, r.Role, r.ClientAddr,
				r.Method, r.Route, r.Path, r.ScenePath, r.Status, r.DurationMS, r.Reason, r.UserAgent)
		}
		// A record already stored by an earlier attempt is skipped.
		q.WriteString(` ON CONFLICT DO NOTHING`)
		if _, err := tx.ExecContext(ctx, d.rebind(q.String()), args...); err != nil {
			return a.s.wrap("audit write", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return a.s.wrap("audit write: commit", err)
	}
	return nil
}

// Query returns the records f selects, newest first (by time, then by
// insertion), at most f's limit (audit.DefaultQueryLimit when 0). An
// invalid f gives an error wrapping audit.ErrBadFilter.
func (a *AuditLog) Query(ctx context.Context, f audit.Filter) ([]audit.Record, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	d := a.s.dialect
	var (
		where []string
		args  []any
	)
	cond := func(c string, v ...any) {
		where = append(where, c)
		args = append(args, v...)
	}
	if !f.Since.IsZero() {
		cond(`time >= ?`, d.boundArg(f.Since))
	}
	if !f.Until.IsZero() {
		cond(`time < ?`, d.boundArg(f.Until))
	}
	if f.Principal != "" {
		cond(`principal = ?`, f.Principal)
	}
	if f.Status != 0 {
		cond(`status = ?`, f.Status)
	}
	if f.StatusClass != 0 {
		cond(`status >= ? AND status < ?`, f.StatusClass*100, f.StatusClass*100+100)
	}
	if f.Reason != "" {
		cond(`reason = ?`, f.Reason)
	}
	q := `SELECT ` + auditColumns + ` FROM audit_records`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	limit := f.Limit
	if limit == 0 {
		limit = audit.DefaultQueryLimit
	}
	q += ` ORDER BY time DESC, id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := a.s.db.QueryContext(ctx, d.rebind(q), args...)
	if err != nil {
		return nil, a.s.wrap("audit query", err)
	}
	defer rows.Close()
	out := make([]audit.Record, 0, min(limit, 256))
	for rows.Next() {
		var (
			r  audit.Record
			id sql.NullString
		)
		if err := rows.Scan(&id, timeScanner{&r.Time}, &r.RequestID, &r.Principal, &r.Role, &r.ClientAddr,
			&r.Method, &r.Route, &r.Path, &r.ScenePath, &r.Status, &r.DurationMS, &r.Reason, &r.UserAgent); err != nil {
			return nil, a.s.wrap("audit query", err)
		}
		r.ID = id.String
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, a.s.wrap("audit query", err)
	}
	return out, nil
}
