package main

import (
	"os"
	"testing"
)

// missing reports that a test cannot run here because something it needs
// is absent (a service, a server binary, a browser, root): under CI
// (CI set, as .ci/run does), where scripts/test.sh provides all of them,
// the test fails, so a broken set-up cannot pass as skipped tests;
// elsewhere it is skipped with why.
func missing(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(why)
	}
	t.Skip(why)
}
