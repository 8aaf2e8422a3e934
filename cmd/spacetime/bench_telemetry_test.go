package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/spacetime-vr/spacetime/internal/telemetry"
)

// TestBenchTelemetryRunsTheSampleScene: `bench telemetry` runs the engine
// on the configured start scene (the sample scene) unless --particles asks
// for the synthetic world, and refuses both at once or a scene that does
// not exist. A short in-process run, not a measurement.
func TestBenchTelemetryRunsTheSampleScene(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the engine for a few seconds")
	}
	getenv := func(string) string { return "" }
	var out, errb bytes.Buffer
	err := run(t.Context(), []string{"bench", "telemetry", "--clients", "2", "--seconds", "0.5", "--in-process", "--json"},
		getenv, strings.NewReader(""), &out, &errb, withEnv(&environment{workDir: t.TempDir()}))
	if err != nil {
		t.Fatalf("bench telemetry: %v\n%s", err, errb.String())
	}
	var res telemetry.BenchResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("decode %q: %v", out.String(), err)
	}
	if res.Scene != "res://vr_main.tscn" || res.Particles != 20_000 || res.FramesDelivered == 0 {
		t.Errorf("scene %q, %d particles, %d frames delivered; want the sample scene's 20000 particles and frames",
			res.Scene, res.Particles, res.FramesDelivered)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--scene", "res://vr_main.tscn", "--particles", "10"}, "give one"},
		{[]string{"--particles", "-1"}, "--particles -1"},
		{[]string{"--scene", "res://no_such_scene.tscn"}, "scene res://no_such_scene.tscn"},
	} {
		err := run(t.Context(), append([]string{"bench", "telemetry"}, tc.args...), getenv, strings.NewReader(""),
			io.Discard, io.Discard, withEnv(&environment{workDir: t.TempDir()}))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("bench telemetry %v: %v, want an error containing %q", tc.args, err, tc.want)
		}
		if strings.HasPrefix(tc.want, "give") || strings.HasPrefix(tc.want, "--") {
			if !errors.Is(err, errUsage) {
				t.Errorf("bench telemetry %v: %v is not a usage error", tc.args, err)
			}
		}
	}
}
