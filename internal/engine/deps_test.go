package engine

import (
	"os/exec"
	"strings"
	"testing"
)

// The engine knows nothing of HTTP, SQL, Redis or the other packages of
// the project: it is the core they build on.
func TestEngineImportsNoTransportOrStorage(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	forbidden := []string{"net/http", "database/sql", "github.com/redis/", "github.com/jackc/", "modernc.org/sqlite",
		"github.com/spacetime-vr/spacetime/internal/api", "github.com/spacetime-vr/spacetime/internal/scene",
		"github.com/spacetime-vr/spacetime/internal/config"}
	for _, dep := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if dep == f || strings.HasPrefix(dep, f+"/") || (strings.HasSuffix(f, "/") && strings.HasPrefix(dep, f)) {
				t.Errorf("engine depends on %s", dep)
			}
		}
	}
}
