package audit_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime/internal/audit"
)

// queryFixture is 12 records an hour apart (q00 oldest), spread over the
// current file and two backups (4 lines each).
func queryFixture() []audit.Record {
	type row struct {
		principal string
		status    int
		reason    string
	}
	rows := []row{
		{"alice", 200, ""}, {"", 401, audit.ReasonNoToken}, {"bob", 403, audit.ReasonRoleTooLow}, {"alice", 200, ""},
		{"bob", 429, audit.ReasonRateLimited}, {"alice", 500, ""}, {"", 401, audit.ReasonBadSignature}, {"bob", 200, ""},
		{"alice", 403, audit.ReasonSceneForbidden}, {"bob", 429, audit.ReasonRateLimited}, {"alice", 201, ""}, {"", 401, audit.ReasonNoToken},
	}
	var out []audit.Record
	for i, r := range rows {
		p := r.principal
		if p == "" {
			p = audit.Anonymous
		}
		out = append(out, audit.Record{
			Time:      base.Add(time.Duration(i) * time.Hour),
			RequestID: "q" + string(rune('0'+i/10)) + string(rune('0'+i%10)),
			Principal: p, Method: "GET", Route: "GET /scene", Path: "/scene",
			Status: r.status, Reason: r.reason, UserAgent: "ua",
		})
	}
	// Pad the user agents so every line has the same length.
	longest := 0
	for _, r := range out {
		b, _ := json.Marshal(r)
		longest = max(longest, len(b))
	}
	for i := range out {
		b, _ := json.Marshal(out[i])
		out[i].UserAgent += strings.Repeat("a", longest-len(b))
	}
	return out
}

func openQueryFixture(t *testing.T) *audit.FileSink {
	t.Helper()
	all := queryFixture()
	line := int64(lineLenOf(t, all[0]))
	s, err := audit.OpenFile(audit.FileOptions{Dir: t.TempDir(), Name: "audit.log", MaxBytes: 4*line + line/2, MaxBackups: 5})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	writeBatches(t, s, all, 3)
	for _, suffix := range []string{"", ".1", ".2"} {
		if n := len(readLines(t, s.Path()+suffix)); n != 4 {
			t.Fatalf("fixture: %s%s has %d lines, want 4", s.Path(), suffix, n)
		}
	}
	return s
}

func lineLenOf(t *testing.T, r audit.Record) int {
	t.Helper()
	s, err := audit.OpenFile(audit.FileOptions{Dir: t.TempDir(), Name: "probe.log"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Write(context.Background(), []audit.Record{r}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	return int(fi.Size())
}

func queryCases() []struct {
	name   string
	filter audit.Filter
	want   []string
} {
	at := func(h int) time.Time { return base.Add(time.Duration(h) * time.Hour) }
	return []struct {
		name   string
		filter audit.Filter
		want   []string
	}{
		{"all newest first", audit.Filter{}, []string{"q11", "q10", "q09", "q08", "q07", "q06", "q05", "q04", "q03", "q02", "q01", "q00"}},
		{"limit", audit.Filter{Limit: 2}, []string{"q11", "q10"}},
		{"limit crosses files", audit.Filter{Limit: 6}, []string{"q11", "q10", "q09", "q08", "q07", "q06"}},
		{"principal", audit.Filter{Principal: "alice"}, []string{"q10", "q08", "q05", "q03", "q00"}},
		{"anonymous", audit.Filter{Principal: audit.Anonymous}, []string{"q11", "q06", "q01"}},
		{"status", audit.Filter{Status: 403}, []string{"q08", "q02"}},
		{"status class 4xx", audit.Filter{StatusClass: 4}, []string{"q11", "q09", "q08", "q06", "q04", "q02", "q01"}},
		{"status class 2xx, limit", audit.Filter{StatusClass: 2, Limit: 3}, []string{"q10", "q07", "q03"}},
		{"principal and class", audit.Filter{Principal: "bob", StatusClass: 4}, []string{"q09", "q04", "q02"}},
		{"reason", audit.Filter{Reason: audit.ReasonRateLimited}, []string{"q09", "q04"}},
		{"since inclusive", audit.Filter{Since: at(9)}, []string{"q11", "q10", "q09"}},
		{"until exclusive", audit.Filter{Until: at(2)}, []string{"q01", "q00"}},
		{"window", audit.Filter{Since: at(3), Until: at(6)}, []string{"q05", "q04", "q03"}},
		{"window and principal", audit.Filter{Since: at(3), Until: at(9), Principal: "bob"}, []string{"q07", "q04"}},
		{"nothing", audit.Filter{Principal: "mallory"}, nil},
	}
}

func TestFileQuery(t *testing.T) {
	s := openQueryFixture(t)
	for _, tt := range queryCases() {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Query(context.Background(), tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids(got), tt.want) {
				t.Errorf("Query = %v, want %v", ids(got), tt.want)
			}
		})
	}
	if got := s.Malformed(); got != 0 {
		t.Errorf("malformed = %d on a clean log", got)
	}
}

func TestMemoryQuery(t *testing.T) {
	m := audit.NewMemorySink(100)
	if err := m.Write(context.Background(), queryFixture()); err != nil {
		t.Fatal(err)
	}
	for _, tt := range queryCases() {
		t.Run(tt.name, func(t *testing.T) {
			got, err := m.Query(context.Background(), tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids(got), tt.want) {
				t.Errorf("Query = %v, want %v", ids(got), tt.want)
			}
		})
	}
}

func TestMemorySinkKeepsNewest(t *testing.T) {
	m := audit.NewMemorySink(3)
	all := queryFixture()
	if err := m.Write(context.Background(), all[:5]); err != nil {
		t.Fatal(err)
	}
	if got, want := ids(m.Records()), []string{"q02", "q03", "q04"}; !slices.Equal(got, want) {
		t.Errorf("Records = %v, want %v", got, want)
	}
}

// TestQuerySkipsMalformedLines: garbage, an overlong line and a line that
// is JSON but no record are skipped and counted; the records around them
// are still found.
func TestQuerySkipsMalformedLines(t *testing.T) {
	s := openQueryFixture(t)
	f, err := os.OpenFile(s.Path()+".1", os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	junk := "not json at all\n" + strings.Repeat("x", 100<<10) + "\n" + `{"status":"two hundred"}` + "\n\n"
	if _, err := f.WriteString(junk); err != nil {
		t.Fatal(err)
	}
	f.Close()
	got, err := s.Query(context.Background(), audit.Filter{StatusClass: 4})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"q11", "q09", "q08", "q06", "q04", "q02", "q01"}; !slices.Equal(ids(got), want) {
		t.Errorf("Query = %v, want %v", ids(got), want)
	}
	if got := s.Malformed(); got != 4 {
		t.Errorf("malformed = %d, want 4", got)
	}
}

// TestQuerySinceStopsEarly: a query for recent records does not read
// backups whose records are all older (the garbage in .2 is never seen).
func TestQuerySinceStopsEarly(t *testing.T) {
	s := openQueryFixture(t)
	if err := os.WriteFile(s.Path()+".2", []byte("garbage\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := s.Query(context.Background(), audit.Filter{Since: base.Add(6 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"q11", "q10", "q09", "q08", "q07", "q06"}; !slices.Equal(ids(got), want) {
		t.Errorf("Query = %v, want %v", ids(got), want)
	}
	if got := s.Malformed(); got != 0 {
		t.Errorf("malformed = %d: an older backup was read", got)
	}
}

func TestQueryCanceled(t *testing.T) {
	s := openQueryFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Query(ctx, audit.Filter{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Query = %v, want context.Canceled", err)
	}
}

func TestFilterValidate(t *testing.T) {
	tests := []struct {
		name   string
		filter audit.Filter
		ok     bool
	}{
		{"zero", audit.Filter{}, true},
		{"full", audit.Filter{Since: base, Until: base.Add(time.Hour), Principal: "a", Status: 404, StatusClass: 4, Limit: audit.MaxQueryLimit}, true},
		{"status out of range", audit.Filter{Status: 99}, false},
		{"status 600", audit.Filter{Status: 600}, false},
		{"class 6", audit.Filter{StatusClass: 6}, false},
		{"class negative", audit.Filter{StatusClass: -1}, false},
		{"status not in class", audit.Filter{Status: 200, StatusClass: 4}, false},
		{"limit negative", audit.Filter{Limit: -1}, false},
		{"limit too big", audit.Filter{Limit: audit.MaxQueryLimit + 1}, false},
		{"since after until", audit.Filter{Since: base.Add(time.Hour), Until: base}, false},
		{"since equals until", audit.Filter{Since: base, Until: base}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.filter.Validate()
			if got := err == nil; got != tt.ok {
				t.Errorf("Validate = %v, want ok %v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, audit.ErrBadFilter) {
				t.Errorf("error %v does not wrap ErrBadFilter", err)
			}
		})
	}
	s := audit.NewMemorySink(1)
	if _, err := s.Query(context.Background(), audit.Filter{Limit: -1}); !errors.Is(err, audit.ErrBadFilter) {
		t.Errorf("Query with a bad filter = %v", err)
	}
}
