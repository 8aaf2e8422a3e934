package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/spacetime-vr/spacetime/internal/audit"
	"github.com/spacetime-vr/spacetime/internal/config"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

// rec returns a record whose encoding has the same length for every i
// below 1000.
func rec(i int) audit.Record {
	return audit.Record{
		Time:      base.Add(time.Duration(i) * time.Hour),
		RequestID: fmt.Sprintf("req-%03d", i),
		Principal: "key-abc",
		Role:      "developer",
		Method:    "POST",
		Route:     "POST /scene/load",
		Path:      "/scene/load",
		Status:    200,
	}
}

func recs(from, to int) []audit.Record {
	var out []audit.Record
	for i := from; i < to; i++ {
		out = append(out, rec(i))
	}
	return out
}

func lineLen(t *testing.T) int {
	t.Helper()
	a, _ := json.Marshal(rec(0))
	b, _ := json.Marshal(rec(999))
	if len(a) != len(b) {
		t.Fatalf("record encodings differ in length: %d, %d", len(a), len(b))
	}
	return len(a) + 1
}

func writeBatches(t *testing.T, s *audit.FileSink, all []audit.Record, batch int) {
	t.Helper()
	for i := 0; i < len(all); i += batch {
		if err := s.Write(context.Background(), all[i:min(i+batch, len(all))]); err != nil {
			t.Fatalf("Write: %v", err)
		}
	}
}

func TestRotation(t *testing.T) {
	L := int64(lineLen(t))
	tests := []struct {
		name       string
		maxBytes   int64
		maxBackups int
		batch      int
		n          int
		// want lists the request numbers in the current file, .1, .2, ...
		want [][]int
	}{
		{"one record per write", 3 * L, 2, 1, 30, [][]int{{27, 28, 29}, {24, 25, 26}, {21, 22, 23}}},
		{"batches cross rotations", 3 * L, 2, 7, 30, [][]int{{27, 28, 29}, {24, 25, 26}, {21, 22, 23}}},
		{"one big batch", 3 * L, 2, 30, 30, [][]int{{27, 28, 29}, {24, 25, 26}, {21, 22, 23}}},
		{"not full yet", 4 * L, 3, 5, 10, [][]int{{8, 9}, {4, 5, 6, 7}, {0, 1, 2, 3}}},
		{"record longer than max", L / 2, 5, 2, 3, [][]int{{2}, {1}, {0}}},
		{"zero backups keep one", 2 * L, 0, 3, 6, [][]int{{4, 5}, {2, 3}}},
		{"no rotation", 0, 2, 10, 40, [][]int{seq(0, 40)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := audit.OpenFile(audit.FileOptions{Dir: dir, Name: "audit_test.log", MaxBytes: tt.maxBytes, MaxBackups: tt.maxBackups})
			if err != nil {
				t.Fatal(err)
			}
			writeBatches(t, s, recs(0, tt.n), tt.batch)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			for i, want := range tt.want {
				path := s.Path()
				if i > 0 {
					path += fmt.Sprintf(".%d", i)
				}
				fi, err := os.Stat(path)
				if err != nil {
					t.Fatalf("file %d: %v", i, err)
				}
				if tt.maxBytes > 0 && fi.Size() > max(tt.maxBytes, L) {
					t.Errorf("%s: %d bytes, over the %d limit", path, fi.Size(), tt.maxBytes)
				}
				if fi.Mode().Perm() != 0o600 {
					t.Errorf("%s: mode %v, want 0600", path, fi.Mode().Perm())
				}
				var wantIDs []string
				for _, n := range want {
					wantIDs = append(wantIDs, rec(n).RequestID)
				}
				if got := ids(readLines(t, path)); !slices.Equal(got, wantIDs) {
					t.Errorf("%s = %v, want %v", filepath.Base(path), got, wantIDs)
				}
			}
			extra := fmt.Sprintf("%s.%d", s.Path(), len(tt.want))
			if _, err := os.Stat(extra); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s exists (%v): the oldest backup was not deleted", extra, err)
			}
		})
	}
}

func seq(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

func TestFileModes(t *testing.T) {
	t.Run("new directory and file", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "logs", "audit")
		s, err := audit.OpenFile(audit.FileOptions{Dir: dir, Name: "audit_production.log"})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		for path, want := range map[string]os.FileMode{dir: 0o700, s.Path(): 0o600} {
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != want {
				t.Errorf("%s: mode %v, want %v", path, got, want)
			}
		}
	})
	t.Run("existing file narrowed", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "audit.log")
		if err := os.WriteFile(path, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := audit.OpenFile(audit.FileOptions{Dir: dir, Name: "audit.log"})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		fi, _ := os.Stat(path)
		if got := fi.Mode().Perm(); got != 0o600 {
			t.Errorf("mode %v, want 0600", got)
		}
	})
}

func TestOpenFileRejectsBadNames(t *testing.T) {
	for _, name := range []string{"", ".", "..", "a/b.log", "../audit.log"} {
		t.Run(name, func(t *testing.T) {
			if s, err := audit.OpenFile(audit.FileOptions{Dir: t.TempDir(), Name: name}); err == nil {
				s.Close()
				t.Errorf("OpenFile(%q) succeeded", name)
			}
		})
	}
}

// TestPartialLastLineRepaired: a log that ends mid-line (a crash) gets a
// newline before new records, so they stay readable.
func TestPartialLastLineRepaired(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	whole, _ := json.Marshal(rec(0))
	if err := os.WriteFile(path, append(append(whole, '\n'), `{"time":"2030-01-0`...), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := audit.OpenFile(audit.FileOptions{Dir: dir, Name: "audit.log"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Write(context.Background(), []audit.Record{rec(1)}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Query(context.Background(), audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"req-001", "req-000"}; !slices.Equal(ids(got), want) {
		t.Errorf("query = %v, want %v", ids(got), want)
	}
	if got := s.Malformed(); got != 1 {
		t.Errorf("malformed = %d, want 1 (the partial line)", got)
	}
}

func TestFileSinkClosed(t *testing.T) {
	s, err := audit.OpenFile(audit.FileOptions{Dir: t.TempDir(), Name: "a.log"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write(context.Background(), recs(0, 2)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if err := s.Write(context.Background(), recs(2, 3)); !errors.Is(err, audit.ErrClosed) {
		t.Errorf("Write after Close = %v, want ErrClosed", err)
	}
	got, err := s.Query(context.Background(), audit.Filter{})
	if err != nil || len(got) != 2 {
		t.Errorf("Query after Close = %d records, %v; want 2", len(got), err)
	}
}

// TestHostileFieldsStayOneLine: newlines, quotes, control characters,
// invalid UTF-8 and overlong values cannot break the one-record-per-line
// format.
func TestHostileFieldsStayOneLine(t *testing.T) {
	dir := t.TempDir()
	s, err := audit.OpenFile(audit.FileOptions{Dir: dir, Name: "audit.log"})
	if err != nil {
		t.Fatal(err)
	}
	l := newLogger(t, audit.Options{}, s)
	hostile := audit.Record{
		RequestID: "id\n{\"principal\":\"admin\"}",
		Principal: "eve\"},{\"status\":200<&>",
		Method:    "GET\r\n",
		Path:      "/scene\n\x00\x1b[31m\u2028</script>",
		ScenePath: "res://a\"b\\c.tscn",
		Reason:    "bad\xffutf8",
		UserAgent: strings.Repeat("é", 1000) + "\nInjected: yes",
		Status:    403,
	}
	l.Record(hostile)
	if err := l.Close(ctxTimeout(t)); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(raw, []byte("\n")); n != 1 || !bytes.HasSuffix(raw, []byte("\n")) {
		t.Fatalf("%d newlines in %q, want exactly one, at the end", n, raw)
	}
	got := readLines(t, s.Path())[0]
	found, err := s.Query(context.Background(), audit.Filter{Principal: hostile.Principal, Status: 403})
	if err != nil || len(found) != 1 {
		t.Errorf("Query by the hostile principal = %d records, %v; want 1", len(found), err)
	}
	tests := []struct{ name, got, want string }{
		{"request id", got.RequestID, hostile.RequestID},
		{"principal", got.Principal, hostile.Principal},
		{"method", got.Method, hostile.Method},
		{"path", got.Path, hostile.Path},
		{"scene path", got.ScenePath, hostile.ScenePath},
		{"reason", got.Reason, "bad\uFFFDutf8"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %q, want %q", tt.name, tt.got, tt.want)
		}
	}
	if len(got.UserAgent) > audit.MaxUserAgentLen || !utf8.ValidString(got.UserAgent) ||
		!strings.HasPrefix(hostile.UserAgent, got.UserAgent) || len(got.UserAgent) < audit.MaxUserAgentLen-3 {
		t.Errorf("user agent = %d bytes (valid %v), want a valid prefix of at most %d",
			len(got.UserAgent), utf8.ValidString(got.UserAgent), audit.MaxUserAgentLen)
	}
}

// TestRecordFormat pins the JSON line of a full record
// (testdata/record.golden; -update rewrites it).
func TestRecordFormat(t *testing.T) {
	dir := t.TempDir()
	s, err := audit.OpenFile(audit.FileOptions{Dir: dir, Name: "audit.log"})
	if err != nil {
		t.Fatal(err)
	}
	l := newLogger(t, audit.Options{}, s)
	l.Record(audit.Record{
		Time:       time.Date(2030, 1, 2, 4, 4, 5, 123456789, time.FixedZone("CET", 3600)),
		ID:         "4f1c9e2a7b3d5e60-1",
		RequestID:  "5GZL2QYVHCN3M7XK",
		Principal:  "key_7f3a",
		Role:       "developer",
		ClientAddr: "203.0.113.7",
		Method:     "POST",
		Route:      "POST /scene/load",
		Path:       "/scene/load",
		ScenePath:  "res://scenes/forbidden.tscn",
		Status:     403,
		DurationMS: audit.Millis(1234567 * time.Nanosecond),
		Reason:     audit.ReasonSceneForbidden,
		UserAgent:  "curl/8.5.0",
	})
	l.Record(audit.Record{ID: "4f1c9e2a7b3d5e60-2", Method: "GET", Path: "/admin/audit", Status: 401, Reason: audit.ReasonNoToken})
	if err := l.Close(ctxTimeout(t)); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "record.golden")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("log =\n%s\nwant\n%s", got, want)
	}
	for _, secret := range []string{"authorization", "token", "password", "body", "cookie"} {
		if bytes.Contains(bytes.ToLower(got), []byte(`"`+secret)) {
			t.Errorf("log has a %q field", secret)
		}
	}
}

func TestExpiredBackupsPruned(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC)
	ages := map[string]time.Duration{"audit.log": 100 * 24 * time.Hour, "audit.log.1": time.Hour, "audit.log.2": 48 * time.Hour}
	for name, age := range ages {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, now.Add(-age), now.Add(-age)); err != nil {
			t.Fatal(err)
		}
	}
	s, err := audit.OpenFile(audit.FileOptions{Dir: dir, Name: "audit.log", MaxBackups: 5, MaxAge: 24 * time.Hour, Now: fixedClock(now)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for name, wantExists := range map[string]bool{"audit.log": true, "audit.log.1": true, "audit.log.2": false} {
		_, err := os.Stat(filepath.Join(dir, name))
		if exists := err == nil; exists != wantExists {
			t.Errorf("%s exists = %v, want %v", name, exists, wantExists)
		}
	}
}

func TestFileOptionsFromConfig(t *testing.T) {
	tests := []struct {
		name, file, env, want string
	}{
		{"named by config", "audit_production.log", "production", "audit_production.log"},
		{"pattern", "audit_{env}.log", "staging", "audit_staging.log"},
		{"default pattern", "", "development", "audit_development.log"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := config.Defaults()
			c.Environment = tt.env
			c.Security.Audit.File = tt.file
			c.Logging.Directory = "/var/log/spacetime"
			c.Logging.Rotation.MaxSizeMB = 100
			c.Logging.Rotation.MaxBackups = 10
			c.Security.Audit.RetentionDays = 90
			got := audit.FileOptionsFromConfig(c)
			if got.Dir != "/var/log/spacetime" || got.Name != tt.want || got.MaxBytes != 100<<20 ||
				got.MaxBackups != 10 || got.MaxAge != 90*24*time.Hour {
				t.Errorf("options = %+v, want %s in /var/log/spacetime, 100 MiB, 10 backups, 90 days", got, tt.want)
			}
		})
	}
}
