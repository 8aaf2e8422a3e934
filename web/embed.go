// Package web holds SpaceTime's browser client: the WebXR viewer and the
// live dashboard. Its sources (src/) are JavaScript, bundled with esbuild
// by `npm run build` (build.mjs) into dist/, which this package embeds so
// the binary serves the client itself (GET / and /assets/... on the API
// port, see internal/api).
//
// A fresh clone has only dist/.gitkeep: `go build` then yields a binary
// whose GET / explains how to build the client (`make run` does it, or
// `npm --prefix web ci && npm --prefix web run build`, then rebuild).
package web

import (
	"embed"
	"io/fs"
)

// dist is the build output; "all:" keeps dist/.gitkeep so the pattern
// matches before the first build.
//
//go:embed all:dist
var dist embed.FS

// Assets returns the built client rooted at dist/: index.html and
// assets/... (plus the placeholder .gitkeep, which nothing serves).
func Assets() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		// fs.Sub fails only for an invalid directory name; "dist" is valid.
		panic("web: " + err.Error())
	}
	return sub
}

// Built reports whether the client was built into this binary
// (dist/index.html exists).
func Built() bool {
	_, err := fs.Stat(dist, "dist/index.html")
	return err == nil
}
