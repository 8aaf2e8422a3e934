package engine

import (
	"errors"
	"strings"
	"testing"
)

func TestParseCommand(t *testing.T) {
	tests := []struct {
		line string
		want consoleCmd
	}{
		{"help", consoleCmd{kind: cmdHelp}},
		{"  STATUS ", consoleCmd{kind: cmdStatus}},
		{"pause", consoleCmd{kind: cmdPause}},
		{"resume", consoleCmd{kind: cmdResume}},
		{"reset", consoleCmd{kind: cmdReset}},
		{"step", consoleCmd{kind: cmdStep, n: 1}},
		{"step 25", consoleCmd{kind: cmdStep, n: 25}},
		{"warp 1000", consoleCmd{kind: cmdWarp, f: 1000}},
		{"warp 1e6", consoleCmd{kind: cmdWarp, f: 1e6}},
		{"warp .5", consoleCmd{kind: cmdWarp, f: 0.5}},
		{"teleport 1 -2.5 3e9", consoleCmd{kind: cmdTeleport, pos: Vec3{1, -2.5, 3e9}}},
		{"teleport Earth", consoleCmd{kind: cmdTeleportBody, name: "Earth", f: -1}},
		{"teleport Earth 400000", consoleCmd{kind: cmdTeleportBody, name: "Earth", f: 4e5}},
		{"spawn Rogue 1 2 3 4 5 6 1e15", consoleCmd{kind: cmdSpawn, body: BodySpec{Name: "Rogue", Pos: Vec3{1, 2, 3}, Vel: Vec3{4, 5, 6}, GM: 1e15}}},
		{"spawn Rogue 1 2 3 4 5 6 1e15 7e5", consoleCmd{kind: cmdSpawn, body: BodySpec{Name: "Rogue", Pos: Vec3{1, 2, 3}, Vel: Vec3{4, 5, 6}, GM: 1e15, Radius: 7e5}}},
		{"remove Mars", consoleCmd{kind: cmdRemove, name: "Mars"}},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			got, err := parseCommand(tt.line)
			if err != nil {
				t.Fatalf("parseCommand: %v", err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseCommandErrors(t *testing.T) {
	tests := []struct {
		line string
		want string
	}{
		{"", "empty command"},
		{"   ", "empty command"},
		{"launch", "unknown command"},
		{"os.Exit(1)", "unknown command"},
		{"pause now", "takes 0 argument"},
		{"step 0", "integer from 1"},
		{"step 1001", "integer from 1"},
		{"step 2.5", "integer from 1"},
		{"step +3", "integer from 1"},
		{"warp", "takes 1 argument"},
		{"warp 0", "must be in (0"},
		{"warp -5", "must be in (0"},
		{"warp 1e7", "must be in (0"},
		{"warp NaN", "not a decimal number"},
		{"warp inf", "not a decimal number"},
		{"warp 0x10", "not a decimal number"},
		{"warp 1_000", "not a decimal number"},
		{"warp 1e999", "out of range"},
		{"warp 1e", "not a decimal number"},
		{"warp .", "not a decimal number"},
		{"teleport 1 2", "teleport takes"},
		{"teleport 1 2 z", "not a decimal number"},
		{"teleport Earth -5", "must not be negative"},
		{"teleport Earth 1 2", "teleport takes"},
		{"spawn X 1 2 3 4 5 6", "takes 8 to 9"},
		{"spawn X 1 2 3 4 5 6 -1", "GM must not be negative"},
		{"spawn X 1 2 3 4 5 6 1 -1", "radius must not be negative"},
		{"spawn 42 1 2 3 4 5 6 1", "is a number"},
		{"spawn X 1 2 3 4 5 nan 1", "not a decimal number"},
		{"remove", "takes 1 argument"},
		{"remove a\x01b", "non-printable"},
		{"remove " + strings.Repeat("n", 65), "longer than"},
		{"status " + strings.Repeat("x", MaxCommandLength), "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			_, err := parseCommand(tt.line)
			if !errors.Is(err, ErrBadCommand) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("parseCommand(%q) = %v, want ErrBadCommand mentioning %q", tt.line, err, tt.want)
			}
		})
	}
}
