// Package engine is SpaceTime's authoritative simulation: a world of massive
// bodies, massless test particles and the player's vessel, advanced by a
// single-writer fixed-step loop that publishes an immutable Snapshot every
// tick. It knows nothing of HTTP, SQL or Redis.
package engine
