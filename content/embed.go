// Package content is SpaceTime's sample project: the Godot 4 text scenes
// that res:// resolves to when the server runs without --project.
//
// vr_main.tscn is the solar system at J2000 with the player in low Earth
// orbit, scenes/menu.tscn the menu backdrop, tests/ the debug and
// integration scenes and tests/broken/ scenes that must be refused. The
// scenes are generated from the J2000 planetary data by tools/gencontent;
// do not edit them by hand, run `go generate ./content/` instead. README.md
// describes each scene and how scene nodes map to the simulated world.
package content

import "embed"

//go:generate go run ../tools/gencontent -q -out .

// FS is the sample project, used as res:// when --project is not given.
// Paths are relative to the project root: "vr_main.tscn" is
// res://vr_main.tscn.
//
//go:embed project.godot vr_main.tscn scenes tests
var FS embed.FS
