package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime/internal/config"
)

// soakMinutes is the length of TestSoak: SPACETIME_SOAK_MINUTES, default 1.
func soakMinutes(t *testing.T) float64 {
	t.Helper()
	v := os.Getenv("SPACETIME_SOAK_MINUTES")
	if v == "" {
		return 1
	}
	m, err := strconv.ParseFloat(v, 64)
	if err != nil || !(m > 0) {
		t.Fatalf("SPACETIME_SOAK_MINUTES=%q: want a positive number of minutes", v)
	}
	return m
}

// The guide's KPIs under its maximum traffic (issue 8): `spacetime bench
// soak` runs as a real process and starts a real `spacetime serve` (staging,
// real authentication, limits, audit log in SQLite); the test reads its
// --json report and checks the verdict and the numbers behind it.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("a soak of SPACETIME_SOAK_MINUTES (default 1) minutes; run without -short")
	}
	minutes := soakMinutes(t)
	bin := sharedBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(minutes*float64(time.Minute))+5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "bench", "soak", "--minutes", strconv.FormatFloat(minutes, 'f', -1, 64), "--json")
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) } // the soak then stops its server
	cmd.WaitDelay = time.Minute
	cmd.Dir = t.TempDir()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()

	var rep soakReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("bench soak: %v; no JSON report (%v)\nstdout: %s\nstderr: %s", runErr, err, stdout.Bytes(), stderr.Bytes())
	}
	var ee *exec.ExitError
	switch {
	case rep.Pass && runErr != nil:
		t.Errorf("the report passes but the command failed: %v\n%s", runErr, stderr.Bytes())
	case !rep.Pass && !(errors.As(runErr, &ee) && ee.ExitCode() == 1):
		t.Errorf("the report fails but the command ended with %v, want exit status 1", runErr)
	}
	if !rep.Pass {
		t.Errorf("soak failed: %s (server files: %s)", strings.Join(rep.Failures, "; "), rep.Server.Dir)
	}
	if strings.Contains(stderr.String(), "failed") != !rep.Pass {
		t.Errorf("stderr %q does not match the verdict", stderr.String())
	}

	// The run: the full length at the full rate, every request answered.
	seconds := minutes * 60
	if want := int(math.Round(300 * seconds)); rep.API.Sent != want || rep.API.Answered != want {
		t.Errorf("sent %d, answered %d requests; want %d each (300 req/s for %.0f s)", rep.API.Sent, rep.API.Answered, want, seconds)
	}
	if rep.Seconds < seconds {
		t.Errorf("traffic lasted %.1f s, want at least %.0f", rep.Seconds, seconds)
	}
	if !rep.Server.Own || rep.Server.Environment != "staging" || rep.Server.PID == 0 {
		t.Errorf("server %+v, want the soak's own staging server", rep.Server)
	}

	// The verdict's numbers.
	if rep.API.P50Ms <= 0 || rep.API.P50Ms > 100 || rep.API.P95Ms > 500 || rep.API.P95Ms < rep.API.P50Ms {
		t.Errorf("API p50 %.2f ms, p95 %.2f ms; want 0 < p50 ≤ 100 and p50 ≤ p95 ≤ 500", rep.API.P50Ms, rep.API.P95Ms)
	}
	if rep.API.Status5xx != 0 || rep.API.TransportErrors != 0 || rep.API.Unexpected != 0 {
		t.Errorf("%d 5xx, %d transport errors, %d unexpected statuses, want none: %v",
			rep.API.Status5xx, rep.API.TransportErrors, rep.API.Unexpected, rep.API.Examples)
	}
	// Every kind of the mix ran and got exactly its status; refusals
	// of each kind were among them.
	kinds := soakKinds()
	for _, k := range kinds {
		s := rep.API.ByKind[k.name]
		if s == nil || s.Count == 0 {
			t.Errorf("no %s request in the report", k.name)
			continue
		}
		if got := s.ByStatus[strconv.Itoa(k.want)]; got != s.Count {
			t.Errorf("%s: %v, want all %d answered %d", k.name, s.ByStatus, s.Count, k.want)
		}
	}
	if rep.Refusals.Sent < int(0.15*float64(rep.API.Sent)) || rep.Refusals.Right != rep.Refusals.Sent || rep.Refusals.Wrong != 0 {
		t.Errorf("refusals %+v, want about 16%% of %d requests, all with the right status", rep.Refusals, rep.API.Sent)
	}
	if rep.FPS.Samples < int(5*seconds) || rep.FPS.Avg < 89 || rep.FPS.LongestLowSecs > 1 || rep.FPS.Min <= 0 {
		t.Errorf("fps %+v: want perf samples at 10 Hz, an average of at least 89 and never under 85 for more than 1 s", rep.FPS)
	}
	m := rep.Memory
	if !strings.HasPrefix(m.Source, "/proc/") || m.StartMB <= 0 || m.MaxMB < m.EndMB || m.SlopeMBPerMin > m.LimitMBPerMin {
		t.Errorf("memory %+v: want /proc samples and a slope within the limit", m)
	}
	if n := len(rep.Series.T); n < int(seconds)-2 || len(rep.Series.RSSMB) != n || len(rep.Series.FPS) != n {
		t.Errorf("series of %d/%d/%d samples, want about one a second for %.0f s", n, len(rep.Series.RSSMB), len(rep.Series.FPS), seconds)
	}
	tel := rep.Telemetry
	if tel.Subscribers != 100 || tel.Connected != 100 || tel.Disconnects != 0 || tel.PerfFrames == 0 || tel.PlayerFrames == 0 || tel.DeliveredRatio < 0.99 {
		t.Errorf("telemetry %+v: want 100 subscribers connected throughout, receiving perf and player frames", tel)
	}
	// The audit log holds one record per answered request, each with the
	// status the client saw; setup requests count too.
	a := rep.Audit
	if a.Requests <= rep.API.Sent || a.Records != a.Requests || a.Missing+a.Duplicates+a.Unknown+a.StatusMismatch != 0 {
		t.Errorf("audit %+v: want one record per answered request (%d traffic + setup)", a, rep.API.Sent)
	}
	if rep.Server.ExitError != "" || rep.Server.LogErrors != 0 {
		t.Errorf("server ended with %q and logged %d errors, want a clean run", rep.Server.ExitError, rep.Server.LogErrors)
	}
	t.Logf("soak %.0f s: p50 %.2f ms, p95 %.2f ms, p99 %.2f ms; fps avg %.2f min %.1f; rss %.1f→%.1f MB, slope %+.2f MB/min; server CPU %.0f%%; %d frames (%.2f%%); %d audit records",
		rep.Seconds, rep.API.P50Ms, rep.API.P95Ms, rep.API.P99Ms, rep.FPS.Avg, rep.FPS.Min, m.StartMB, m.EndMB, m.SlopeMBPerMin,
		rep.Server.CPUPercent, tel.Frames, 100*tel.DeliveredRatio, a.Records)
}

// Each failure condition of the soak fails the verdict, with its reason.
func TestSoakJudge(t *testing.T) {
	opts := soakOptions{MinFPS: 85, MaxLowFPS: 1, MinAvgFPS: 89, MaxP50Ms: 100, MaxP95Ms: 500, MaxSlopeMBMin: 1, MinDelivered: 0.99}
	good := func() soakReport {
		return soakReport{
			API:       soakAPI{Sent: 100, Answered: 100, P50Ms: 2, P95Ms: 5},
			Refusals:  soakRefusals{Sent: 16, Right: 16},
			FPS:       soakFPS{Samples: 100, Avg: 90, Min: 88},
			Memory:    soakMemory{SlopeMBPerMin: 0.2, LimitMBPerMin: 1},
			Telemetry: soakTelem{Subscribers: 100, Connected: 100, DeliveredRatio: 1},
			Audit:     soakAudit{Requests: 110, Records: 110},
		}
	}
	tests := []struct {
		name   string
		change func(*soakReport)
		want   string // in the failure
	}{
		{"passes", func(*soakReport) {}, ""},
		{"low fps stretch", func(r *soakReport) { r.FPS.LongestLowSecs = 1.2 }, "under 85 fps for 1.2 s"},
		{"low fps average", func(r *soakReport) { r.FPS.Avg = 88.9 }, "average engine rate 88.90"},
		{"no perf frames", func(r *soakReport) { r.FPS = soakFPS{} }, "no perf frame"},
		{"slow median", func(r *soakReport) { r.API.P50Ms = 101 }, "p50 101.0 ms"},
		{"slow p95", func(r *soakReport) { r.API.P95Ms = 501 }, "p95 501.0 ms"},
		{"5xx", func(r *soakReport) { r.API.Status5xx = 1 }, "1 answers with a 5xx"},
		{"no answer", func(r *soakReport) { r.API.TransportErrors = 2; r.API.LastError = "EOF" }, "2 requests got no answer (last: EOF)"},
		{"wrong refusal", func(r *soakReport) { r.Refusals.Wrong, r.API.Unexpected = 1, 1 }, "1 of 16 requests that must be refused"},
		{"refused success", func(r *soakReport) { r.API.Unexpected = 3 }, "3 requests that must succeed"},
		{"memory trend", func(r *soakReport) { r.Memory.SlopeMBPerMin = 1.5 }, "grows 1.50 MB/min"},
		{"audit count", func(r *soakReport) { r.Audit.Records = 109 }, "109 records for 110"},
		{"audit status", func(r *soakReport) { r.Audit.StatusMismatch = 1 }, "1 with another status"},
		{"subscriber lost", func(r *soakReport) { r.Telemetry.Disconnects = 1 }, "1 telemetry subscribers lost"},
		{"frames lost", func(r *soakReport) { r.Telemetry.DeliveredRatio = 0.98 }, "98.00% of the frames"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := good()
			tt.change(&r)
			r.judge(opts)
			if tt.want == "" {
				if !r.Pass || len(r.Failures) != 0 {
					t.Fatalf("verdict %v %q, want a pass", r.Pass, r.Failures)
				}
				return
			}
			if r.Pass || len(r.Failures) != 1 || !strings.Contains(r.Failures[0], tt.want) {
				t.Fatalf("verdict %v %q, want one failure containing %q", r.Pass, r.Failures, tt.want)
			}
		})
	}
}

// The mix holds its shares exactly in every cycle, and the scene load and
// reload come once each, half a cycle apart.
func TestSoakSchedule(t *testing.T) {
	kinds := soakKinds()
	sum := 0
	for _, k := range kinds {
		sum += k.perMil
	}
	if sum != 1000 {
		t.Fatalf("shares add up to %d per mille, want 1000", sum)
	}
	for _, rate := range []float64{300, 37, 1} {
		sched := soakSchedule(kinds, rate)
		if want := max(int(math.Round(rate*soakCycleSeconds)), 2); len(sched) != want {
			t.Fatalf("rate %v: cycle of %d, want %d", rate, len(sched), want)
		}
		count := make([]int, len(kinds))
		where := map[string][]int{}
		for i, k := range sched {
			count[k]++
			where[kinds[k].name] = append(where[kinds[k].name], i)
		}
		if got := where["scene_load"]; len(got) != 1 {
			t.Errorf("rate %v: scene_load at %v, want once", rate, got)
		}
		if got := where["scene_reload"]; len(got) != 1 || len(where["scene_load"]) == 1 && got[0]-where["scene_load"][0] != len(sched)*8/10-len(sched)*3/10 {
			t.Errorf("rate %v: scene_reload at %v, load at %v, want once, half a cycle later", rate, got, where["scene_load"])
		}
		if rate != 300 {
			continue
		}
		for i, k := range kinds {
			if k.perMil == 0 {
				continue
			}
			// At 300 req/s a cycle has 3000 slots: 3 per mille each, less
			// the two slots the load and reload took.
			if want := 3 * k.perMil; count[i] < want-2 || count[i] > want {
				t.Errorf("%s: %d per cycle, want %d", k.name, count[i], want)
			}
		}
	}
}

// The soak's server config is the shipped one with every limit scaled; it
// loads as the server loads it.
func TestSoakConfig(t *testing.T) {
	for _, env := range []string{"staging", "production"} {
		dir := t.TempDir()
		global, err := writeSoakConfig(dir, env, 0)
		if err != nil {
			t.Fatal(err)
		}
		vars := map[string]string{"GODOT_ENV": env, "API_TOKEN": "soak-config-test-0123456789abcdefghijklmn"}
		c, err := config.Load(config.Options{Getenv: func(k string) string { return vars[k] }, Flags: config.Flags{ConfigDir: dir}})
		if err != nil {
			t.Fatalf("%s: %v", env, err)
		}
		shipped, err := config.Load(config.Options{Getenv: func(k string) string { return vars[k] }})
		if err != nil {
			t.Fatal(err)
		}
		got, want := c.Security.RateLimiting, shipped.Security.RateLimiting
		if got.GlobalRequestsPerMinute != global || global != soakLimitScale*want.GlobalRequestsPerMinute {
			t.Errorf("%s: global %d (reported %d), want %d×%d", env, got.GlobalRequestsPerMinute, global, soakLimitScale, want.GlobalRequestsPerMinute)
		}
		if len(got.PerEndpointLimits) != len(want.PerEndpointLimits) {
			t.Errorf("%s: %d endpoint limits, want %d", env, len(got.PerEndpointLimits), len(want.PerEndpointLimits))
		}
		for k, v := range want.PerEndpointLimits {
			if got.PerEndpointLimits[k] != soakLimitScale*v {
				t.Errorf("%s: %s limit %d, want %d×%d", env, k, got.PerEndpointLimits[k], soakLimitScale, v)
			}
		}
		if got.BurstMultiplier != want.BurstMultiplier || got.BanDurationMinutes != want.BanDurationMinutes || !got.Enabled {
			t.Errorf("%s: %+v, want the shipped burst and bans, enabled", env, got)
		}
	}
}

// The slope limit: 1 MB/min, or 5 MB over a last half shorter than 5
// minutes.
func TestSoakSlopeLimit(t *testing.T) {
	for _, tt := range []struct{ seconds, want float64 }{{60, 10}, {120, 5}, {300, 2}, {360, 5.0 / 3}, {600, 1}, {3600, 1}} {
		if got := soakSlopeLimit(tt.seconds); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("soakSlopeLimit(%v) = %v, want %v", tt.seconds, got, tt.want)
		}
	}
	if got := slope([]float64{0, 1, 2, 3}, []float64{10, 12, 14, 16}); math.Abs(got-2) > 1e-9 {
		t.Errorf("slope of a line of slope 2 = %v", got)
	}
}

// Bad flags are usage errors that name the flag, before anything starts.
func TestSoakFlags(t *testing.T) {
	for _, tt := range []struct {
		args []string
		vars map[string]string
		want string
	}{
		{[]string{"--minutes", "0"}, nil, "--minutes must be above 0"},
		{[]string{"--rate", "0.5"}, nil, "--rate must be from 1"},
		{[]string{"--subscribers", "0"}, nil, "--subscribers must be from 1"},
		{[]string{"--env", "development"}, nil, "--env must be staging or production"},
		{[]string{"--telemetry-url", "ws://127.0.0.1:1"}, nil, "--telemetry-url needs --url"},
		{[]string{"--url", "127.0.0.1:8080"}, map[string]string{"API_TOKEN": "x"}, "--url must be http(s)://HOST:PORT"},
		{[]string{"--url", "http://127.0.0.1:8080"}, nil, "needs the server's admin API_TOKEN"},
	} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), append([]string{"bench", "soak"}, tt.args...),
			func(k string) string { return tt.vars[k] }, strings.NewReader(""), &stdout, &stderr)
		if !errors.Is(err, errUsage) || !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("bench soak %v: %v, stderr %q; want a usage error saying %q", tt.args, err, stderr.String(), tt.want)
		}
	}
}

// logAddr reads the listening address from serve's JSON and text logs.
func TestSoakLogAddr(t *testing.T) {
	for line, want := range map[string]string{
		`{"time":"x","level":"INFO","msg":"http api listening","addr":"127.0.0.1:4242","tls":false}`: "127.0.0.1:4242",
		`time=x level=INFO msg="telemetry listening" addr=127.0.0.1:4343`:                            "127.0.0.1:4343",
		`{"msg":"http api listening"}`: "",
	} {
		if got := logAddr([]byte(line)); got != want {
			t.Errorf("logAddr(%s) = %q, want %q", line, got, want)
		}
	}
	if got := fmt.Sprint(soakServerEnv([]string{"PATH=/bin", "API_TOKEN=old", "GODOT_ENV=test", "DB_HOST=db"}, "staging", "tok")); got !=
		"[PATH=/bin DB_HOST=db GODOT_ENV=staging API_TOKEN=tok GODOT_LOG_LEVEL=INFO GODOT_ENABLE_HTTP_API=true]" {
		t.Errorf("soakServerEnv = %s", got)
	}
}

// parseWrk reads wrk --latency's report.
func TestBenchParseWrk(t *testing.T) {
	out := `Running 2s test @ http://127.0.0.1:1/state/player
  2 threads and 64 connections
  Latency Distribution
     50%  812.00us
     75%    1.20ms
     99%    1.95ms
  40000 requests in 2.00s, 20.00MB read
  Socket errors: connect 0, read 2, write 1, timeout 0
  Non-2xx or 3xx responses: 7
Requests/sec:  20000.50
Transfer/sec:     10.00MB
`
	got, err := parseWrk(out)
	if err != nil {
		t.Fatal(err)
	}
	want := wrkResult{rps: 20000.5, p50Ms: 0.812, p99Ms: 1.95, non2xx: 7, socketErrs: 3}
	if math.Abs(got.p50Ms-want.p50Ms) > 1e-9 || got.rps != want.rps || got.p99Ms != want.p99Ms || got.non2xx != want.non2xx || got.socketErrs != want.socketErrs {
		t.Errorf("parseWrk = %+v, want %+v", got, want)
	}
	if _, err := parseWrk("unable to connect to 127.0.0.1:1 Connection refused\n"); err == nil {
		t.Error("a report without Requests/sec parsed")
	}
	if v, err := wrkDurationMs("1.50s"); err != nil || v != 1500 {
		t.Errorf("wrkDurationMs(1.50s) = %v, %v", v, err)
	}
}

// parseGoBench reads go test -bench output; ratios relate siblings to bare.
func TestBenchParseGoBench(t *testing.T) {
	out := `goos: linux
pkg: example.com/a
BenchmarkStatePlayer/stack-2   	  100000	      9300 ns/op	    2000 B/op	      28 allocs/op	 107000 req/s
BenchmarkStatePlayer/bare-2    	  300000	      3100 ns/op	     900 B/op	      13 allocs/op
some log line from a benchmark
PASS
pkg: example.com/b
BenchmarkKernel 	     100	  40900000 ns/op
`
	list, err := parseGoBench(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 || list[0].Package != "example.com/a" || list[0].Name != "BenchmarkStatePlayer/stack" || list[0].Procs != 2 ||
		list[0].Metrics["req/s"] != 107000 || list[2].Package != "example.com/b" || list[2].Procs != 1 || list[2].Metrics["ns/op"] != 40900000 {
		t.Fatalf("parseGoBench = %+v", list)
	}
	r := goBenchRatios(list)
	if len(r) != 1 || r[0].Name != "BenchmarkStatePlayer/stack" || r[0].Ratio != 3 {
		t.Errorf("goBenchRatios = %+v, want stack at 3× bare", r)
	}
}
