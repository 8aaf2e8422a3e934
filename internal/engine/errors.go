package engine

import "errors"

// Sentinel errors. Callers test them with errors.Is; the engine wraps them
// with the details.
var (
	// ErrInvalidSpec reports a Spec the engine refuses to build a world from
	// (non-finite numbers, negative GM or radius, unequal particle arrays, ...).
	ErrInvalidSpec = errors.New("engine: invalid spec")
	// ErrBadCommand reports a console line that does not parse or that the
	// current world cannot carry out (unknown body, step while running, ...).
	ErrBadCommand = errors.New("engine: bad command")
	// ErrStopped is returned by Load and Exec once Run has returned.
	ErrStopped = errors.New("engine: stopped")
	// ErrNotFound reports a body name the world does not have.
	ErrNotFound = errors.New("engine: not found")
	// ErrNoPlayer reports a vessel command in a world without a vessel.
	ErrNoPlayer = errors.New("engine: the scene has no player")
	// ErrRunning is returned by Run when the engine is already running or
	// has already run: an Engine runs once.
	ErrRunning = errors.New("engine: already running")
)
