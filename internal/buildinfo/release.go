//go:build release

package buildinfo

// Release reports whether this is a release build (`go build -tags release`).
// Release builds keep the HTTP API off unless GODOT_ENABLE_HTTP_API=true.
const Release = true

// Mode names the build mode.
const Mode = "release"
