package engine

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Console limits.
const (
	// MaxCommandLength is the longest console line accepted, in bytes.
	MaxCommandLength = 1024
	// MaxStepTicks is the most ticks one `step N` may run (they run inside
	// one loop tick, so this bounds the stall).
	MaxStepTicks = 1000
	// maxNameLength bounds body names given on the console, in bytes.
	maxNameLength = 64
)

// ConsoleHelp is the console grammar, as `help` prints it.
const ConsoleHelp = `commands (numbers are decimal, SI units):
  help                               this text
  status                             scene, time, warp, bodies, player, quality
  pause | resume                     stop / restart simulated time
  step [N]                           while paused: advance N ticks (default 1, at most 1000)
  warp FACTOR                        time scale, 0 < FACTOR <= 1000000 (simulated s per real s)
  teleport X Y Z                     move the player to (X, Y, Z) m, velocity unchanged
  teleport BODY [ALTITUDE]           circular orbit ALTITUDE m above BODY's surface
                                     (default: a quarter of its radius, at least 1 km)
  spawn NAME X Y Z VX VY VZ GM [RADIUS]  add a body (m, m/s, m^3/s^2, m)
  remove NAME                        delete a body
  reset                              reload the current scene`

type consoleKind uint8

const (
	cmdHelp consoleKind = iota + 1
	cmdStatus
	cmdPause
	cmdResume
	cmdStep
	cmdWarp
	cmdTeleport
	cmdTeleportBody
	cmdSpawn
	cmdRemove
	cmdReset
)

// consoleCmd is a parsed console line.
type consoleCmd struct {
	kind consoleKind
	n    int
	f    float64
	pos  Vec3
	name string
	body BodySpec
}

func badf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadCommand, fmt.Sprintf(format, args...))
}

// parseNumber parses a finite decimal number.
func parseNumber(what, s string) (float64, error) {
	if !isNumber(s) {
		return 0, badf("%s: %q is not a decimal number", what, s)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, badf("%s: %q is out of range", what, s)
	}
	return f, nil
}

// isNumber reports whether s has the only number syntax the console
// accepts: [+-] digits [. digits] [e [+-] digits] (a leading or trailing
// dot allowed, not both); no hex, underscores, inf or nan.
func isNumber(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := func() int {
		j := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i - j
	}
	mant := digits()
	if i < len(s) && s[i] == '.' {
		i++
		mant += digits()
	}
	if mant == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

// parseName checks a body name token.
func parseName(s string) (string, error) {
	if len(s) > maxNameLength {
		return "", badf("name longer than %d bytes", maxNameLength)
	}
	if !utf8.ValidString(s) {
		return "", badf("name is not valid UTF-8")
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return "", badf("name %q has a non-printable character", s)
		}
	}
	if isNumber(s) {
		return "", badf("name %q is a number", s)
	}
	return s, nil
}

// parseCommand parses one console line of the fixed grammar (ConsoleHelp).
// Errors wrap ErrBadCommand.
func parseCommand(line string) (consoleCmd, error) {
	if len(line) > MaxCommandLength {
		return consoleCmd{}, badf("line longer than %d bytes", MaxCommandLength)
	}
	f := strings.Fields(line)
	if len(f) == 0 {
		return consoleCmd{}, badf("empty command (try help)")
	}
	verb, args := strings.ToLower(f[0]), f[1:]
	nargs := func(lo, hi int) error {
		if len(args) < lo || len(args) > hi {
			if lo == hi {
				return badf("%s takes %d argument(s), got %d", verb, lo, len(args))
			}
			return badf("%s takes %d to %d arguments, got %d", verb, lo, hi, len(args))
		}
		return nil
	}
	var c consoleCmd
	switch verb {
	case "help", "status", "pause", "resume", "reset":
		if err := nargs(0, 0); err != nil {
			return c, err
		}
		c.kind = map[string]consoleKind{"help": cmdHelp, "status": cmdStatus, "pause": cmdPause, "resume": cmdResume, "reset": cmdReset}[verb]
	case "step":
		if err := nargs(0, 1); err != nil {
			return c, err
		}
		c.kind, c.n = cmdStep, 1
		if len(args) == 1 {
			n, err := strconv.Atoi(args[0])
			if err != nil || n < 1 || n > MaxStepTicks || args[0][0] == '+' {
				return c, badf("step: N must be an integer from 1 to %d, got %q", MaxStepTicks, args[0])
			}
			c.n = n
		}
	case "warp":
		if err := nargs(1, 1); err != nil {
			return c, err
		}
		x, err := parseNumber("warp", args[0])
		if err != nil {
			return c, err
		}
		if !(x > 0 && x <= MaxTimeScale) {
			return c, badf("warp: factor must be in (0, %g], got %s", float64(MaxTimeScale), args[0])
		}
		c.kind, c.f = cmdWarp, x
	case "teleport":
		switch {
		case len(args) == 3 && isNumber(args[0]):
			var xyz [3]float64
			for i, a := range args {
				x, err := parseNumber("teleport", a)
				if err != nil {
					return c, err
				}
				xyz[i] = x
			}
			c.kind, c.pos = cmdTeleport, Vec3{xyz[0], xyz[1], xyz[2]}
		case (len(args) == 1 || len(args) == 2) && !isNumber(args[0]):
			name, err := parseName(args[0])
			if err != nil {
				return c, err
			}
			c.kind, c.name, c.f = cmdTeleportBody, name, -1
			if len(args) == 2 {
				alt, err := parseNumber("teleport altitude", args[1])
				if err != nil {
					return c, err
				}
				if alt < 0 {
					return c, badf("teleport: altitude must not be negative, got %s", args[1])
				}
				c.f = alt
			}
		default:
			return c, badf("teleport takes X Y Z or BODY [ALTITUDE]")
		}
	case "spawn":
		if err := nargs(8, 9); err != nil {
			return c, err
		}
		name, err := parseName(args[0])
		if err != nil {
			return c, err
		}
		var v [8]float64
		for i, a := range args[1:] {
			x, err := parseNumber("spawn", a)
			if err != nil {
				return c, err
			}
			v[i] = x
		}
		if v[6] < 0 {
			return c, badf("spawn: GM must not be negative")
		}
		if v[7] < 0 {
			return c, badf("spawn: radius must not be negative")
		}
		c.kind = cmdSpawn
		c.body = BodySpec{Name: name, Pos: Vec3{v[0], v[1], v[2]}, Vel: Vec3{v[3], v[4], v[5]}, GM: v[6], Radius: v[7]}
	case "remove":
		if err := nargs(1, 1); err != nil {
			return c, err
		}
		name, err := parseName(args[0])
		if err != nil {
			return c, err
		}
		c.kind, c.name = cmdRemove, name
	default:
		return c, badf("unknown command %q (try help)", f[0])
	}
	return c, nil
}
