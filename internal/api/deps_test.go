package api_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The API reaches the security packages only through the interfaces of
// security.go; cmd wires the real ones. Importing them here would tie the
// handlers to their storage and make the fakes of the tests impossible.
func TestAPIImportsNoSecurityImplementation(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	const mod = "github.com/spacetime-vr/spacetime/"
	forbidden := []string{mod + "internal/auth", mod + "internal/ratelimit", mod + "internal/audit",
		"github.com/golang-jwt/jwt"}
	for _, dep := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if dep == f || strings.HasPrefix(dep, f+"/") {
				t.Errorf("api depends on %s", dep)
			}
		}
	}
}
