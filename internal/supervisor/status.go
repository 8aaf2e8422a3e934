package supervisor

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// Status is the supervisor's GET /health answer. The first five fields
// are the guide's (godot_editor_server.py); the rest say why.
type Status struct {
	Server         string        `json:"server"`
	Timestamp      time.Time     `json:"timestamp"`
	GodotProcess   ProcessStatus `json:"godot_process"`
	GodotAPI       APIStatus     `json:"godot_api"`
	OverallHealthy bool          `json:"overall_healthy"`

	// Phase is one of the Phase* constants.
	Phase string `json:"phase"`
	// Restarts counts the child's restarts since the supervisor started.
	Restarts int `json:"restarts"`
	// LastExit is how the previous child ended; null before any ended.
	LastExit *ExitStatus `json:"last_exit"`
	// UptimeS is the supervisor's uptime in seconds.
	UptimeS float64     `json:"uptime_s"`
	Scene   SceneStatus `json:"scene"`
	// CrashLoop is true once the supervisor gave up restarting.
	CrashLoop bool `json:"crash_loop"`
}

// ProcessStatus describes the child process.
type ProcessStatus struct {
	Running bool   `json:"running"`
	PID     int    `json:"pid"` // 0 when none runs
	Command string `json:"command"`
	// UptimeS is the running child's uptime in seconds (0 when none).
	UptimeS float64 `json:"uptime_s"`
}

// APIStatus is the outcome of the latest check of the child's /health.
type APIStatus struct {
	// Reachable: the child's API answered HTTP (any status).
	Reachable bool `json:"reachable"`
	// Healthy: it answered /health with 200 (or 429: it is alive and
	// limits the probe's address, which proxied clients share).
	Healthy             bool       `json:"healthy"`
	URL                 string     `json:"url"`
	ConsecutiveFailures int        `json:"consecutive_failures"`
	LastCheck           *time.Time `json:"last_check,omitempty"`
	Error               string     `json:"error,omitempty"`
}

// SceneStatus is the child's scene as the supervisor last saw it.
type SceneStatus struct {
	// Loaded: a scene runs and the player exists in it.
	Loaded bool   `json:"loaded"`
	Path   string `json:"path"` // res:// path, "" when unknown
	Player bool   `json:"player"`
	// AutoLoad: the supervisor loads the scene, and a loaded scene is
	// part of overall_healthy.
	AutoLoad bool   `json:"auto_load"`
	Error    string `json:"error,omitempty"`
}

// Reasons a child ended, ExitStatus.Reason.
const (
	ReasonExited       = "exited"               // on its own
	ReasonHealthChecks = "health checks failed" // stopped after Failures failed checks
	ReasonStartTimeout = "start timeout"        // stopped: no /health within StartTimeout
	ReasonShutdown     = "shutdown"             // stopped because the supervisor stops
	ReasonStartFailed  = "start failed"         // could not be started
)

// ExitStatus is how a child ended.
type ExitStatus struct {
	PID int `json:"pid"`
	// Status is the exit status, -1 when a signal ended the process.
	Status int `json:"status"`
	// Signal names the signal that ended it ("killed", "terminated"),
	// "" when it exited.
	Signal string    `json:"signal,omitempty"`
	Reason string    `json:"reason"` // one of the Reason* constants
	Error  string    `json:"error,omitempty"`
	At     time.Time `json:"at"`
}

// String is the exit for logs: "status 3", "signal killed".
func (e *ExitStatus) String() string {
	if e == nil {
		return "none"
	}
	var s string
	switch {
	case e.Error != "":
		s = e.Error
	case e.Signal != "":
		s = "signal " + e.Signal
	default:
		s = fmt.Sprintf("status %d", e.Status)
	}
	return s + " (" + e.Reason + ")"
}

// Status returns the supervisor's state now.
func (s *Supervisor) Status() Status {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	out := Status{
		Server:    ServerName,
		Timestamp: now.UTC(),
		GodotProcess: ProcessStatus{
			Running: st.running,
			PID:     st.pid,
			Command: s.opts.Command,
		},
		GodotAPI:  st.api,
		Phase:     st.phase,
		Restarts:  st.restarts,
		UptimeS:   now.Sub(s.started).Seconds(),
		Scene:     st.scene,
		CrashLoop: st.crashLoop,
	}
	if !st.running {
		out.GodotProcess.PID = 0
	} else {
		out.GodotProcess.UptimeS = now.Sub(st.startedAt).Seconds()
	}
	if st.lastExit != nil {
		ex := *st.lastExit
		out.LastExit = &ex
	}
	out.OverallHealthy = st.running && st.api.Reachable && st.api.Healthy && !st.crashLoop &&
		(st.phase == PhaseRunning) && (!s.opts.AutoLoadScene || st.scene.Loaded)
	return out
}

// serveHealth is GET /health: 200 when overall_healthy, else 503.
func (s *Supervisor) serveHealth(w http.ResponseWriter, r *http.Request) {
	st := s.Status()
	code := http.StatusOK
	if !st.OverallHealthy {
		code = http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(st) // the client may have gone; nothing to do
}
