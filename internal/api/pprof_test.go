package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/spacetime-vr/spacetime/internal/api"
)

// TestPprof: with Options.Pprof the Go profiles are served to admins
// under /debug/pprof/; others get 401/403, and without the option the
// paths do not exist.
func TestPprof(t *testing.T) {
	s := newSecured(t, func(o *api.Options) { o.Pprof = true })
	admin := bearer("role:admin")
	for _, tc := range []struct {
		path, contains string
	}{
		{"/debug/pprof/", "goroutine"}, // the index links the profiles
		{"/debug/pprof/goroutine?debug=1", "goroutine profile: total"},
		{"/debug/pprof/heap?debug=1", "heap profile:"},
		{"/debug/pprof/cmdline", ""},
	} {
		r := s.do("GET", tc.path, "", admin...)
		if r.status != http.StatusOK || !strings.Contains(string(r.body), tc.contains) {
			t.Errorf("GET %s as admin = %d, want 200 containing %q: %.200s", tc.path, r.status, tc.contains, r.body)
		}
	}
	if r := s.do("GET", "/debug/pprof/no-such-profile", "", admin...); r.status != http.StatusNotFound {
		t.Errorf("an unknown profile = %d, want 404", r.status)
	}
	problem(t, s.do("GET", "/debug/pprof/heap", "", bearer("role:developer")...), http.StatusForbidden, "role_too_low")
	problem(t, s.do("GET", "/debug/pprof/heap", ""), http.StatusUnauthorized, "no_credentials")

	off := newSecured(t)
	problem(t, off.do("GET", "/debug/pprof/", "", admin...), http.StatusNotFound, "not_found")
}
