package health

import (
	"math"
	"strings"
	"testing"
)

func TestHealthJudgeRate(t *testing.T) {
	tests := []struct {
		name                                  string
		fps, physics, want, minFPS, targetFPS float64
		status                                Status
		summary                               string
	}{
		{"at rate", 90, 90, 90, 85, 90, Pass, "90.0 fps at physics_fps 90 (threshold 85.0)"},
		{"just above the threshold", 85, 90, 90, 85, 90, Pass, "threshold 85.0"},
		{"below the guide's threshold", 84.9, 90, 90, 85, 90, Warn, "below the threshold of 85.0"},
		{"development threshold", 70, 90, 90, 60, 90, Pass, "threshold 60.0"},
		{"threshold scales with another tick rate", 58, 60, 60, 85, 90, Pass, "threshold 56.7"},
		{"not ticking", 0, 90, 90, 85, 90, Fail, "not ticking"},
		{"no rate", 90, 0, 90, 85, 90, Fail, "no tick rate"},
		{"NaN", math.NaN(), 90, 90, 85, 90, Fail, "no tick rate"},
		{"runs at another rate than configured", 60, 60, 90, 85, 90, Warn, "ticks at 60 Hz where the configuration says 90"},
		{"no threshold configured", 80, 90, 90, 0, 0, Warn, "threshold of 85.0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := JudgeRate(tc.fps, tc.physics, tc.want, tc.minFPS, tc.targetFPS)
			if r.Status != tc.status || !strings.Contains(r.Summary, tc.summary) {
				t.Errorf("JudgeRate = %s %q, want %s with %q", r.Status, r.Summary, tc.status, tc.summary)
			}
		})
	}
}
