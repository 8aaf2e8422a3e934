package audit_test

import (
	"math"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/spacetime-vr/spacetime/internal/audit"
)

// TestNormalize: what a sink receives for what a caller submits.
func TestNormalize(t *testing.T) {
	long := func(s string, n int) string { return strings.Repeat(s, n) }
	tests := []struct {
		name  string
		in    audit.Record
		check func(t *testing.T, got audit.Record)
	}{
		{"NaN duration", audit.Record{DurationMS: math.NaN()}, wantDuration(0)},
		{"infinite duration", audit.Record{DurationMS: math.Inf(1)}, wantDuration(0)},
		{"negative duration", audit.Record{DurationMS: -3}, wantDuration(0)},
		{"duration rounded to the microsecond", audit.Record{DurationMS: 1.23456789}, wantDuration(1.235)},
		{"Millis", audit.Record{DurationMS: audit.Millis(2500 * time.Microsecond)}, wantDuration(2.5)},
		{"empty principal", audit.Record{}, func(t *testing.T, got audit.Record) {
			if got.Principal != audit.Anonymous {
				t.Errorf("principal = %q, want %q", got.Principal, audit.Anonymous)
			}
		}},
		{"year beyond 9999 restamped", audit.Record{Time: time.Date(12000, 1, 1, 0, 0, 0, 0, time.UTC)}, func(t *testing.T, got audit.Record) {
			if !got.Time.Equal(base) {
				t.Errorf("time = %v, want the clock's %v", got.Time, base)
			}
		}},
		{"caps", audit.Record{
			RequestID: long("r", 500), Principal: long("p", 500), Role: long("o", 500), ClientAddr: long("c", 500),
			Method: long("M", 500), Route: long("R", 500), Path: long("/", 5000), ScenePath: long("s", 5000),
			Reason: long("x", 500), UserAgent: long("u", 5000),
		}, func(t *testing.T, got audit.Record) {
			fields := []struct {
				name string
				v    string
				max  int
			}{
				{"request_id", got.RequestID, audit.MaxRequestIDLen}, {"principal", got.Principal, audit.MaxPrincipalLen},
				{"role", got.Role, audit.MaxRoleLen}, {"client_addr", got.ClientAddr, audit.MaxClientLen},
				{"method", got.Method, audit.MaxMethodLen}, {"route", got.Route, audit.MaxRouteLen},
				{"path", got.Path, audit.MaxPathLen}, {"scene_path", got.ScenePath, audit.MaxScenePathLen},
				{"reason", got.Reason, audit.MaxReasonLen}, {"user_agent", got.UserAgent, audit.MaxUserAgentLen},
			}
			for _, f := range fields {
				if len(f.v) != f.max {
					t.Errorf("%s: %d bytes, want the cap %d", f.name, len(f.v), f.max)
				}
			}
		}},
		{"cap on a rune boundary", audit.Record{Path: "/" + long("€", 1000)}, func(t *testing.T, got audit.Record) {
			if !utf8.ValidString(got.Path) || len(got.Path) > audit.MaxPathLen || len(got.Path) < audit.MaxPathLen-2 {
				t.Errorf("path: %d bytes, valid UTF-8 %v; want a valid cut near %d", len(got.Path), utf8.ValidString(got.Path), audit.MaxPathLen)
			}
		}},
		{"short fields kept", audit.Record{Method: "DELETE", Path: "/admin/keys/k1", Principal: "admin"}, func(t *testing.T, got audit.Record) {
			if got.Method != "DELETE" || got.Path != "/admin/keys/k1" || got.Principal != "admin" {
				t.Errorf("got %+v", got)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := audit.NewMemorySink(1)
			l := newLogger(t, audit.Options{}, mem)
			l.Record(tt.in)
			if err := l.Close(ctxTimeout(t)); err != nil {
				t.Fatal(err)
			}
			got := mem.Records()
			if len(got) != 1 {
				t.Fatalf("records = %d", len(got))
			}
			tt.check(t, got[0])
		})
	}
}

func wantDuration(want float64) func(t *testing.T, got audit.Record) {
	return func(t *testing.T, got audit.Record) {
		t.Helper()
		if got.DurationMS != want {
			t.Errorf("duration_ms = %v, want %v", got.DurationMS, want)
		}
	}
}

func TestStatusClass(t *testing.T) {
	tests := []struct{ status, want int }{{200, 2}, {204, 2}, {401, 4}, {429, 4}, {503, 5}}
	for _, tt := range tests {
		if got := audit.StatusClass(tt.status); got != tt.want {
			t.Errorf("StatusClass(%d) = %d, want %d", tt.status, got, tt.want)
		}
	}
}
