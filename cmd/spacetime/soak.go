package main

// spacetime bench soak: the guide's KPIs held under mixed authenticated
// traffic at its maximum rate, with telemetry subscribers, for minutes.
//
// The load generator is open loop: request i is due at start + i/rate
// whatever happened to the earlier ones, and its latency is measured from
// that due time, so a server that stalls is charged for every request
// that waited behind the stall (no coordinated omission).

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	configfiles "github.com/spacetime-vr/spacetime/config"
	"github.com/spacetime-vr/spacetime/internal/buildinfo"
	"github.com/spacetime-vr/spacetime/internal/telemetry"
)

const soakSynopsis = "bench soak [--minutes M] [--rate R] [--subscribers N] [--json] [--url BASE [--telemetry-url WS]] [--env staging|production] [--keep]"

// soakOptions are the flags of bench soak.
type soakOptions struct {
	Minutes      float64 `json:"minutes"`
	Rate         float64 `json:"rate"`
	Subscribers  int     `json:"subscribers"`
	URL          string  `json:"url,omitempty"`
	TelemetryURL string  `json:"telemetry_url,omitempty"`
	Environment  string  `json:"environment,omitempty"` // of the soak's own server
	MaxBodyBytes int64   `json:"max_body_bytes"`
	Keep         bool    `json:"-"`

	// The pass/fail thresholds.
	MinFPS        float64 `json:"min_fps"`
	MaxLowFPS     float64 `json:"max_low_fps_seconds"`
	MinAvgFPS     float64 `json:"min_avg_fps"`
	MaxP50Ms      float64 `json:"max_p50_ms"`
	MaxP95Ms      float64 `json:"max_p95_ms"`
	MaxSlopeMBMin float64 `json:"max_rss_slope_mb_per_min"` // 0: soakSlopeLimit(duration)
	MinDelivered  float64 `json:"min_frames_delivered"`
	serveBinary   string  // the binary whose serve the soak starts
}

// soakSlopeLimit is the largest RSS slope (MB per minute, least squares
// over the last half of the run) that passes: 1 MB/min, or 5 MB over the
// last half when that is shorter than 5 minutes. The server's RSS rises
// for the first 4-5 minutes of traffic (the heap and SQLite's page caches
// filling up: the lowest RSS of each 30 s went from 37 to 45 MB, then
// stayed at 44-46 MB on the 10-minute runs), so the last half of a short
// run is still warming up and only a bigger leak shows there. 1 MB/min is
// what a leak of one 64-byte object per request at 300 req/s adds.
func soakSlopeLimit(runSeconds float64) float64 {
	halfMin := runSeconds / 2 / 60
	if halfMin <= 0 {
		return math.Inf(1)
	}
	return math.Max(1, 5/halfMin)
}

// soakLimitScale multiplies every rate limit of the environment's shipped
// security policy in the soak's own server (see writeSoakConfig).
const soakLimitScale = 100

// runBenchSoak is `spacetime bench soak`.
func runBenchSoak(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet(env, "bench soak", soakSynopsis)
	var o soakOptions
	fs.Float64Var(&o.Minutes, "minutes", 1, "length of the traffic phase in minutes")
	fs.Float64Var(&o.Rate, "rate", 300, "API requests per second, all kinds together (the guide's maximum is 300)")
	fs.IntVar(&o.Subscribers, "subscribers", 100, "telemetry subscribers (perf and player at their default rates)")
	asJSON := fs.Bool("json", false, "print one JSON object instead of the summary")
	fs.StringVar(&o.URL, "url", "", "API base URL of a running server (default: start a real spacetime serve); its admin API_TOKEN is read from the API_TOKEN environment variable")
	fs.StringVar(&o.TelemetryURL, "telemetry-url", "", "telemetry stream of the server given by --url (default: BASE/telemetry)")
	fs.StringVar(&o.Environment, "env", "staging", "GODOT_ENV of the soak's own server: staging or production")
	fs.Int64Var(&o.MaxBodyBytes, "max-body-bytes", 1<<20, "the server's networking.http.max_body_bytes (oversized requests send one byte more)")
	fs.BoolVar(&o.Keep, "keep", false, "keep the own server's directory (config, data, logs) after the run")
	fs.Float64Var(&o.MinFPS, "min-fps", 85, "fail when the engine rate stays under this for more than --max-low-fps-seconds")
	fs.Float64Var(&o.MaxLowFPS, "max-low-fps-seconds", 1, "longest time the engine rate may stay under --min-fps")
	fs.Float64Var(&o.MinAvgFPS, "min-avg-fps", 89, "fail when the average engine rate is under this")
	fs.Float64Var(&o.MaxP50Ms, "max-p50-ms", 100, "fail when the API's median latency is over this")
	fs.Float64Var(&o.MaxP95Ms, "max-p95-ms", 500, "fail when the API's 95th percentile latency is over this")
	fs.Float64Var(&o.MaxSlopeMBMin, "max-rss-slope", 0, "fail when resident memory grows faster than this over the last half, in MB/min (0: 1, or 5 MB over the last half when that is shorter than 5 minutes)")
	fs.Float64Var(&o.MinDelivered, "min-delivered", 0.99, "fail when telemetry subscribers receive fewer than this share of the frames due")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var problems []string
	if !(o.Minutes > 0) || o.Minutes > 7*24*60 {
		problems = append(problems, fmt.Sprintf("--minutes must be above 0 and at most a week, got %v", o.Minutes))
	}
	if !(o.Rate >= 1) || o.Rate > 10000 {
		problems = append(problems, fmt.Sprintf("--rate must be from 1 to 10000, got %v", o.Rate))
	}
	if o.Subscribers < 1 || o.Subscribers > 10000 {
		problems = append(problems, fmt.Sprintf("--subscribers must be from 1 to 10000, got %d", o.Subscribers))
	}
	if o.Environment != "staging" && o.Environment != "production" {
		problems = append(problems, fmt.Sprintf("--env must be staging or production, got %q", o.Environment))
	}
	if o.MaxBodyBytes < 1 {
		problems = append(problems, "--max-body-bytes must be positive")
	}
	if o.TelemetryURL != "" && o.URL == "" {
		problems = append(problems, "--telemetry-url needs --url")
	}
	if o.URL != "" {
		if u, err := url.Parse(o.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			problems = append(problems, fmt.Sprintf("--url must be http(s)://HOST:PORT, got %q", o.URL))
		}
		if env.getenv("API_TOKEN") == "" {
			problems = append(problems, "--url needs the server's admin API_TOKEN in the API_TOKEN environment variable, to mint the soak's keys")
		}
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(env.stderr, "bench soak:", p)
		}
		return fmt.Errorf("bench soak: %d bad flags: %w", len(problems), errUsage)
	}
	if o.MaxSlopeMBMin == 0 {
		o.MaxSlopeMBMin = soakSlopeLimit(o.Minutes * 60)
	}
	if o.URL == "" {
		self, err := os.Executable()
		if err != nil {
			return fmt.Errorf("bench soak: find this binary to start the server: %w", err)
		}
		o.serveBinary = self
	}
	rep, err := runSoak(ctx, env, o)
	if err != nil {
		return fmt.Errorf("bench soak: %w", err)
	}
	if *asJSON {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		rep.print(env.stdout)
	}
	if !rep.Pass {
		return exitError{code: 1, msg: fmt.Sprintf("bench soak failed: %s", strings.Join(rep.Failures, "; "))}
	}
	return nil
}

// ---------------------------------------------------------------------
// The report.

// soakReport is what bench soak prints (--json: this object).
type soakReport struct {
	Pass      bool         `json:"pass"`
	Failures  []string     `json:"failures"`
	Options   soakOptions  `json:"options"`
	Machine   machineInfo  `json:"machine"`
	Server    soakServerR  `json:"server"`
	Started   time.Time    `json:"started"`
	Seconds   float64      `json:"seconds"` // of the traffic phase
	API       soakAPI      `json:"api"`
	Refusals  soakRefusals `json:"refusals"`
	FPS       soakFPS      `json:"fps"`
	Memory    soakMemory   `json:"memory"`
	Telemetry soakTelem    `json:"telemetry"`
	Audit     soakAudit    `json:"audit"`
	// Series are the once-a-second samples: seconds since the start of
	// traffic, the engine rate the perf topic last reported, the server's
	// resident memory in MB and its CPU use in percent of one core.
	Series soakSeries `json:"series"`
}

// soakServerR describes the server under test.
type soakServerR struct {
	Own         bool    `json:"own"` // started by the soak
	Base        string  `json:"base"`
	Telemetry   string  `json:"telemetry"`
	Environment string  `json:"environment"`
	Version     string  `json:"version,omitempty"`
	PID         int     `json:"pid,omitempty"`
	RateLimits  string  `json:"rate_limits"`
	CPUPercent  float64 `json:"cpu_percent"` // of one core, over the traffic phase (own server only)
	LogErrors   int     `json:"log_errors"`  // ERROR lines in its log (own server only)
	LogWarnings int     `json:"log_warnings"`
	ExitError   string  `json:"exit_error,omitempty"` // how the own server ended, when not cleanly
	Dir         string  `json:"dir,omitempty"`        // kept with --keep or on failure
}

// soakAPI are the figures of the API traffic (setup requests excluded).
type soakAPI struct {
	Sent            int                   `json:"sent"`
	Answered        int                   `json:"answered"`
	TransportErrors int                   `json:"transport_errors"`
	LastError       string                `json:"last_error,omitempty"`
	Rate            float64               `json:"rate"` // achieved, requests per second
	P50Ms           float64               `json:"p50_ms"`
	P95Ms           float64               `json:"p95_ms"`
	P99Ms           float64               `json:"p99_ms"`
	MaxMs           float64               `json:"max_ms"`
	Status5xx       int                   `json:"status_5xx"`
	Unexpected      int                   `json:"unexpected"` // answered with another status than the kind's
	ByStatus        map[string]int        `json:"by_status"`
	ByKind          map[string]*soakKStat `json:"by_kind"`
	GeneratorLagMs  float64               `json:"generator_lag_max_ms"` // how late the generator sent a request, at worst
	Examples        []string              `json:"unexpected_examples,omitempty"`
}

// soakKStat are the figures of one kind of request.
type soakKStat struct {
	Want     int            `json:"want"`
	Refusal  bool           `json:"refusal,omitempty"`
	Count    int            `json:"count"`
	ByStatus map[string]int `json:"by_status"`
	P50Ms    float64        `json:"p50_ms"`
	P95Ms    float64        `json:"p95_ms"`
	P99Ms    float64        `json:"p99_ms"`
}

// soakRefusals: the requests that must be refused, and how.
type soakRefusals struct {
	Sent  int `json:"sent"`
	Right int `json:"right"` // refused with the right status
	Wrong int `json:"wrong"`
}

// soakFPS: the engine rate as the perf topic reported it.
type soakFPS struct {
	Samples        int     `json:"samples"` // perf frames of one subscriber
	Avg            float64 `json:"avg"`     // ticks over the window / seconds, from the frames' tick and timestamp
	AvgReported    float64 `json:"avg_reported"`
	Min            float64 `json:"min"`
	LongestLowSecs float64 `json:"longest_below_min_seconds"`
}

// soakMemory: the server's resident memory.
type soakMemory struct {
	Source        string  `json:"source"`
	StartMB       float64 `json:"start_mb"`
	EndMB         float64 `json:"end_mb"`
	MaxMB         float64 `json:"max_mb"`
	SlopeMBPerMin float64 `json:"slope_last_half_mb_per_min"`
	LimitMBPerMin float64 `json:"limit_mb_per_min"`
}

// soakTelem: the telemetry subscribers.
type soakTelem struct {
	Subscribers     int     `json:"subscribers"`
	Connected       int     `json:"connected_at_end"`
	Frames          uint64  `json:"frames"`
	PerfFrames      uint64  `json:"perf_frames"`
	PlayerFrames    uint64  `json:"player_frames"`
	OtherMessages   uint64  `json:"other_messages"`
	ExpectedFrames  float64 `json:"expected_frames"`
	DeliveredRatio  float64 `json:"delivered_ratio"`
	Disconnects     int     `json:"disconnects"`
	LastDisconnect  string  `json:"last_disconnect,omitempty"`
	FramesPerSecond float64 `json:"frames_per_second"`
}

// soakAudit compares the audit log with the requests sent.
type soakAudit struct {
	// Compared says what is compared (see docs/benchmarks.md).
	Compared       string  `json:"compared"`
	Requests       int     `json:"requests"` // every request of the soak that got an answer, setup included
	Records        int     `json:"records"`  // audit records carrying one of their request ids
	Missing        int     `json:"missing"`  // answered requests without a record
	Duplicates     int     `json:"duplicates"`
	Unknown        int     `json:"unknown"`         // records with an id the soak never sent
	StatusMismatch int     `json:"status_mismatch"` // records whose status differs from the answer
	ErroredAudited int     `json:"errored_audited"` // requests without an answer that have a record anyway
	Pages          int     `json:"pages"`
	QuerySeconds   float64 `json:"query_seconds"`
}

// soakSeries are the once-a-second samples.
type soakSeries struct {
	T     []float64 `json:"t"`
	FPS   []float64 `json:"fps"`
	RSSMB []float64 `json:"rss_mb"`
	CPU   []float64 `json:"cpu_percent"`
	// Host is how busy the whole machine was, in percent of all its
	// CPUs (/proc/stat): the soak shares it with whatever else runs.
	Host []float64 `json:"host_cpu_percent"`
}

// machineInfo describes where a benchmark ran.
type machineInfo struct {
	CPUs      int     `json:"cpus"`
	CPUModel  string  `json:"cpu_model,omitempty"`
	MemoryGiB float64 `json:"memory_gib,omitempty"`
	OS        string  `json:"os"`
	Go        string  `json:"go"`
	Load1     float64 `json:"load_avg_1m_start"`
	Load1End  float64 `json:"load_avg_1m_end"`
	// HostCPU is the machine's average busy share over the run, in
	// percent of all CPUs (soak only).
	HostCPU float64 `json:"host_cpu_avg_percent,omitempty"`
}

// describeMachine reads the CPU model, memory, OS and load average.
func describeMachine() machineInfo {
	m := machineInfo{CPUs: runtime.NumCPU(), OS: runtime.GOOS + "/" + runtime.GOARCH, Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "MemTotal:" {
				kb, _ := strconv.ParseFloat(f[1], 64)
				m.MemoryGiB = math.Round(kb/(1<<20)*10) / 10
			}
		}
	}
	if b, err := os.ReadFile("/etc/os-release"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "PRETTY_NAME="); ok {
				m.OS = strings.Trim(v, `"`) + " " + runtime.GOARCH
			}
		}
	}
	m.Load1 = loadAverage()
	return m
}

// loadAverage is the one-minute load average (0 where unknown).
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// print writes the human summary.
func (r *soakReport) print(w io.Writer) {
	verdict := "PASS"
	if !r.Pass {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "soak:        %s, %.0f s at %.0f req/s with %d telemetry subscribers against %s (%s)\n",
		verdict, r.Seconds, r.Options.Rate, r.Options.Subscribers, r.Server.Base, r.Server.Environment)
	fmt.Fprintf(w, "machine:     %d CPUs %s, %s, %s, load %.2f → %.2f, %.0f%% busy on average\n", r.Machine.CPUs, r.Machine.CPUModel, r.Machine.OS, r.Machine.Go, r.Machine.Load1, r.Machine.Load1End, r.Machine.HostCPU)
	fmt.Fprintf(w, "api:         %d sent, %.1f req/s, p50 %.2f ms, p95 %.2f ms, p99 %.2f ms, max %.1f ms; %d transport errors, %d 5xx, %d unexpected\n",
		r.API.Sent, r.API.Rate, r.API.P50Ms, r.API.P95Ms, r.API.P99Ms, r.API.MaxMs, r.API.TransportErrors, r.API.Status5xx, r.API.Unexpected)
	fmt.Fprintf(w, "refusals:    %d sent, %d with the right status, %d wrong\n", r.Refusals.Sent, r.Refusals.Right, r.Refusals.Wrong)
	names := make([]string, 0, len(r.API.ByKind))
	for k := range r.API.ByKind {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		s := r.API.ByKind[k]
		var got []string
		for _, code := range sortedKeys(s.ByStatus) {
			got = append(got, fmt.Sprintf("%s×%d", code, s.ByStatus[code]))
		}
		fmt.Fprintf(w, "  %-24s %7d  want %d, got %-12s p50 %6.2f ms  p95 %7.2f ms\n", k, s.Count, s.Want, strings.Join(got, " "), s.P50Ms, s.P95Ms)
	}
	fmt.Fprintf(w, "fps:         avg %.2f (reported %.2f), min %.1f, longest under %.0f: %.1f s (%d samples)\n",
		r.FPS.Avg, r.FPS.AvgReported, r.FPS.Min, r.Options.MinFPS, r.FPS.LongestLowSecs, r.FPS.Samples)
	fmt.Fprintf(w, "memory:      %.1f → %.1f MB (max %.1f, %s), slope over the last half %+.2f MB/min (limit %.2f)\n",
		r.Memory.StartMB, r.Memory.EndMB, r.Memory.MaxMB, r.Memory.Source, r.Memory.SlopeMBPerMin, r.Memory.LimitMBPerMin)
	if r.Server.Own {
		fmt.Fprintf(w, "server:      pid %d, %.0f%% of a core, %d error and %d warning log lines\n", r.Server.PID, r.Server.CPUPercent, r.Server.LogErrors, r.Server.LogWarnings)
	}
	fmt.Fprintf(w, "telemetry:   %d/%d connected at the end, %d frames (%.0f/s), %.2f%% of those due, %d disconnects\n",
		r.Telemetry.Connected, r.Telemetry.Subscribers, r.Telemetry.Frames, r.Telemetry.FramesPerSecond, 100*r.Telemetry.DeliveredRatio, r.Telemetry.Disconnects)
	fmt.Fprintf(w, "audit:       %d records for %d answered requests (%d missing, %d duplicated, %d unknown, %d with another status)\n",
		r.Audit.Records, r.Audit.Requests, r.Audit.Missing, r.Audit.Duplicates, r.Audit.Unknown, r.Audit.StatusMismatch)
	if r.Server.Dir != "" {
		fmt.Fprintf(w, "kept:        %s\n", r.Server.Dir)
	}
	for _, f := range r.Failures {
		fmt.Fprintf(w, "FAILED:      %s\n", f)
	}
}

// ---------------------------------------------------------------------
// The kinds of request.

// soakAuth is how a kind of request authenticates.
type soakAuth int

const (
	authNone soakAuth = iota
	authReadonly
	authDeveloper
	authAdmin
	authGarbage // a bearer token that is no JWT at all
	authForged  // a readonly JWT with a flipped signature byte
)

// soakKind is one kind of request of the mix.
type soakKind struct {
	name    string
	perMil  int // share of the traffic, per thousand (0: scheduled apart)
	auth    soakAuth
	method  string
	path    string
	body    string
	tooBig  bool // send a body one byte over the limit
	want    int
	refusal bool
}

// soakKinds is the traffic mix. The refusals are 16 % of it: failed
// credentials (401), roles too low (403 role_too_low), scenes outside the
// whitelist (403 scene_forbidden: one is blacklisted everywhere, the other
// allowed only in development and test) and bodies over the limit (413).
// The scene load and reload come once every 10 s each, 5 s apart, so the
// one-load-at-a-time rule (409) never meets them.
func soakKinds() []soakKind {
	return []soakKind{
		{name: "state_player", perMil: 260, auth: authReadonly, method: "GET", path: "/state/player", want: 200},
		{name: "state_scene", perMil: 100, auth: authReadonly, method: "GET", path: "/state/scene", want: 200},
		{name: "state_vr", perMil: 50, auth: authReadonly, method: "GET", path: "/state/vr", want: 200},
		{name: "scene", perMil: 40, auth: authReadonly, method: "GET", path: "/scene", want: 200},
		{name: "scene_history", perMil: 50, auth: authReadonly, method: "GET", path: "/scene/history?limit=20", want: 200},
		{name: "scenes", perMil: 20, auth: authReadonly, method: "GET", path: "/scenes", want: 200},
		{name: "status", perMil: 110, auth: authReadonly, method: "GET", path: "/status", want: 200},
		{name: "health", perMil: 30, auth: authNone, method: "GET", path: "/health", want: 200},
		{name: "performance_metrics", perMil: 150, auth: authDeveloper, method: "GET", path: "/performance/metrics", want: 200},
		{name: "scene_validate", perMil: 20, auth: authDeveloper, method: "POST", path: "/scene/validate", body: `{"scene_path":"res://vr_main.tscn"}`, want: 200},
		{name: "admin_sessions", perMil: 10, auth: authAdmin, method: "GET", path: "/admin/sessions", want: 200},
		{name: "scene_load", auth: authDeveloper, method: "POST", path: "/scene/load", body: `{"scene_path":"res://vr_main.tscn"}`, want: 200},
		{name: "scene_reload", auth: authDeveloper, method: "POST", path: "/scene/reload", body: `{}`, want: 200},

		{name: "refuse_garbage_token", perMil: 25, auth: authGarbage, method: "GET", path: "/state/player", want: 401, refusal: true},
		{name: "refuse_forged_token", perMil: 20, auth: authForged, method: "GET", path: "/state/player", want: 401, refusal: true},
		{name: "refuse_no_token", perMil: 15, auth: authNone, method: "GET", path: "/state/scene", want: 401, refusal: true},
		{name: "refuse_readonly_metrics", perMil: 20, auth: authReadonly, method: "GET", path: "/performance/metrics", want: 403, refusal: true},
		{name: "refuse_readonly_load", perMil: 15, auth: authReadonly, method: "POST", path: "/scene/load", body: `{"scene_path":"res://vr_main.tscn"}`, want: 403, refusal: true},
		{name: "refuse_developer_admin", perMil: 15, auth: authDeveloper, method: "GET", path: "/admin/sessions", want: 403, refusal: true},
		{name: "refuse_blacklisted_scene", perMil: 15, auth: authDeveloper, method: "POST", path: "/scene/load", body: `{"scene_path":"res://private/soak.tscn"}`, want: 403, refusal: true},
		{name: "refuse_unlisted_scene", perMil: 15, auth: authDeveloper, method: "POST", path: "/scene/load", body: `{"scene_path":"res://tests/debug.tscn"}`, want: 403, refusal: true},
		{name: "refuse_oversized_body", perMil: 20, auth: authDeveloper, method: "POST", path: "/scene/load", tooBig: true, want: 413, refusal: true},
	}
}

// soakCycleSeconds is the period of the mix: every kind's share holds
// exactly within each cycle.
const soakCycleSeconds = 10

// soakSchedule returns the kinds (indices into kinds) of one cycle at
// rate, shuffled with a fixed seed, with the scene load at 30 % and the
// reload at 80 % of the cycle.
func soakSchedule(kinds []soakKind, rate float64) []uint8 {
	n := max(int(math.Round(rate*soakCycleSeconds)), 2)
	type share struct {
		k    int
		n    int
		frac float64
	}
	var shares []share
	total, sum := 0, 0
	for _, k := range kinds {
		sum += k.perMil
	}
	for i, k := range kinds {
		if k.perMil == 0 {
			continue
		}
		exact := float64(k.perMil) * float64(n) / float64(sum)
		c := int(exact)
		shares = append(shares, share{i, c, exact - float64(c)})
		total += c
	}
	sort.SliceStable(shares, func(a, b int) bool { return shares[a].frac > shares[b].frac })
	for i := 0; total < n; i = (i + 1) % len(shares) {
		shares[i].n++
		total++
	}
	out := make([]uint8, 0, n)
	for _, s := range shares {
		for range s.n {
			out = append(out, uint8(s.k))
		}
	}
	rng := mrand.New(mrand.NewPCG(1, 2))
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	for i, k := range kinds {
		switch k.name {
		case "scene_load":
			out[n*3/10] = uint8(i)
		case "scene_reload":
			out[n*8/10] = uint8(i)
		}
	}
	return out
}

// ---------------------------------------------------------------------
// The run.

// soakPrincipal is one credential of the load generator.
type soakPrincipal struct {
	name    string
	role    string
	apiKey  string
	mu      sync.RWMutex
	access  string
	refresh string
	expires time.Duration
}

func (p *soakPrincipal) token() string {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.access
}

// soakGrant is the answer of /auth/token and /auth/refresh.
type soakGrant struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int    `json:"expires_in"`
	Role         string `json:"role"`
}

// setupKind marks a setup request's sequence number in kindOf.
const setupKind = 255

// soakRun is one soak.
type soakRun struct {
	o       soakOptions
	log     io.Writer // progress lines
	base    string
	client  *http.Client
	prefix  string // X-Request-ID prefix of every counted request
	qprefix string // of the audit queries, which are not counted
	ua      string

	kinds   []soakKind
	admin   *soakPrincipal
	ro      []*soakPrincipal
	dev     []*soakPrincipal
	forged  string
	bigBody []byte

	seq      atomic.Int64
	status   []uint16 // per sequence number: the answer's status, 0 none
	latUS    []uint32 // per sequence number: latency in µs from the due time
	kindOf   []uint8  // per sequence number: index into kinds, setupKind for setup
	errMu    sync.Mutex
	lastErr  string
	nErrs    int
	inflight atomic.Int64
	lagMax   atomic.Int64 // ns
}

// soakTarget is the server under test.
type soakTarget struct {
	base, telemetry string
	adminToken      string
	srv             *soakServer // nil for --url
}

// runSoak runs one soak and returns its report.
func runSoak(ctx context.Context, env *environment, o soakOptions) (_ *soakReport, err error) {
	rep := &soakReport{Options: o, Machine: describeMachine(), Failures: []string{}}
	var tgt soakTarget
	if o.URL == "" {
		srv, serr := startSoakServer(ctx, o.serveBinary, o.Environment, 0)
		if serr != nil {
			return nil, serr
		}
		// The server stops (idempotent) and its directory goes unless the
		// run failed or --keep asks to keep it.
		defer func() {
			if ee := srv.stop(); ee != nil && rep.Server.ExitError == "" {
				rep.Server.ExitError = ee.Error()
			}
			switch {
			case err != nil:
				err = fmt.Errorf("%w (the server's config, data and log are kept in %s)", err, srv.dir)
			case !o.Keep && rep.Pass:
				_ = os.RemoveAll(srv.dir)
				rep.Server.Dir = ""
			}
		}()
		tgt = soakTarget{base: srv.base, telemetry: "ws://" + srv.telemetry + "/telemetry", adminToken: srv.apiToken, srv: srv}
		rep.Server = soakServerR{Own: true, Base: srv.base, Telemetry: tgt.telemetry, Environment: o.Environment, PID: srv.pid, Dir: srv.dir,
			RateLimits: fmt.Sprintf("security_%s.json with every limit ×%d (global %d/min per client)", o.Environment, soakLimitScale, srv.globalLimit)}
	} else {
		tgt = soakTarget{base: strings.TrimRight(o.URL, "/"), adminToken: env.getenv("API_TOKEN")}
		tgt.telemetry = o.TelemetryURL
		if tgt.telemetry == "" {
			tgt.telemetry = tgt.base + "/telemetry"
		}
		u, err := telemetry.WebSocketURL(tgt.telemetry)
		if err != nil {
			return nil, err
		}
		tgt.telemetry = u
		rep.Server = soakServerR{Base: tgt.base, Telemetry: tgt.telemetry, RateLimits: "the server's own"}
	}

	seconds := o.Minutes * 60
	capacity := int(math.Ceil(o.Rate*seconds)) + 4096 + 10*int(math.Ceil(o.Minutes))
	run := &soakRun{
		o: o, log: env.stderr, base: tgt.base,
		kinds:  soakKinds(),
		status: make([]uint16, capacity), latUS: make([]uint32, capacity), kindOf: make([]uint8, capacity),
		bigBody: bytes.Repeat([]byte{'x'}, int(o.MaxBodyBytes)+1),
	}
	id := rand.Text()[:10]
	run.prefix, run.qprefix, run.ua = "soak-"+id+"-", "soakq-"+id+"-", "spacetime-bench-soak/"+buildinfo.Read().Version
	tr := &http.Transport{
		MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: 90 * time.Second,
		ExpectContinueTimeout: 5 * time.Second, // the oversized bodies wait for the server's verdict
		ForceAttemptHTTP2:     false,
	}
	defer tr.CloseIdleConnections()
	run.client = &http.Client{Transport: tr, Timeout: 60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	if err := run.setup(ctx, tgt.adminToken); err != nil {
		return nil, err
	}
	var st struct {
		Version     string `json:"version"`
		Environment string `json:"environment"`
	}
	if code, err := run.do(ctx, run.ro[0], "GET", "/status", nil, &st); err == nil && code == 200 {
		rep.Server.Version = st.Version
		rep.Server.Environment = st.Environment
	}

	// Telemetry subscribers, one of which samples the perf topic.
	subs, err := startSoakSubscribers(ctx, tgt.telemetry, run.ro[0].token(), o.Subscribers, run.ua, run.prefix+"ws-")
	if err != nil {
		return nil, err
	}
	defer subs.close()

	// Traffic, with the samplers.
	sampler := newSoakSampler(tgt.srv, subs)
	sctx, scancel := context.WithCancel(ctx)
	var bg sync.WaitGroup
	bg.Go(func() { sampler.run(sctx) })
	bg.Go(func() { run.renewTokens(sctx) })
	bg.Go(func() { run.progress(sctx, sampler, seconds) })
	rep.Started = time.Now()
	framesBefore := subs.counts()
	sent, trafficErr := run.traffic(ctx, seconds)
	elapsed := time.Since(rep.Started).Seconds()
	framesAfter := subs.counts()
	scancel()
	bg.Wait()
	if trafficErr != nil {
		return nil, trafficErr
	}
	rep.Seconds = elapsed
	rep.Machine.Load1End = loadAverage()

	run.fillAPI(rep, sent, elapsed)
	sampler.fill(rep, o)
	subs.fill(rep, framesBefore, framesAfter, elapsed)
	subs.close()

	// The audit log, once every answer is in.
	if err := run.auditCompare(ctx, &rep.Audit, rep.Started); err != nil {
		rep.Failures = append(rep.Failures, "audit log could not be read: "+err.Error())
	}
	if tgt.srv != nil {
		if ee := tgt.srv.stop(); ee != nil {
			rep.Server.ExitError = ee.Error()
			rep.Failures = append(rep.Failures, "the server did not stop cleanly: "+ee.Error())
		}
		rep.Server.LogErrors, rep.Server.LogWarnings = tgt.srv.logCounts()
	}
	rep.judge(o)
	return rep, nil
}

// judge fills Pass and Failures.
func (r *soakReport) judge(o soakOptions) {
	fail := func(format string, a ...any) { r.Failures = append(r.Failures, fmt.Sprintf(format, a...)) }
	if r.FPS.Samples == 0 {
		fail("no perf frame arrived: the engine rate is unknown")
	} else {
		if r.FPS.LongestLowSecs > o.MaxLowFPS {
			fail("engine rate under %.0f fps for %.1f s at a stretch (limit %.1f s)", o.MinFPS, r.FPS.LongestLowSecs, o.MaxLowFPS)
		}
		if r.FPS.Avg < o.MinAvgFPS {
			fail("average engine rate %.2f fps, under %.0f", r.FPS.Avg, o.MinAvgFPS)
		}
	}
	if r.API.P50Ms > o.MaxP50Ms {
		fail("API p50 %.1f ms, over %.0f ms", r.API.P50Ms, o.MaxP50Ms)
	}
	if r.API.P95Ms > o.MaxP95Ms {
		fail("API p95 %.1f ms, over %.0f ms", r.API.P95Ms, o.MaxP95Ms)
	}
	if r.API.Status5xx > 0 {
		fail("%d answers with a 5xx status", r.API.Status5xx)
	}
	if r.API.TransportErrors > 0 {
		fail("%d requests got no answer (last: %s)", r.API.TransportErrors, r.API.LastError)
	}
	if r.Refusals.Wrong > 0 {
		fail("%d of %d requests that must be refused got another status", r.Refusals.Wrong, r.Refusals.Sent)
	}
	if n := r.API.Unexpected - r.Refusals.Wrong; n > 0 {
		fail("%d requests that must succeed got another status", n)
	}
	if r.Memory.SlopeMBPerMin > r.Memory.LimitMBPerMin {
		fail("resident memory grows %.2f MB/min over the last half (limit %.2f)", r.Memory.SlopeMBPerMin, r.Memory.LimitMBPerMin)
	}
	a := r.Audit
	if a.Records != a.Requests || a.Missing > 0 || a.Duplicates > 0 || a.Unknown > 0 || a.StatusMismatch > 0 {
		fail("audit log: %d records for %d answered requests (%d missing, %d duplicated, %d unknown, %d with another status)",
			a.Records, a.Requests, a.Missing, a.Duplicates, a.Unknown, a.StatusMismatch)
	}
	if r.Telemetry.Disconnects > 0 {
		fail("%d telemetry subscribers lost their connection (last: %s)", r.Telemetry.Disconnects, r.Telemetry.LastDisconnect)
	}
	if r.Telemetry.DeliveredRatio < o.MinDelivered {
		fail("telemetry subscribers received %.2f%% of the frames due, under %.0f%%", 100*r.Telemetry.DeliveredRatio, 100*o.MinDelivered)
	}
	r.Pass = len(r.Failures) == 0
}

// setup waits for /health, logs in as admin with the bootstrap token,
// mints the soak's keys (two readonly, two developer) and logs each in.
func (r *soakRun) setup(ctx context.Context, apiToken string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, err := r.do(ctx, nil, "GET", "/health", nil, nil)
		if err == nil && code == 200 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s/health not 200 within 30 s (last: %d %v)", r.base, code, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	r.admin = &soakPrincipal{name: "bootstrap", role: "admin", apiKey: apiToken}
	if err := r.login(ctx, r.admin); err != nil {
		return err
	}
	for i, role := range []string{"readonly", "readonly", "developer", "developer"} {
		var out struct {
			APIKey string `json:"api_key"`
		}
		name := fmt.Sprintf("bench-soak-%s-%d", role, i)
		body := fmt.Sprintf(`{"name":%q,"role":%q}`, name, role)
		code, err := r.do(ctx, r.admin, "POST", "/admin/keys", []byte(body), &out)
		if err != nil || code != 201 || out.APIKey == "" {
			return fmt.Errorf("mint a %s key: POST /admin/keys = %d %v", role, code, err)
		}
		p := &soakPrincipal{name: name, role: role, apiKey: out.APIKey}
		if err := r.login(ctx, p); err != nil {
			return err
		}
		if role == "readonly" {
			r.ro = append(r.ro, p)
		} else {
			r.dev = append(r.dev, p)
		}
	}
	// A readonly token with one byte of its signature changed: well
	// formed, correctly addressed, and forged.
	tok := []byte(r.ro[0].token())
	i := len(tok) - 3
	if tok[i] == 'A' {
		tok[i] = 'B'
	} else {
		tok[i] = 'A'
	}
	r.forged = string(tok)
	return nil
}

// login exchanges p's API key for tokens.
func (r *soakRun) login(ctx context.Context, p *soakPrincipal) error {
	var g soakGrant
	body, _ := json.Marshal(map[string]string{"api_key": p.apiKey})
	code, err := r.do(ctx, nil, "POST", "/auth/token", body, &g)
	if err != nil || code != 200 || g.AccessToken == "" {
		return fmt.Errorf("log in as %s (%s): POST /auth/token = %d %v", p.name, p.role, code, err)
	}
	if g.Role != p.role {
		return fmt.Errorf("log in as %s: role %q, want %q", p.name, g.Role, p.role)
	}
	p.mu.Lock()
	p.access, p.refresh, p.expires = g.AccessToken, g.RefreshToken, time.Duration(g.ExpiresIn)*time.Second
	p.mu.Unlock()
	return nil
}

// renew refreshes p's tokens (or logs in again when refresh is off).
func (r *soakRun) renew(ctx context.Context, p *soakPrincipal) error {
	p.mu.RLock()
	refresh := p.refresh
	p.mu.RUnlock()
	if refresh == "" {
		return r.login(ctx, p)
	}
	var g soakGrant
	body, _ := json.Marshal(map[string]string{"refresh_token": refresh})
	code, err := r.do(ctx, nil, "POST", "/auth/refresh", body, &g)
	if err != nil || code != 200 || g.AccessToken == "" {
		return fmt.Errorf("refresh %s: POST /auth/refresh = %d %v", p.name, code, err)
	}
	p.mu.Lock()
	p.access, p.refresh, p.expires = g.AccessToken, g.RefreshToken, time.Duration(g.ExpiresIn)*time.Second
	p.mu.Unlock()
	return nil
}

// renewTokens refreshes every principal's tokens at two thirds of their
// lifetime, so runs longer than an access token's TTL keep working.
func (r *soakRun) renewTokens(ctx context.Context) {
	all := append([]*soakPrincipal{r.admin}, append(r.ro, r.dev...)...)
	life := all[0].expires
	if life <= 0 {
		return
	}
	t := time.NewTicker(life * 2 / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			// A renewal that has begun finishes, even when the traffic
			// ends meanwhile: its answer is counted like any other.
			for _, p := range all {
				if err := r.renew(context.WithoutCancel(ctx), p); err != nil {
					r.noteErr(err)
				}
			}
		}
	}
}

// noteErr counts a failure of the load generator's own requests.
func (r *soakRun) noteErr(err error) {
	r.errMu.Lock()
	r.nErrs++
	r.lastErr = err.Error()
	r.errMu.Unlock()
}

// do sends one setup request as p (nil: no credential), counted like
// the traffic, and decodes a JSON answer into out.
func (r *soakRun) do(ctx context.Context, p *soakPrincipal, method, path string, body []byte, out any) (int, error) {
	seq := int(r.seq.Add(1) - 1)
	if seq >= len(r.status) {
		return 0, errors.New("more setup requests than planned")
	}
	r.kindOf[seq] = setupKind
	req, err := http.NewRequestWithContext(ctx, method, r.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	if body == nil {
		req.Body, req.ContentLength = http.NoBody, 0
	} else {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("X-Request-ID", r.prefix+strconv.Itoa(seq))
	req.Header.Set("User-Agent", r.ua)
	if p != nil {
		req.Header.Set("Authorization", "Bearer "+p.token())
	}
	start := time.Now()
	resp, err := r.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	r.status[seq] = uint16(resp.StatusCode)
	r.latUS[seq] = uint32(min(time.Since(start).Microseconds(), math.MaxUint32))
	if err != nil {
		return resp.StatusCode, err
	}
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

// traffic sends the mix at the configured rate for seconds, open loop,
// and waits for every answer. It returns how many requests it sent.
func (r *soakRun) traffic(ctx context.Context, seconds float64) (int, error) {
	sched := soakSchedule(r.kinds, r.o.Rate)
	n := int(math.Round(r.o.Rate * seconds))
	var wg sync.WaitGroup
	start := time.Now().Add(50 * time.Millisecond)
	period := float64(time.Second) / r.o.Rate
	sent := 0
	for i := 0; i < n; i++ {
		due := start.Add(time.Duration(float64(i) * period))
		if d := time.Until(due); d > 0 {
			select {
			case <-ctx.Done():
				wg.Wait()
				return sent, ctx.Err()
			case <-time.After(d):
			}
		}
		if lag := time.Since(due); lag > time.Duration(r.lagMax.Load()) {
			r.lagMax.Store(int64(lag))
		}
		seq := int(r.seq.Add(1) - 1)
		if seq >= len(r.status) {
			wg.Wait()
			return sent, errors.New("more requests than planned")
		}
		k := sched[i%len(sched)]
		r.kindOf[seq] = k
		sent++
		r.inflight.Add(1)
		wg.Go(func() {
			defer r.inflight.Add(-1)
			r.send(ctx, &r.kinds[k], seq, due)
		})
	}
	wg.Wait()
	return sent, nil
}

// send sends one request of kind k due at due.
func (r *soakRun) send(ctx context.Context, k *soakKind, seq int, due time.Time) {
	var body io.Reader = http.NoBody
	switch {
	case k.tooBig:
		body = bytes.NewReader(r.bigBody)
	case k.body != "":
		body = strings.NewReader(k.body)
	}
	req, err := http.NewRequestWithContext(ctx, k.method, r.base+k.path, body)
	if err != nil {
		r.noteErr(err)
		return
	}
	h := req.Header
	h.Set("X-Request-ID", r.prefix+strconv.Itoa(seq))
	h.Set("User-Agent", r.ua)
	if k.body != "" || k.tooBig {
		h.Set("Content-Type", "application/json")
	}
	if k.tooBig {
		// The server refuses on the declared length; the client then
		// never sends the megabyte (RFC 9110 §10.1.1).
		h.Set("Expect", "100-continue")
	}
	var pool []*soakPrincipal
	switch k.auth {
	case authReadonly:
		pool = r.ro
	case authDeveloper:
		pool = r.dev
	case authAdmin:
		pool = []*soakPrincipal{r.admin}
	case authGarbage:
		h.Set("Authorization", "Bearer not-a-token-"+strconv.Itoa(seq))
	case authForged:
		h.Set("Authorization", "Bearer "+r.forged)
	}
	if pool != nil {
		h.Set("Authorization", "Bearer "+pool[seq%len(pool)].token())
	}
	resp, err := r.client.Do(req)
	if err != nil {
		r.noteErr(fmt.Errorf("%s %s: %w", k.method, k.path, err))
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	r.latUS[seq] = uint32(min(time.Since(due).Microseconds(), math.MaxUint32))
	r.status[seq] = uint16(resp.StatusCode)
}

// progress prints a line every 30 s of a run longer than a minute.
func (r *soakRun) progress(ctx context.Context, s *soakSampler, seconds float64) {
	if seconds <= 60 {
		return
	}
	t := time.NewTicker(30 * time.Second)
	defer t.Stop()
	start := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fps, rss := s.last()
			fmt.Fprintf(r.log, "soak: %3.0f/%.0f s, %d requests sent, %d in flight, fps %.1f, rss %.1f MB\n",
				time.Since(start).Seconds(), seconds, r.seq.Load(), r.inflight.Load(), fps, rss)
		}
	}
}

// fillAPI computes the API figures of the traffic.
func (r *soakRun) fillAPI(rep *soakReport, sent int, elapsed float64) {
	a := &rep.API
	a.Sent = sent
	a.ByStatus = map[string]int{}
	a.ByKind = map[string]*soakKStat{}
	per := make([][]uint32, len(r.kinds))
	var all []uint32
	n := int(r.seq.Load())
	for seq := range n {
		k := r.kindOf[seq]
		code := int(r.status[seq])
		if k == setupKind {
			if code >= 500 {
				a.Status5xx++
			}
			continue
		}
		kind := r.kinds[k]
		ks := a.ByKind[kind.name]
		if ks == nil {
			ks = &soakKStat{Want: kind.want, Refusal: kind.refusal, ByStatus: map[string]int{}}
			a.ByKind[kind.name] = ks
		}
		ks.Count++
		if kind.refusal {
			rep.Refusals.Sent++
		}
		if code == 0 {
			a.TransportErrors++
			ks.ByStatus["error"]++
			a.ByStatus["error"]++
			continue
		}
		a.Answered++
		ks.ByStatus[strconv.Itoa(code)]++
		a.ByStatus[strconv.Itoa(code)]++
		if code >= 500 {
			a.Status5xx++
		}
		if code != kind.want {
			a.Unexpected++
			if kind.refusal {
				rep.Refusals.Wrong++
			}
			if len(a.Examples) < 10 {
				a.Examples = append(a.Examples, fmt.Sprintf("%s %s (%s): %d, want %d (request id %s%d)",
					kind.method, kind.path, kind.name, code, kind.want, r.prefix, seq))
			}
		} else if kind.refusal {
			rep.Refusals.Right++
		}
		per[k] = append(per[k], r.latUS[seq])
		all = append(all, r.latUS[seq])
	}
	for i, l := range per {
		if ks := a.ByKind[r.kinds[i].name]; ks != nil && len(l) > 0 {
			slices.Sort(l)
			ks.P50Ms, ks.P95Ms, ks.P99Ms = pctMs(l, 50), pctMs(l, 95), pctMs(l, 99)
		}
	}
	slices.Sort(all)
	if len(all) > 0 {
		a.P50Ms, a.P95Ms, a.P99Ms = pctMs(all, 50), pctMs(all, 95), pctMs(all, 99)
		a.MaxMs = float64(all[len(all)-1]) / 1000
	}
	if elapsed > 0 {
		a.Rate = round2(float64(a.Sent) / elapsed)
	}
	a.GeneratorLagMs = round2(float64(r.lagMax.Load()) / 1e6)
	r.errMu.Lock()
	a.LastError = r.lastErr
	if r.nErrs > a.TransportErrors {
		// Setup and token renewals that failed count too.
		a.TransportErrors = r.nErrs
	}
	r.errMu.Unlock()
}

// pctMs is the p-th percentile (nearest rank) of sorted µs values, in ms.
func pctMs(sorted []uint32, p float64) float64 {
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	i = min(max(i, 0), len(sorted)-1)
	return round2(float64(sorted[i]) / 1000)
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }

// auditRecord is the part of an audit record the soak reads.
type auditRecord struct {
	Time      time.Time `json:"time"`
	ID        string    `json:"id"`
	RequestID string    `json:"request_id"`
	Status    int       `json:"status"`
}

// auditCompare reads every audit record since the soak began (newest
// first, pages of 10,000, each page ending where the last one did) and
// compares those that carry the soak's request ids with the answers.
func (r *soakRun) auditCompare(ctx context.Context, out *soakAudit, since time.Time) error {
	out.Compared = "audit records whose request_id carries this soak's prefix (every request the soak sent to the API port: setup, traffic and token renewals; not its audit queries) against the requests that got an answer, one record each, with the same status"
	start := time.Now()
	n := int(r.seq.Load())
	seen := make([]uint8, n)
	recIDs := map[string]bool{}
	var until time.Time
	q := 0
	for {
		v := url.Values{}
		v.Set("since", since.Add(-time.Minute).UTC().Format(time.RFC3339Nano))
		v.Set("limit", "10000")
		if !until.IsZero() {
			v.Set("until", until.UTC().Format(time.RFC3339Nano))
		}
		var page struct {
			Records []auditRecord `json:"records"`
		}
		if err := r.auditPage(ctx, "/admin/audit?"+v.Encode(), r.qprefix+strconv.Itoa(q), &page); err != nil {
			return err
		}
		q++
		out.Pages++
		oldest := time.Time{}
		for _, rec := range page.Records {
			if oldest.IsZero() || rec.Time.Before(oldest) {
				oldest = rec.Time
			}
			key := rec.ID
			if key == "" {
				key = rec.RequestID + "@" + rec.Time.String()
			}
			if recIDs[key] {
				continue // the page boundary, seen on the page before
			}
			recIDs[key] = true
			s, ok := strings.CutPrefix(rec.RequestID, r.prefix)
			if !ok {
				continue
			}
			seq, err := strconv.Atoi(s)
			if err != nil || seq < 0 || seq >= n {
				if !strings.HasPrefix(s, "ws-") {
					out.Unknown++
				}
				continue
			}
			out.Records++
			if seen[seq] == 1 {
				out.Duplicates++
			}
			seen[seq] = min(seen[seq]+1, 2)
			if r.status[seq] == 0 {
				out.ErroredAudited++
			} else if int(r.status[seq]) != rec.Status {
				out.StatusMismatch++
			}
		}
		if len(page.Records) < 10000 {
			break
		}
		// Next page: everything up to the oldest record's time, that
		// microsecond included (records seen already are skipped).
		next := oldest.Add(time.Microsecond)
		if !until.IsZero() && !next.Before(until) {
			return fmt.Errorf("audit paging stuck at %v: over 10,000 records in one microsecond", oldest)
		}
		until = next
	}
	for seq := range n {
		if r.status[seq] != 0 {
			out.Requests++
			if seen[seq] == 0 {
				out.Missing++
			}
		}
	}
	out.Records -= out.ErroredAudited // compare answered requests with their records
	out.QuerySeconds = round2(time.Since(start).Seconds())
	return nil
}

// auditPage GETs one page of the audit log as admin, waiting out rate
// limits (a server with the guide's /admin limit allows 10 a minute).
func (r *soakRun) auditPage(ctx context.Context, path, id string, out any) error {
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, "GET", r.base+path, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+r.admin.token())
		req.Header.Set("X-Request-ID", id+"-"+strconv.Itoa(attempt))
		req.Header.Set("User-Agent", r.ua)
		resp, err := r.client.Do(req)
		if err != nil {
			return err
		}
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		switch {
		case resp.StatusCode == 200:
			return json.Unmarshal(data, out)
		case resp.StatusCode == 429 && attempt < 30:
			wait, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(max(wait, 1)) * time.Second):
			}
		default:
			return fmt.Errorf("GET %s = %d: %s", path, resp.StatusCode, bytes.TrimSpace(data))
		}
	}
}

// ---------------------------------------------------------------------
// Telemetry subscribers.

// soakSub is one subscriber.
type soakSub struct {
	ws      *websocket.Conn
	frames  atomic.Uint64
	perf    atomic.Uint64
	player  atomic.Uint64
	other   atomic.Uint64
	dropped atomic.Bool
	_       [40]byte
}

// perfSample is one perf frame of the sampling subscriber.
type perfSample struct {
	at       time.Time // received
	ts       float64   // the frame's timestamp (server clock, s)
	tick     uint64
	fps      float64
	memoryMB float64
}

// soakSubs are the subscribers.
type soakSubs struct {
	subs    []*soakSub
	wg      sync.WaitGroup
	closing atomic.Bool
	once    sync.Once

	mu       sync.Mutex
	samples  []perfSample
	disconn  int
	lastDisc string
}

// startSoakSubscribers connects n subscribers to perf and player at their
// default rates (10 Hz and the tick rate); the first one decodes its perf
// frames for the engine rate and memory.
func startSoakSubscribers(ctx context.Context, rawURL, token string, n int, ua, idPrefix string) (*soakSubs, error) {
	u, err := telemetry.WebSocketURL(rawURL)
	if err != nil {
		return nil, err
	}
	s := &soakSubs{subs: make([]*soakSub, n)}
	sem := make(chan struct{}, 16)
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			ws, err := dialSoakSub(ctx, u, token, ua, idPrefix+strconv.Itoa(i))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = fmt.Errorf("telemetry subscriber %d: %w", i, err)
				}
				return
			}
			s.subs[i] = &soakSub{ws: ws}
		})
	}
	wg.Wait()
	if firstErr != nil {
		for _, c := range s.subs {
			if c != nil {
				_ = c.ws.Close()
			}
		}
		return nil, firstErr
	}
	for i, c := range s.subs {
		s.wg.Go(func() { s.read(c, i == 0) })
	}
	return s, nil
}

// dialSoakSub connects and subscribes one subscriber.
func dialSoakSub(ctx context.Context, u, token, ua, reqID string) (*websocket.Conn, error) {
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second,
		Subprotocols: []string{telemetry.Subprotocol, telemetry.BearerPrefix + token}}
	h := http.Header{}
	h.Set("User-Agent", ua)
	h.Set("X-Request-ID", reqID)
	ws, resp, err := d.DialContext(ctx, u, h)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("dial %s: %w (HTTP %s)", u, err, resp.Status)
		}
		return nil, fmt.Errorf("dial %s: %w", u, err)
	}
	fail := func(err error) (*websocket.Conn, error) { _ = ws.Close(); return nil, err }
	_ = ws.SetReadDeadline(time.Now().Add(15 * time.Second))
	if err := awaitMsg(ws, "auth_success"); err != nil {
		return fail(err)
	}
	if err := ws.WriteJSON(map[string]any{"type": "subscribe", "topics": []string{telemetry.TopicPerf, telemetry.TopicPlayer}}); err != nil {
		return fail(err)
	}
	if err := awaitMsg(ws, "subscribed"); err != nil {
		return fail(err)
	}
	_ = ws.SetReadDeadline(time.Time{})
	return ws, nil
}

// awaitMsg reads until a message of type want; an error message fails.
func awaitMsg(ws *websocket.Conn, want string) error {
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			return err
		}
		var m struct {
			Type    string `json:"type"`
			Code    string `json:"code"`
			Message string `json:"message"`
		}
		if json.Unmarshal(data, &m) != nil {
			continue
		}
		switch m.Type {
		case want:
			return nil
		case "error":
			return fmt.Errorf("server error %s: %s", m.Code, m.Message)
		}
	}
}

var (
	perfMark   = []byte(`"event":"perf"`)
	playerMark = []byte(`"event":"player"`)
)

// read counts c's frames until its connection ends.
func (s *soakSubs) read(c *soakSub, sample bool) {
	var buf bytes.Buffer
	for {
		_, rd, err := c.ws.NextReader()
		if err != nil {
			if !s.closing.Load() {
				c.dropped.Store(true)
				s.mu.Lock()
				s.disconn++
				s.lastDisc = err.Error()
				s.mu.Unlock()
			}
			return
		}
		buf.Reset()
		if _, err := buf.ReadFrom(rd); err != nil {
			continue // the next NextReader reports the connection's error
		}
		data := buf.Bytes()
		head := data[:min(len(data), 48)]
		c.frames.Add(1)
		switch {
		case bytes.Contains(head, playerMark):
			c.player.Add(1)
		case bytes.Contains(head, perfMark):
			c.perf.Add(1)
			if sample {
				s.samplePerf(data)
			}
		default:
			c.other.Add(1)
		}
	}
}

// samplePerf keeps the figures of one perf frame.
func (s *soakSubs) samplePerf(data []byte) {
	var m struct {
		Timestamp float64 `json:"timestamp"`
		Data      struct {
			Tick     uint64  `json:"tick"`
			FPS      float64 `json:"fps"`
			MemoryMB float64 `json:"memory_mb"`
		} `json:"data"`
	}
	if json.Unmarshal(data, &m) != nil {
		return
	}
	s.mu.Lock()
	s.samples = append(s.samples, perfSample{at: time.Now(), ts: m.Timestamp, tick: m.Data.Tick, fps: m.Data.FPS, memoryMB: m.Data.MemoryMB})
	s.mu.Unlock()
}

// subCounts are the summed counters of every subscriber.
type subCounts struct{ frames, perf, player, other uint64 }

func (s *soakSubs) counts() subCounts {
	var c subCounts
	for _, sub := range s.subs {
		c.frames += sub.frames.Load()
		c.perf += sub.perf.Load()
		c.player += sub.player.Load()
		c.other += sub.other.Load()
	}
	return c
}

// lastPerf returns the newest perf sample (ok false before the first).
func (s *soakSubs) lastPerf() (perfSample, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.samples) == 0 {
		return perfSample{}, false
	}
	return s.samples[len(s.samples)-1], true
}

// close ends every subscriber and waits for their readers.
func (s *soakSubs) close() {
	s.once.Do(func() {
		s.closing.Store(true)
		for _, c := range s.subs {
			_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "soak done"), time.Now().Add(time.Second))
			_ = c.ws.Close()
		}
		s.wg.Wait()
	})
}

// fill computes the telemetry and fps figures over the traffic window.
func (s *soakSubs) fill(rep *soakReport, before, after subCounts, elapsed float64) {
	t := &rep.Telemetry
	t.Subscribers = len(s.subs)
	for _, c := range s.subs {
		if !c.dropped.Load() {
			t.Connected++
		}
	}
	t.Frames = after.frames - before.frames
	t.PerfFrames = after.perf - before.perf
	t.PlayerFrames = after.player - before.player
	t.OtherMessages = after.other - before.other
	if elapsed > 0 {
		t.FramesPerSecond = math.Round(float64(t.Frames) / elapsed)
	}
	s.mu.Lock()
	t.Disconnects, t.LastDisconnect = s.disconn, s.lastDisc
	samples := slices.Clone(s.samples)
	s.mu.Unlock()

	// The window: perf samples received during the traffic phase.
	end := rep.Started.Add(time.Duration(elapsed * float64(time.Second)))
	var win []perfSample
	for _, p := range samples {
		if !p.at.Before(rep.Started) && !p.at.After(end) {
			win = append(win, p)
		}
	}
	f := &rep.FPS
	f.Samples = len(win)
	if len(win) == 0 {
		return
	}
	f.Min = win[0].fps
	sum := 0.0
	lowSince := -1.0
	for _, p := range win {
		sum += p.fps
		f.Min = min(f.Min, p.fps)
		if p.fps < rep.Options.MinFPS {
			if lowSince < 0 {
				lowSince = p.ts
			}
			// Under the limit from the first low frame until this one,
			// plus the perf period (100 ms) this frame stands for.
			f.LongestLowSecs = max(f.LongestLowSecs, p.ts-lowSince+0.1)
		} else {
			lowSince = -1
		}
	}
	f.AvgReported = round2(sum / float64(len(win)))
	f.Min = round2(f.Min)
	f.LongestLowSecs = round2(f.LongestLowSecs)
	first, last := win[0], win[len(win)-1]
	if dt := last.ts - first.ts; dt > 0 && last.tick > first.tick {
		f.Avg = round2(float64(last.tick-first.tick) / dt)
		// Frames due: player every tick, perf at 10 Hz, for each
		// subscriber, over the ticks of the window.
		ticks := f.Avg * elapsed
		t.ExpectedFrames = math.Round(float64(len(s.subs)) * (ticks + 10*elapsed))
		if t.ExpectedFrames > 0 {
			t.DeliveredRatio = math.Round(float64(t.PerfFrames+t.PlayerFrames)/t.ExpectedFrames*1e4) / 1e4
		}
	}
}

// ---------------------------------------------------------------------
// Once-a-second samples of the server.

// soakSampler samples the server's memory and CPU and the engine rate.
type soakSampler struct {
	srv  *soakServer
	subs *soakSubs

	mu     sync.Mutex
	series soakSeries
	start  time.Time
	cpu0   float64 // CPU seconds at the start
	source string
}

func newSoakSampler(srv *soakServer, subs *soakSubs) *soakSampler {
	s := &soakSampler{srv: srv, subs: subs, source: "perf topic memory_mb (the server's /proc/self/statm)"}
	if srv != nil {
		s.source = fmt.Sprintf("/proc/%d/statm", srv.pid)
	}
	return s
}

func (s *soakSampler) run(ctx context.Context) {
	s.start = time.Now()
	prevCPU, prevT := -1.0, s.start
	if s.srv != nil {
		if c, err := procCPUSeconds(s.srv.pid); err == nil {
			prevCPU, s.cpu0 = c, c
		}
	}
	prevBusy, prevTotal, _ := hostCPUTicks()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			fps, rss, cpu, host := math.NaN(), math.NaN(), math.NaN(), math.NaN()
			if busy, total, err := hostCPUTicks(); err == nil && total > prevTotal {
				host = 100 * (busy - prevBusy) / (total - prevTotal)
				prevBusy, prevTotal = busy, total
			}
			if p, ok := s.subs.lastPerf(); ok {
				fps, rss = p.fps, p.memoryMB
			}
			if s.srv != nil {
				if b, err := procRSSBytes(s.srv.pid); err == nil {
					rss = float64(b) / (1 << 20)
				}
				if c, err := procCPUSeconds(s.srv.pid); err == nil && prevCPU >= 0 {
					cpu = 100 * (c - prevCPU) / now.Sub(prevT).Seconds()
					prevCPU, prevT = c, now
				}
			}
			s.mu.Lock()
			s.series.T = append(s.series.T, round2(now.Sub(s.start).Seconds()))
			s.series.FPS = append(s.series.FPS, nanToZero(round2(fps)))
			s.series.RSSMB = append(s.series.RSSMB, nanToZero(round2(rss)))
			s.series.CPU = append(s.series.CPU, nanToZero(round2(cpu)))
			s.series.Host = append(s.series.Host, nanToZero(round2(host)))
			s.mu.Unlock()
		}
	}
}

func nanToZero(v float64) float64 {
	if math.IsNaN(v) {
		return 0
	}
	return v
}

// last returns the newest fps and RSS samples.
func (s *soakSampler) last() (fps, rss float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := len(s.series.T); n > 0 {
		return s.series.FPS[n-1], s.series.RSSMB[n-1]
	}
	return 0, 0
}

// fill computes the memory figures and hands over the series.
func (s *soakSampler) fill(rep *soakReport, o soakOptions) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rep.Series = s.series
	if len(s.series.Host) > 0 {
		sum := 0.0
		for _, h := range s.series.Host {
			sum += h
		}
		rep.Machine.HostCPU = round2(sum / float64(len(s.series.Host)))
	}
	m := &rep.Memory
	m.Source = s.source
	m.LimitMBPerMin = round2(o.MaxSlopeMBMin)
	var ts, vs []float64
	for i, v := range s.series.RSSMB {
		if v > 0 {
			ts, vs = append(ts, s.series.T[i]), append(vs, v)
		}
	}
	if len(vs) == 0 {
		return
	}
	m.StartMB, m.EndMB, m.MaxMB = vs[0], vs[len(vs)-1], slices.Max(vs)
	half := rep.Seconds / 2
	var hx, hy []float64
	for i := range ts {
		if ts[i] >= half {
			hx, hy = append(hx, ts[i]/60), append(hy, vs[i])
		}
	}
	m.SlopeMBPerMin = round2(slope(hx, hy))
	if s.srv != nil && rep.Seconds > 0 {
		if c, err := procCPUSeconds(s.srv.pid); err == nil {
			rep.Server.CPUPercent = math.Round(100 * (c - s.cpu0) / rep.Seconds)
		}
	}
}

// slope is the least-squares slope of y over x (0 with fewer than 3
// points).
func slope(x, y []float64) float64 {
	n := float64(len(x))
	if len(x) < 3 {
		return 0
	}
	var sx, sy, sxx, sxy float64
	for i := range x {
		sx += x[i]
		sy += y[i]
		sxx += x[i] * x[i]
		sxy += x[i] * y[i]
	}
	d := n*sxx - sx*sx
	if d == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / d
}

// hostCPUTicks returns the busy and total CPU time of the whole machine
// from the first line of /proc/stat (busy: all but idle and iowait).
func hostCPUTicks() (busy, total float64, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 6 || f[0] != "cpu" {
		return 0, 0, fmt.Errorf("/proc/stat: first line %q", line)
	}
	// user nice system idle iowait irq softirq steal; guest time is
	// already in user and nice.
	for i, v := range f[1:min(len(f), 9)] {
		n, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/stat: %q: %w", v, err)
		}
		total += n
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return busy, total, nil
}

// procRSSBytes is the resident set size of process pid (/proc/PID/statm).
func procRSSBytes(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/statm", pid))
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, fmt.Errorf("/proc/%d/statm: %q", pid, b)
	}
	pages, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("/proc/%d/statm: %w", pid, err)
	}
	return pages * uint64(os.Getpagesize()), nil
}

// procCPUSeconds is the user plus system CPU time of process pid
// (/proc/PID/stat, in clock ticks of 1/100 s).
func procCPUSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command field", pid)
	}
	f := strings.Fields(s[i+1:])
	// After the command: state(0) ppid pgrp session tty tpgid flags minflt
	// cminflt majflt cmajflt utime(11) stime(12).
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	u, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: utime %q stime %q", pid, f[11], f[12])
	}
	return (u + st) / 100, nil
}

// ---------------------------------------------------------------------
// The soak's own server.

// soakServer is a real `spacetime serve` child process.
type soakServer struct {
	cmd         *exec.Cmd
	dir         string
	base        string
	telemetry   string // host:port
	pid         int
	apiToken    string
	globalLimit int
	logFile     *os.File
	exited      chan struct{}
	waitErr     error
	stopOnce    sync.Once
	stopErr     error

	mu       sync.Mutex
	errLines int
	warnLine int
}

// writeSoakConfig writes the shipped configuration files into dir, with
// every rate limit of security_<env>.json multiplied by soakLimitScale:
// the policy is enforced on every request as shipped, with numbers that
// let the soak's few principals (and the anonymous loopback client) send
// the guide's 300 req/s. A positive global replaces the scaled global
// limit (bench http sets the largest the config allows). It returns the
// global limit per client.
func writeSoakConfig(dir, envName string, global int) (int, error) {
	entries, err := configfiles.FS.ReadDir(".")
	if err != nil {
		return 0, err
	}
	found := false
	for _, e := range entries {
		data, err := configfiles.FS.ReadFile(e.Name())
		if err != nil {
			return 0, err
		}
		if e.Name() == "security_"+envName+".json" {
			var sec map[string]json.RawMessage
			if err := json.Unmarshal(data, &sec); err != nil {
				return 0, fmt.Errorf("%s: %w", e.Name(), err)
			}
			var rl map[string]json.RawMessage
			if err := json.Unmarshal(sec["rate_limiting"], &rl); err != nil {
				return 0, fmt.Errorf("%s: rate_limiting: %w", e.Name(), err)
			}
			var g int
			var per map[string]int
			if err := json.Unmarshal(rl["global_requests_per_minute"], &g); err != nil {
				return 0, fmt.Errorf("%s: global_requests_per_minute: %w", e.Name(), err)
			}
			if err := json.Unmarshal(rl["per_endpoint_limits"], &per); err != nil {
				return 0, fmt.Errorf("%s: per_endpoint_limits: %w", e.Name(), err)
			}
			found = true
			if global <= 0 {
				global = g * soakLimitScale
			}
			for k, v := range per {
				per[k] = v * soakLimitScale // 0 (disabled) stays 0
			}
			rl["global_requests_per_minute"], _ = json.Marshal(global)
			rl["per_endpoint_limits"], _ = json.Marshal(per)
			sec["rate_limiting"], _ = json.Marshal(rl)
			if data, err = json.MarshalIndent(sec, "", "  "); err != nil {
				return 0, err
			}
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), data, 0o644); err != nil {
			return 0, err
		}
	}
	if !found {
		return 0, fmt.Errorf("no security_%s.json among the shipped config files", envName)
	}
	return global, nil
}

// startSoakServer starts `self serve` in envName on free loopback ports,
// with discovery off, a fresh directory for config, data and logs, and a
// random API_TOKEN, and returns once it listens. global is passed to
// writeSoakConfig.
func startSoakServer(ctx context.Context, self, envName string, global int) (*soakServer, error) {
	dir, err := os.MkdirTemp("", "spacetime-soak-")
	if err != nil {
		return nil, err
	}
	s := &soakServer{dir: dir, apiToken: "soak-" + rand.Text() + rand.Text(), exited: make(chan struct{})}
	cleanup := func(err error) (*soakServer, error) {
		if s.cmd != nil && s.cmd.Process != nil {
			_ = s.stop()
		}
		return nil, fmt.Errorf("%w (server files kept in %s)", err, dir)
	}
	for _, d := range []string{"config", "data", "logs"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			return cleanup(err)
		}
	}
	if s.globalLimit, err = writeSoakConfig(filepath.Join(dir, "config"), envName, global); err != nil {
		return cleanup(fmt.Errorf("write the server's config: %w", err))
	}
	if s.logFile, err = os.Create(filepath.Join(dir, "serve.log")); err != nil {
		return cleanup(err)
	}
	cmd := exec.Command(self, "serve", "--http-addr", "127.0.0.1:0", "--telemetry-addr", "127.0.0.1:0",
		"--discovery-addr", "off", "--config-dir", filepath.Join(dir, "config"),
		"--data-dir", filepath.Join(dir, "data"), "--log-dir", filepath.Join(dir, "logs"))
	cmd.Dir = dir
	cmd.Env = soakServerEnv(os.Environ(), envName, s.apiToken)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return cleanup(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		return cleanup(fmt.Errorf("start %s serve: %w", self, err))
	}
	s.cmd, s.pid = cmd, cmd.Process.Pid
	ready := make(chan [2]string, 1)
	go s.readLog(stderr, ready)
	go func() { s.waitErr = cmd.Wait(); _ = s.logFile.Close(); close(s.exited) }()
	select {
	case addrs := <-ready:
		s.base, s.telemetry = "http://"+addrs[0], addrs[1]
		return s, nil
	case <-s.exited:
		return cleanup(fmt.Errorf("serve exited before listening: %v; its log: %s", s.waitErr, filepath.Join(dir, "serve.log")))
	case <-time.After(60 * time.Second):
		return cleanup(errors.New("serve did not listen within 60 s"))
	case <-ctx.Done():
		return cleanup(ctx.Err())
	}
}

// soakServerEnv is the soak server's environment: the caller's, with the
// environment, API_TOKEN and logging set (database and Redis variables
// pass through, so DB_HOST and REDIS_HOST put the server on them).
func soakServerEnv(base []string, envName, token string) []string {
	out := make([]string, 0, len(base)+4)
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "GODOT_ENV", "API_TOKEN", "GODOT_LOG_LEVEL", "GODOT_ENABLE_HTTP_API":
			continue
		}
		out = append(out, kv)
	}
	return append(out, "GODOT_ENV="+envName, "API_TOKEN="+token, "GODOT_LOG_LEVEL=INFO", "GODOT_ENABLE_HTTP_API=true")
}

// readLog copies the server's log to serve.log, counts its error and
// warning lines, and reports the listening addresses once both are
// logged.
func (s *soakServer) readLog(r io.Reader, ready chan<- [2]string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var api, tel string
	sent := false
	for sc.Scan() {
		line := sc.Bytes()
		_, _ = s.logFile.Write(append(line, '\n'))
		switch {
		case bytes.Contains(line, []byte(`"level":"ERROR"`)) || bytes.Contains(line, []byte("level=ERROR")):
			s.mu.Lock()
			s.errLines++
			s.mu.Unlock()
		case bytes.Contains(line, []byte(`"level":"WARN"`)) || bytes.Contains(line, []byte("level=WARN")):
			s.mu.Lock()
			s.warnLine++
			s.mu.Unlock()
		}
		if sent {
			continue
		}
		if bytes.Contains(line, []byte("http api listening")) {
			api = logAddr(line)
		} else if bytes.Contains(line, []byte("telemetry listening")) {
			tel = logAddr(line)
		}
		if api != "" && tel != "" {
			ready <- [2]string{api, tel}
			sent = true
		}
	}
	_, _ = io.Copy(io.Discard, r)
}

// logAddr is the addr attribute of a log line, JSON or text.
func logAddr(line []byte) string {
	var m struct {
		Addr string `json:"addr"`
	}
	if json.Unmarshal(line, &m) == nil && m.Addr != "" {
		return m.Addr
	}
	for _, f := range strings.Fields(string(line)) {
		if v, ok := strings.CutPrefix(f, "addr="); ok {
			return v
		}
	}
	return ""
}

func (s *soakServer) logCounts() (errs, warns int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.errLines, s.warnLine
}

// stop sends SIGINT and waits up to 30 s for a clean exit, then kills.
// It returns how the process ended when that was not a clean exit.
func (s *soakServer) stop() error {
	s.stopOnce.Do(func() {
		_ = s.cmd.Process.Signal(os.Interrupt)
		select {
		case <-s.exited:
			s.stopErr = s.waitErr
		case <-time.After(30 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.exited
			s.stopErr = errors.New("did not stop within 30 s of SIGINT; killed")
		}
	})
	return s.stopErr
}
