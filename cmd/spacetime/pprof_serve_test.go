package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestServePprof: monitoring.pprof_enabled (on in staging's file) serves
// the Go profiles on the API port to admins only; production's file has
// it off and the path does not exist; the telemetry port never serves
// them (importing net/http/pprof registers them on http.DefaultServeMux,
// which no server of ours uses).
func TestServePprof(t *testing.T) {
	get := func(s *server, url, tok string) (int, string) {
		t.Helper()
		req, err := http.NewRequest("GET", url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := s.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	staging := startServe(t, map[string]string{"GODOT_ENV": "staging"})
	if code, body := get(staging, staging.base+"/debug/pprof/goroutine?debug=1", staging.token); code != 200 || !strings.Contains(body, "goroutine profile: total") {
		t.Errorf("staging, admin: GET /debug/pprof/goroutine?debug=1 = %d %.200s", code, body)
	}
	devKey, _ := staging.mint("pprof developer", "developer")
	if resp, p := staging.try(staging.login(devKey).AccessToken, "GET", "/debug/pprof/heap", ""); resp.StatusCode != 403 || p.Code != "role_too_low" {
		t.Errorf("staging, developer: GET /debug/pprof/heap = %d %s, want 403 role_too_low", resp.StatusCode, p.Code)
	}
	if code, _ := get(staging, "http://"+staging.telemetry+"/debug/pprof/", ""); code != 404 {
		t.Errorf("telemetry port: GET /debug/pprof/ = %d, want 404", code)
	}

	production := startServe(t, map[string]string{"GODOT_ENV": "production"})
	if resp, p := production.try(production.token, "GET", "/debug/pprof/", ""); resp.StatusCode != 404 {
		t.Errorf("production, admin: GET /debug/pprof/ = %d %s, want 404", resp.StatusCode, p.Code)
	}
}
