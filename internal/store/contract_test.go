package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime/internal/api"
	"github.com/spacetime-vr/spacetime/internal/audit"
)

func TestSQLite(t *testing.T) {
	t.Parallel()
	testContract(t, sqliteBackend)
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	if os.Getenv(testDatabaseURL) == "" {
		t.Skip(pgSkipMessage)
	}
	testContract(t, postgresBackend)
}

// testContract is the behaviour every engine must show. Each case gets a
// fresh database from b.
func testContract(t *testing.T, b backend) {
	cases := []struct {
		name string
		run  func(t *testing.T, b backend)
	}{
		{"HistoryOrderAndLimit", contractHistoryOrderAndLimit},
		{"HistorySurvivesReopen", contractHistorySurvivesReopen},
		{"AuditQuery", contractAuditQuery},
		{"AuditBadFilter", contractAuditBadFilter},
		{"MigrationsIdempotent", contractMigrationsIdempotent},
		{"ConcurrentOpen", contractConcurrentOpen},
		{"ConcurrentWrites", contractConcurrentWrites},
		{"UseAfterClose", contractUseAfterClose},
		{"Auth", contractAuth},
		{"AuthAcrossReplicas", contractAuthAcrossReplicas},
		{"AuthSurvivesReopen", contractAuthSurvivesReopen},
		{"AuthInvalidRole", contractAuthInvalidRole},
		{"AuthServiceReplicas", contractAuthServiceReplicas},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t, b)
		})
	}
}

// base is a time with nanoseconds, to show the microsecond truncation.
var base = time.Date(2026, 3, 4, 5, 6, 7, 123456789, time.UTC)

func historyEntry(i int) api.HistoryEntry {
	e := api.HistoryEntry{
		ScenePath:  fmt.Sprintf("res://scenes/s%02d.tscn", i),
		LoadedAt:   base.Add(time.Duration(i) * time.Second).In(time.FixedZone("X", 3600)),
		LoadTimeMS: float64(i) + 0.25,
		Status:     api.HistoryLoaded,
	}
	if i%3 == 2 {
		e.Status, e.Error, e.ErrorCode = api.HistoryFailed, fmt.Sprintf("bad scene %d", i), "invalid_scene"
	}
	return e
}

// stored is e as the store returns it: UTC, to the microsecond.
func stored(e api.HistoryEntry) api.HistoryEntry {
	e.LoadedAt = e.LoadedAt.UTC().Truncate(time.Microsecond)
	return e
}

func contractHistoryOrderAndLimit(t *testing.T, b backend) {
	ctx := context.Background()
	h := openStore(t, b.fresh(t)).History()

	got, err := h.List(ctx, 0)
	if err != nil || len(got) != 0 {
		t.Fatalf("List on an empty store = %v, %v; want none, nil", got, err)
	}
	// Appended out of time order: List follows append order.
	order := []int{3, 0, 4, 1, 2}
	var all []api.HistoryEntry
	for _, i := range order {
		if err := h.Append(ctx, historyEntry(i)); err != nil {
			t.Fatalf("Append: %v", err)
		}
		all = append(all, stored(historyEntry(i)))
	}
	for _, tc := range []struct {
		name  string
		limit int
		want  []api.HistoryEntry
	}{
		{"all", 0, all},
		{"negative is all", -1, all},
		{"last three", 3, all[2:]},
		{"last one", 1, all[4:]},
		{"more than held", 10, all},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := h.List(ctx, tc.limit)
			if err != nil {
				t.Fatalf("List(%d): %v", tc.limit, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("List(%d):\n got %+v\nwant %+v", tc.limit, got, tc.want)
			}
		})
	}
}

func contractHistorySurvivesReopen(t *testing.T, b backend) {
	ctx := context.Background()
	opts := b.fresh(t)
	s, err := Open(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	want := []api.HistoryEntry{stored(historyEntry(1)), stored(historyEntry(2))}
	for _, e := range want {
		if err := s.History().Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Audit().Write(ctx, auditFixture()[:3]); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2 := openStore(t, opts)
	got, err := s2.History().List(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("history after reopen:\n got %+v\nwant %+v", got, want)
	}
	recs, err := s2.Audit().Query(ctx, audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 {
		t.Errorf("audit records after reopen = %d, want 3", len(recs))
	}
}

// auditFixture is 450 records (three INSERT chunks) over principals,
// statuses, reasons and times, with ties in time.
func auditFixture() []audit.Record {
	principals := []string{"admin", "dev-1", audit.Anonymous, "key:ci"}
	statuses := []int{200, 201, 401, 403, 404, 429, 500}
	reasons := map[int]string{401: audit.ReasonNoToken, 403: audit.ReasonRoleTooLow, 429: audit.ReasonRateLimited}
	recs := make([]audit.Record, 450)
	for i := range recs {
		st := statuses[i%len(statuses)]
		recs[i] = audit.Record{
			// Two records per second of time: ties are ordered by insertion.
			Time:       base.Add(time.Duration(i/2) * time.Second),
			RequestID:  fmt.Sprintf("req-%04d", i),
			Principal:  principals[i%len(principals)],
			Role:       "developer",
			ClientAddr: "192.0.2.7",
			Method:     "POST",
			Route:      "POST /scene/load",
			Path:       "/scene/load",
			ScenePath:  "res://scenes/main.tscn",
			Status:     st,
			DurationMS: float64(i) / 8,
			Reason:     reasons[st],
			UserAgent:  "test/1.0 ünïcode",
		}
	}
	return recs
}

// wantQuery applies f to recs as the contract says: audit.Filter.Match,
// newest first (time, then insertion), at most the limit.
func wantQuery(recs []audit.Record, f audit.Filter) []audit.Record {
	limit := f.Limit
	if limit == 0 {
		limit = audit.DefaultQueryLimit
	}
	var out []audit.Record
	for i := len(recs) - 1; i >= 0; i-- {
		r := recs[i]
		r.Time = r.Time.UTC().Truncate(time.Microsecond)
		if f.Match(r) {
			out = append(out, r)
		}
	}
	slices.SortStableFunc(out, func(a, b audit.Record) int { return b.Time.Compare(a.Time) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out
}

func contractAuditQuery(t *testing.T, b backend) {
	ctx := context.Background()
	a := openStore(t, b.fresh(t)).Audit()
	recs := auditFixture()
	if err := a.Write(ctx, nil); err != nil {
		t.Fatalf("Write(nil): %v", err)
	}
	if err := a.Write(ctx, recs[:100]); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if err := a.Write(ctx, recs[100:]); err != nil {
		t.Fatalf("Write: %v", err)
	}
	at := func(sec int) time.Time { return base.Add(time.Duration(sec) * time.Second) }
	for _, tc := range []struct {
		name string
		f    audit.Filter
	}{
		{"default limit", audit.Filter{}},
		{"all", audit.Filter{Limit: audit.MaxQueryLimit}},
		{"limit 7", audit.Filter{Limit: 7}},
		{"since", audit.Filter{Since: at(200), Limit: 1000}},
		{"since with nanoseconds", audit.Filter{Since: base.Add(200*time.Second + 1), Limit: 1000}},
		{"until", audit.Filter{Until: at(10), Limit: 1000}},
		{"since and until", audit.Filter{Since: at(20), Until: at(30), Limit: 1000}},
		{"principal", audit.Filter{Principal: "dev-1", Limit: 1000}},
		{"anonymous", audit.Filter{Principal: audit.Anonymous, Limit: 1000}},
		{"unknown principal", audit.Filter{Principal: "nobody"}},
		{"status", audit.Filter{Status: 404, Limit: 1000}},
		{"status class 4", audit.Filter{StatusClass: 4, Limit: 1000}},
		{"status class 2", audit.Filter{StatusClass: 2, Limit: 1000}},
		{"reason", audit.Filter{Reason: audit.ReasonRateLimited, Limit: 1000}},
		{"everything", audit.Filter{Since: at(10), Until: at(200), Principal: "admin", StatusClass: 4, Limit: 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := a.Query(ctx, tc.f)
			if err != nil {
				t.Fatalf("Query: %v", err)
			}
			want := wantQuery(recs, tc.f)
			if len(got) != len(want) {
				t.Fatalf("Query returned %d records, want %d", len(got), len(want))
			}
			for i := range want {
				if !reflect.DeepEqual(got[i], want[i]) {
					t.Fatalf("record %d:\n got %+v\nwant %+v", i, got[i], want[i])
				}
			}
		})
	}
}

func contractAuditBadFilter(t *testing.T, b backend) {
	a := openStore(t, b.fresh(t)).Audit()
	_, err := a.Query(context.Background(), audit.Filter{Status: 99})
	if !errors.Is(err, audit.ErrBadFilter) {
		t.Errorf("Query with status 99: err = %v, want audit.ErrBadFilter", err)
	}
}

func contractMigrationsIdempotent(t *testing.T, b backend) {
	ctx := context.Background()
	opts := b.fresh(t)
	ms, err := Migrations(b.name)
	if err != nil {
		t.Fatal(err)
	}
	want := ms[len(ms)-1].Version
	for i := range 2 {
		s, err := Open(ctx, opts)
		if err != nil {
			t.Fatalf("Open #%d: %v", i+1, err)
		}
		got, err := s.SchemaVersion(ctx)
		if err != nil {
			t.Fatalf("SchemaVersion: %v", err)
		}
		if got != want {
			t.Errorf("SchemaVersion after open #%d = %d, want %d", i+1, got, want)
		}
		var rows int
		if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if rows != len(ms) {
			t.Errorf("schema_migrations rows after open #%d = %d, want %d", i+1, rows, len(ms))
		}
		if err := s.Ping(ctx); err != nil {
			t.Errorf("Ping: %v", err)
		}
		s.Close()
	}
}

// contractConcurrentOpen starts several stores on one empty database at
// once, as replicas do: all must succeed and migrate once.
func contractConcurrentOpen(t *testing.T, b backend) {
	ctx := context.Background()
	opts := b.fresh(t)
	const n = 4
	stores := make([]*Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = Open(ctx, opts) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Errorf("Open #%d: %v", i, errs[i])
			continue
		}
		defer stores[i].Close()
	}
	if t.Failed() {
		return
	}
	var rows int
	if err := stores[0].db.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	ms, _ := Migrations(b.name)
	if rows != len(ms) {
		t.Errorf("schema_migrations rows = %d, want %d", rows, len(ms))
	}
}

// contractConcurrentWrites appends history and writes audit batches from
// many goroutines at once: nothing may be lost.
func contractConcurrentWrites(t *testing.T, b backend) {
	ctx := context.Background()
	s := openStore(t, b.fresh(t))
	const workers, each, batch = 8, 20, 10
	var wg sync.WaitGroup
	errc := make(chan error, 2*workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				if err := s.History().Append(ctx, historyEntry(w*each+i)); err != nil {
					errc <- err
				}
			}
		})
		wg.Go(func() {
			recs := auditFixture()[:batch]
			for range each {
				if err := s.Audit().Write(ctx, recs); err != nil {
					errc <- err
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Errorf("concurrent write: %v", err)
	}
	hist, err := s.History().List(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(hist), workers*each; got != want {
		t.Errorf("history entries = %d, want %d", got, want)
	}
	seen := map[string]bool{}
	for _, e := range hist {
		seen[e.ScenePath] = true
	}
	if got, want := len(seen), workers*each; got != want {
		t.Errorf("distinct history entries = %d, want %d", got, want)
	}
	recs, err := s.Audit().Query(ctx, audit.Filter{Limit: audit.MaxQueryLimit})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(recs), workers*each*batch; got != want {
		t.Errorf("audit records = %d, want %d", got, want)
	}
}

func contractUseAfterClose(t *testing.T, b backend) {
	ctx := context.Background()
	s, err := Open(ctx, b.fresh(t))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := s.History().Append(ctx, historyEntry(1)); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close: err = %v, want ErrClosed", err)
	}
	if _, err := s.Audit().Query(ctx, audit.Filter{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Query after Close: err = %v, want ErrClosed", err)
	}
	if _, err := s.APIKeys().Get("0123456789abcdef"); !errors.Is(err, ErrClosed) {
		t.Errorf("APIKeys().Get after Close: err = %v, want ErrClosed", err)
	}
	if _, err := s.Sessions().UseRefresh([32]byte{}, base); !errors.Is(err, ErrClosed) {
		t.Errorf("Sessions().UseRefresh after Close: err = %v, want ErrClosed", err)
	}
	if _, err := s.SigningKeys().Load(); !errors.Is(err, ErrClosed) {
		t.Errorf("SigningKeys().Load after Close: err = %v, want ErrClosed", err)
	}
}
