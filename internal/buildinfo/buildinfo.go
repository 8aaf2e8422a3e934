// Package buildinfo reports what this binary is: its version, the commit it
// was built from and its build mode (debug or release).
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// version is set at link time:
//
//	go build -ldflags "-X github.com/spacetime-vr/spacetime/internal/buildinfo.version=1.2.3"
var version = "dev"

// Info describes the running binary.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	CommitAt  string `json:"commit_time,omitempty"`
	Modified  bool   `json:"modified"`
	BuildMode string `json:"build_mode"` // "release" or "debug"
	GoVersion string `json:"go_version"`
	Platform  string `json:"platform"`
}

// Read returns the build information of the running binary. The commit
// comes from the VCS data the go command stamps into the binary
// (debug.ReadBuildInfo); it is "unknown" when the build had none.
func Read() Info {
	info := Info{
		Version:   version,
		Commit:    "unknown",
		BuildMode: Mode,
		GoVersion: runtime.Version(),
		Platform:  runtime.GOOS + "/" + runtime.GOARCH,
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				info.Commit = s.Value
			case "vcs.time":
				info.CommitAt = s.Value
			case "vcs.modified":
				info.Modified = s.Value == "true"
			}
		}
		if info.Version == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			info.Version = bi.Main.Version
		}
	}
	return info
}

// String is the one-line form printed by `spacetime version`.
func (i Info) String() string {
	commit := i.Commit
	if len(commit) > 12 {
		commit = commit[:12]
	}
	if i.Modified {
		commit += "-dirty"
	}
	return fmt.Sprintf("spacetime %s (commit %s, %s build, %s, %s)", i.Version, commit, i.BuildMode, i.GoVersion, i.Platform)
}
