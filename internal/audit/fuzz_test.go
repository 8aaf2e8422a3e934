package audit_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/spacetime-vr/spacetime/internal/audit"
)

// FuzzQueryFile: whatever bytes the log holds, Query neither fails nor
// panics, and every record it returns passes the filter.
func FuzzQueryFile(f *testing.F) {
	good, _ := json.Marshal(rec(1))
	f.Add(append(good, '\n'), "key-abc", 200)
	f.Add([]byte("{\"time\":\"2030-01-02T03:04:05Z\",\"principal\":\"a\",\"status\":4"), "a", 0)
	f.Add([]byte("{\"time\":\"x\"}\n\n}\n"), "", 404)
	f.Fuzz(func(t *testing.T, data []byte, principal string, status int) {
		if status != 0 && (status < 100 || status > 599) {
			status = 0
		}
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "audit.log.1"), data, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := audit.OpenFile(audit.FileOptions{Dir: dir, Name: "audit.log", MaxBackups: 1})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		filter := audit.Filter{Principal: principal, Status: status}
		got, err := s.Query(context.Background(), filter)
		if err != nil {
			t.Fatalf("Query: %v", err)
		}
		for _, r := range got {
			if !filter.Match(r) {
				t.Errorf("returned %+v, which does not match %+v", r, filter)
			}
		}
	})
}
