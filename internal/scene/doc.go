// Package scene reads Godot 4 text scenes (.tscn) and turns them into the
// engine's world description.
//
// The package has four layers, each usable on its own:
//
//   - [Parse] reads one .tscn file into a [File]: its header, external and
//     internal resources, node declarations, connections and every property
//     as a typed [Value]. Malformed input is a [*SyntaxError] carrying the
//     line and column; the parser never panics and bounds file size,
//     nesting depth and array lengths.
//   - [Resolve] and [Project] confine res:// paths to a project root (an
//     embedded fs.FS or a directory opened with os.OpenRoot), refusing
//     traversal, other schemes and symlinks that leave the root.
//   - [Project.Load] parses a scene and inlines the scenes it instances
//     (recursively, with cycle and depth checks) into a [Tree] of [*Node]
//     whose global transforms can be computed.
//   - [Build] maps a tree onto an [engine.Spec]: massive bodies, asteroid
//     belts generated deterministically from a seed, the player's spawn and
//     the root's epoch, speed of light and time scale.
//
// Errors are classified by sentinels so that callers (the HTTP API, the
// CLI) can map them: [ErrNotFound] (404), [ErrForbiddenPath] (403),
// [ErrInvalidPath] (400) and [ErrInvalidScene] (422), which every
// [*SyntaxError] and [*SceneError] matches.
//
// Nothing in the package holds global state; a [Project] may be used by
// several goroutines at once, and a [Tree] is safe for concurrent reads.
package scene
