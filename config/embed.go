// Package configfiles embeds the configuration files shipped in config/, so
// the binary starts with the documented defaults when no config directory
// is given.
package configfiles

import "embed"

// FS holds the shipped *.json files at its root (scene_whitelist.json,
// <env>.json, security_<env>.json, performance_<env>.json). It is read-only.
//
//go:embed *.json
var FS embed.FS
