//go:build race

package engine

// raceEnabled reports whether the race detector is on; tests use fewer
// steps under it (it slows float code about tenfold).
const raceEnabled = true
