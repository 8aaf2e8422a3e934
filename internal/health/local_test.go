package health

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime/internal/buildinfo"
	"github.com/spacetime-vr/spacetime/internal/config"
)

func TestHealthExecutable(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "spacetime")
	if err := os.WriteFile(plain, []byte("not a program"), 0o644); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		path    string
		want    Status
		summary string
	}{
		// No server answers, so the versions cannot be compared: a warning.
		{"this test binary", self, Warn, "the server's version is unknown"},
		{"not executable", plain, Fail, "is not executable (mode -rw-r--r--)"},
		{"a directory", dir, Fail, "is not a regular file"},
		{"missing", filepath.Join(dir, "gone"), Fail, "binary not found"},
		{"replaced while running", self + " (deleted)", Fail, "deleted or replaced on disk"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := offlineOptions(t, nil)
			opts.Executable = tc.path
			r := runCheck(t, opts, checkExecutable)
			wantStatus(t, r, tc.want)
			if !strings.Contains(r.Summary, tc.summary) {
				t.Errorf("summary %q lacks %q", r.Summary, tc.summary)
			}
		})
	}
}

func TestHealthVersionDiff(t *testing.T) {
	local := buildinfo.Info{Version: "1.2.0", Commit: "aaaaaaaaaaaaaaaa", BuildMode: "release"}
	st := func(v, c, m string) *serverStatus {
		s := &serverStatus{Version: v}
		s.Build.Commit, s.Build.BuildMode = c, m
		return s
	}
	tests := []struct {
		name string
		srv  *serverStatus
		want string
	}{
		{"same", st("1.2.0", "aaaaaaaaaaaaaaaa", "release"), ""},
		{"unknown commit is not compared", st("1.2.0", "unknown", "release"), ""},
		{"older server", st("1.1.0", "bbbbbbbbbbbbbbbb", "release"), "version 1.1.0, commit bbbbbbbbbbbb"},
		{"debug server", st("1.2.0", "aaaaaaaaaaaaaaaa", "debug"), "a debug build"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := versionDiff(local, tc.srv); got != tc.want {
				t.Errorf("versionDiff = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestHealthConfig(t *testing.T) {
	t.Run("loads", func(t *testing.T) {
		cfg := loadConfig(t, nil, config.Flags{})
		r := runCheck(t, offlineOptions(t, cfg), checkConfig)
		wantStatus(t, r, Pass)
		if !strings.Contains(r.Summary, "development configuration from embedded is valid") {
			t.Errorf("summary %q", r.Summary)
		}
	})
	t.Run("does not load", func(t *testing.T) {
		// The real loader's error for a short token in production.
		_, err := config.Load(config.Options{WorkDir: t.TempDir(), Getenv: func(k string) string {
			return map[string]string{"GODOT_ENV": "production", "API_TOKEN": "short"}[k]
		}})
		if err == nil {
			t.Fatal("config.Load accepted a short production API_TOKEN")
		}
		opts := offlineOptions(t, nil)
		opts.ConfigErr = err
		r := runCheck(t, opts, checkConfig)
		wantStatus(t, r, Fail)
		if !strings.Contains(r.Summary, "api_token") || len(r.Detail) == 0 {
			t.Errorf("summary %q detail %q", r.Summary, r.Detail)
		}
	})
	t.Run("production without a credential", func(t *testing.T) {
		cfg := loadConfig(t, map[string]string{"GODOT_ENV": "production"}, config.Flags{})
		r := runCheck(t, offlineOptions(t, cfg), checkConfig)
		wantStatus(t, r, Warn)
		if !strings.Contains(r.Summary, "no API_TOKEN") {
			t.Errorf("summary %q", r.Summary)
		}
	})
	t.Run("dependent checks say why they did not run", func(t *testing.T) {
		opts := offlineOptions(t, nil)
		opts.ConfigErr = errors.New("x")
		for _, c := range []func(*Target) Result{
			func(tg *Target) Result { return checkPorts(t.Context(), tg) },
			func(tg *Target) Result { return checkStore(t.Context(), tg) },
			func(tg *Target) Result { return checkTLS(t.Context(), tg) },
		} {
			tg := NewTarget(t.Context(), opts)
			r := c(tg)
			tg.Close()
			wantStatus(t, r, Warn)
		}
	})
}

func TestHealthTLS(t *testing.T) {
	now := time.Now()
	day := 24 * time.Hour
	tests := []struct {
		name    string
		spec    certSpec
		want    Status
		summary string
	}{
		{"valid", certSpec{notBefore: now.Add(-time.Hour), notAfter: now.Add(90 * day)}, Pass, "certificate and key match; valid for 89 days more"},
		{"expires within 14 days", certSpec{notBefore: now.Add(-time.Hour), notAfter: now.Add(7*day + time.Hour)}, Warn, "expires in 7 days"},
		{"expired", certSpec{notBefore: now.Add(-30 * day), notAfter: now.Add(-day)}, Fail, "expired on"},
		{"not yet valid", certSpec{notBefore: now.Add(day), notAfter: now.Add(90 * day)}, Fail, "is not valid until"},
		{"key of another certificate", certSpec{notBefore: now.Add(-time.Hour), notAfter: now.Add(90 * day), otherKey: true}, Fail, "does not match the certificate"},
		{"key readable by others", certSpec{notBefore: now.Add(-time.Hour), notAfter: now.Add(90 * day), keyMode: 0o644}, Warn, "readable by others"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			certFile, keyFile := writeCert(t, t.TempDir(), tc.spec)
			cfg := loadConfig(t, nil, config.Flags{TLSCert: certFile, TLSKey: keyFile})
			r := runCheck(t, offlineOptions(t, cfg), checkTLS)
			wantStatus(t, r, tc.want)
			if !strings.Contains(r.Summary, tc.summary) {
				t.Errorf("summary %q lacks %q", r.Summary, tc.summary)
			}
		})
	}
	t.Run("not configured", func(t *testing.T) {
		r := runCheck(t, offlineOptions(t, loadConfig(t, nil, config.Flags{})), checkTLS)
		wantStatus(t, r, Pass)
	})
	t.Run("unreadable files", func(t *testing.T) {
		dir := t.TempDir()
		garbage := filepath.Join(dir, "garbage.pem")
		if err := os.WriteFile(garbage, []byte("-----BEGIN CERTIFICATE-----\nnope\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg := loadConfig(t, nil, config.Flags{TLSCert: garbage, TLSKey: garbage})
		r := runCheck(t, offlineOptions(t, cfg), checkTLS)
		wantStatus(t, r, Fail)
		cfg = loadConfig(t, nil, config.Flags{TLSCert: filepath.Join(dir, "none.crt"), TLSKey: garbage})
		r = runCheck(t, offlineOptions(t, cfg), checkTLS)
		wantStatus(t, r, Fail)
	})
}

// An API that does not answer fails; when the configuration keeps it off
// (a release build without GODOT_ENABLE_HTTP_API), the summary says so.
func TestHealthAPIDown(t *testing.T) {
	cfg := loadConfig(t, map[string]string{"GODOT_ENABLE_HTTP_API": "false"}, config.Flags{})
	opts := offlineOptions(t, cfg)
	opts.Build.BuildMode = "release"
	r := runCheck(t, opts, checkAPI)
	wantStatus(t, r, Fail)
	if !strings.Contains(r.Summary, "keeps the API off") {
		t.Errorf("summary %q", r.Summary)
	}
	opts.APIURL = "ftp://example.com"
	wantStatus(t, runCheck(t, opts, checkAPI), Fail)
}
