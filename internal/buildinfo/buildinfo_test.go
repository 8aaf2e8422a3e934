package buildinfo

import (
	"strings"
	"testing"
)

func TestReadReportsModeAndGo(t *testing.T) {
	got := Read()
	if got.BuildMode != Mode {
		t.Errorf("BuildMode = %q, want %q", got.BuildMode, Mode)
	}
	if !strings.HasPrefix(got.GoVersion, "go") {
		t.Errorf("GoVersion = %q, want a go version", got.GoVersion)
	}
	if got.Version == "" || got.Commit == "" {
		t.Errorf("Version %q and Commit %q must not be empty", got.Version, got.Commit)
	}
}

func TestStringShortensCommit(t *testing.T) {
	i := Info{Version: "1.0.0", Commit: "0123456789abcdef0123", Modified: true, BuildMode: "release", GoVersion: "go1.26", Platform: "linux/amd64"}
	got := i.String()
	want := "spacetime 1.0.0 (commit 0123456789ab-dirty, release build, go1.26, linux/amd64)"
	if got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
