package store

import (
	"context"
	"slices"

	"github.com/spacetime-vr/spacetime/internal/api"
)

// History keeps scene load attempts in the scene_history table. It
// satisfies api.History and is safe for concurrent use.
type History struct {
	s *Store
}

var _ api.History = (*History)(nil)

// History returns the store's scene history.
func (s *Store) History() *History { return &History{s: s} }

// Append records one attempt. LoadedAt is kept in UTC to the microsecond.
func (h *History) Append(ctx context.Context, e api.HistoryEntry) error {
	d := h.s.dialect
	_, err := h.s.db.ExecContext(ctx, d.rebind(`INSERT INTO scene_history
    (scene_path, loaded_at, load_time_ms, status, error, error_code)
    VALUES (?, ?, ?, ?, ?, ?)`),
		e.ScenePath, d.timeArg(e.LoadedAt), e.LoadTimeMS, e.Status, e.Error, e.ErrorCode)
	if err != nil {
		return h.s.wrap("history append", err)
	}
	return nil
}

// List returns the last limit attempts (all when limit <= 0), oldest first,
// in the order they were appended.
func (h *History) List(ctx context.Context, limit int) ([]api.HistoryEntry, error) {
	q := `SELECT scene_path, loaded_at, load_time_ms, status, error, error_code
    FROM scene_history ORDER BY id DESC`
	var args []any
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := h.s.db.QueryContext(ctx, h.s.dialect.rebind(q), args...)
	if err != nil {
		return nil, h.s.wrap("history list", err)
	}
	defer rows.Close()
	var out []api.HistoryEntry
	for rows.Next() {
		var e api.HistoryEntry
		if err := rows.Scan(&e.ScenePath, timeScanner{&e.LoadedAt}, &e.LoadTimeMS, &e.Status, &e.Error, &e.ErrorCode); err != nil {
			return nil, h.s.wrap("history list", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, h.s.wrap("history list", err)
	}
	slices.Reverse(out)
	return out, nil
}
