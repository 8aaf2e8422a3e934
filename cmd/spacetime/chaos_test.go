package main

// Fault scenarios of issue 8 against a real serve (in-process through
// run, real engine, API, security and telemetry): a flood from one client,
// and thousands of idle or half-open connections on both ports.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	configfiles "github.com/spacetime-vr/spacetime/config"
	"github.com/spacetime-vr/spacetime/internal/ratelimit"
	"github.com/spacetime-vr/spacetime/internal/telemetry"
)

// chaosAnswer is the outcome of one request sent from a goroutine.
type chaosAnswer struct {
	status     int
	code       string // the problem code of an error chaosAnswer
	retryAfter string
	took       time.Duration
	body       []byte
	err        error
}

// chaosHit sends one request with a bearer token ("" sends none); no
// *testing.T, as it runs on goroutines of the test's own.
func chaosHit(c *http.Client, base, tok, method, path string) chaosAnswer {
	req, err := http.NewRequest(method, base+path, nil)
	if err != nil {
		return chaosAnswer{err: err}
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return chaosAnswer{err: err, took: time.Since(start)}
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	a := chaosAnswer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), took: time.Since(start), body: body, err: err}
	if a.status >= 400 {
		var p problem
		if json.Unmarshal(body, &p) == nil {
			a.code = p.Code
		}
	}
	return a
}

// fpsOf reads the fps of a /performance/metrics chaosAnswer.
func fpsOf(a chaosAnswer) (float64, bool) {
	var m struct {
		FPS *float64 `json:"fps"`
	}
	if a.status != 200 || json.Unmarshal(a.body, &m) != nil || m.FPS == nil {
		return 0, false
	}
	return *m.FPS, true
}

// durQuantile returns the q-quantile (0..1) of ds (0 for none).
func durQuantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

// perfWatch is a telemetry subscriber (perf and player) that records the
// engine's fps from the perf topic and the largest gap between frames.
type perfWatch struct {
	c      *telemetry.Client
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	frames int
	fps    []fpsSample
	last   time.Time
	maxGap time.Duration
	err    error
}

// watchPerf subscribes to perf and player at 30 Hz on the telemetry port
// with token until stop.
func watchPerf(t *testing.T, addr, token string) *perfWatch {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c, err := telemetry.Dial(ctx, "ws://"+addr+"/telemetry", token, []string{"perf", "player"}, 30)
	if err != nil {
		cancel()
		t.Fatalf("telemetry subscriber: %v", err)
	}
	w := &perfWatch{c: c, cancel: cancel, done: make(chan struct{}), last: time.Now()}
	go func() {
		defer close(w.done)
		for {
			m, err := c.Next(ctx)
			now := time.Now()
			w.mu.Lock()
			if err != nil {
				if ctx.Err() == nil {
					w.err = err
				}
				w.mu.Unlock()
				return
			}
			w.frames++
			w.maxGap = max(w.maxGap, now.Sub(w.last))
			w.last = now
			if m.Type == "event" && m.Event == "perf" {
				var p struct {
					FPS float64 `json:"fps"`
				}
				if json.Unmarshal(m.Data, &p) == nil {
					w.fps = append(w.fps, fpsSample{now, p.FPS})
				}
			}
			w.mu.Unlock()
		}
	}()
	t.Cleanup(func() { w.stop() })
	return w
}

// perfSamples returns how many perf samples have come so far.
func (w *perfWatch) perfSamples() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.fps)
}

// perfFigures are what a perfWatch saw.
type perfFigures struct {
	frames  int
	fps     fpsFigures
	samples []fpsSample
	maxGap  time.Duration
	err     error
}

// between summarises the fps samples taken in [from, to).
func (p perfFigures) between(from, to time.Time) fpsFigures {
	return fpsOfSamples(slices.DeleteFunc(slices.Clone(p.samples), func(s fpsSample) bool {
		return s.at.Before(from) || !s.at.Before(to)
	}))
}

// stop ends the subscription (idempotent) and returns its figures.
func (w *perfWatch) stop() perfFigures {
	w.cancel()
	<-w.done
	_ = w.c.Close()
	w.mu.Lock()
	defer w.mu.Unlock()
	return perfFigures{frames: w.frames, fps: fpsOfSamples(w.fps), samples: slices.Clone(w.fps), maxGap: w.maxGap, err: w.err}
}

// fpsSample is the engine's rate (ticks over the last sliding second) as
// seen at a time.
type fpsSample struct {
	at  time.Time
	fps float64
}

// fpsFigures summarise fps samples.
type fpsFigures struct {
	n              int
	min, mean, max float64
	longestLow     time.Duration // the longest stretch under engineMinFPS
	lowSamples     int
	sampledRange   time.Duration
}

func (f fpsFigures) String() string {
	return fmt.Sprintf("%d samples over %v: min %.1f mean %.1f max %.1f, %d under %d, longest stretch under %d %v",
		f.n, f.sampledRange.Round(time.Millisecond), f.min, f.mean, f.max, f.lowSamples, engineMinFPS, engineMinFPS, f.longestLow.Round(time.Millisecond))
}

// ok is the guide's rule for the engine's rate: never under engineMinFPS
// for more than a second (each sample already averages a second).
func (f fpsFigures) ok() bool { return f.n > 0 && f.longestLow <= time.Second }

// fpsOfSamples summarises samples in time order. A stretch under the
// floor lasts from its first low sample to the next sample at or above it
// (or the last sample).
func fpsOfSamples(samples []fpsSample) fpsFigures {
	f := fpsFigures{n: len(samples)}
	if len(samples) == 0 {
		return f
	}
	f.min, f.max = samples[0].fps, samples[0].fps
	f.sampledRange = samples[len(samples)-1].at.Sub(samples[0].at)
	var lowSince time.Time
	for _, s := range samples {
		f.min, f.max = min(f.min, s.fps), max(f.max, s.fps)
		f.mean += s.fps
		if s.fps < engineMinFPS {
			f.lowSamples++
			if lowSince.IsZero() {
				lowSince = s.at
			}
			f.longestLow = max(f.longestLow, s.at.Sub(lowSince))
			continue
		}
		if !lowSince.IsZero() {
			f.longestLow = max(f.longestLow, s.at.Sub(lowSince))
			lowSince = time.Time{}
		}
	}
	f.mean /= float64(len(samples))
	return f
}

// chaosScene is the scene the chaos tests run: light enough for the
// engine to keep 90 Hz under the race detector, which the sample scene's
// 20,000 particles do not even on an idle machine; the load comes from
// the clients.
const chaosScene = "res://tests/integration/relativity.tscn"

// cpuShare measures, from its start, the CPU the rest of the machine
// used (Linux /proc/stat less this process's /proc/self/stat): other
// programs on the same cores, which no scheduling inside the process can
// out-run. The engine's rate and latency bounds are judged only when the
// machine was this process's.
type cpuShare struct {
	start       time.Time
	busy0, own0 int64 // clock ticks
	ok          bool
}

// maxOtherCPU is how much CPU other programs may use, in cores on
// average, for the timing to be judged.
const maxOtherCPU = 0.25

// clockTick is USER_HZ, the unit of /proc/stat and /proc/self/stat.
const clockTick = 100

func startCPUShare() cpuShare {
	busy, own, ok := cpuTicks()
	return cpuShare{start: time.Now(), busy0: busy, own0: own, ok: ok}
}

// others returns the CPU other programs used since start and this
// process's own, in cores (false where /proc cannot be read).
func (c cpuShare) others() (others, own float64, ok bool) {
	busy, mine, ok := cpuTicks()
	if !ok || !c.ok {
		return 0, 0, false
	}
	secs := time.Since(c.start).Seconds() * clockTick
	return max(0, float64(busy-c.busy0-(mine-c.own0))) / secs, float64(mine-c.own0) / secs, true
}

// cpuTicks reads the machine's busy time and this process's CPU time.
func cpuTicks() (busy, own int64, ok bool) {
	stat := strings.Fields(strings.SplitN(readProcFile("/proc/stat"), "\n", 2)[0])
	if len(stat) < 9 || stat[0] != "cpu" {
		return 0, 0, false
	}
	for i, v := range stat[1:9] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		var n int64
		fmt.Sscan(v, &n)
		busy += n
	}
	self := readProcFile("/proc/self/stat")
	fields := strings.Fields(self[strings.LastIndexByte(self, ')')+1:])
	if len(fields) < 13 {
		return 0, 0, false
	}
	var ut, st int64
	fmt.Sscan(fields[11], &ut) // utime, field 14 of proc(5)
	fmt.Sscan(fields[12], &st) // stime
	return busy, ut + st, true
}

// machineRanUs logs the CPU used by this process and by the rest of the
// machine since share started, and reports whether timing verdicts (the
// engine's rate, latency bounds) apply: only when the rest of the machine
// left the cores to this process; else the figures are logged as no
// verdict.
func machineRanUs(t *testing.T, share cpuShare) bool {
	t.Helper()
	others, own, known := share.others()
	load := strings.Fields(readProcFile("/proc/loadavg"))
	t.Logf("CPU: this process %.2f cores, the rest of the machine %.2f cores on average (%d CPUs, load average %s)",
		own, others, runtime.NumCPU(), strings.Join(load[:min(3, len(load))], " "))
	if known && others > maxOtherCPU {
		t.Logf("timing NOT judged: other programs used %.2f cores (> %.2f) of this machine meanwhile; the rate and latency figures are not a verdict", others, maxOtherCPU)
		return false
	}
	return true
}

func readProcFile(name string) string {
	data, _ := os.ReadFile(name)
	return string(data)
}

// saneLatency bounds a normal request and the wait for a telemetry frame
// when timing is judged: far above any healthy chaosAnswer (single-digit
// milliseconds), so only a starved server shows here.
const saneLatency = 2 * time.Second

// maxSaneFPS bounds the fps the engine may report: it never ticks faster
// than its 90 Hz, give or take a catch-up tick.
const maxSaneFPS = 100

// judgeFPS logs each named set of fps samples, checks that none is
// beyond maxSaneFPS and, when judge is true, asserts the guide's rule on
// it.
func judgeFPS(t *testing.T, judge bool, sets map[string]fpsFigures) {
	t.Helper()
	names := slices.Sorted(maps.Keys(sets))
	for _, name := range names {
		t.Logf("engine fps, %s: %v", name, sets[name])
		if f := sets[name]; f.max > maxSaneFPS {
			t.Errorf("engine fps, %s: a sample of %.1f fps, beyond what a 90 Hz loop can do (> %d)", name, f.max, maxSaneFPS)
		}
	}
	for _, name := range names {
		if f := sets[name]; judge && !f.ok() {
			t.Errorf("engine fps, %s: under %d for more than a second, or not sampled: %v", name, engineMinFPS, f)
		}
	}
}

// engineMinFPS is the guide's floor for the engine's rate ("fps never
// under 85").
const engineMinFPS = 85

// productionRateLimits returns the rate_limiting objects of the shipped
// production files: security_production.json's and production.json's
// (ban_after_violations).
func productionRateLimits(t *testing.T) (sec, env map[string]any) {
	t.Helper()
	read := func(name string) map[string]any {
		data, err := configfiles.FS.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return doc
	}
	return obj(read("security_production.json"), "rate_limiting"), obj(read("production.json"), "security", "rate_limiting")
}

// One principal floods the API from many goroutines far beyond its
// limits, under production's rate-limit and ban rules: it is banned (429
// banned, listed by GET /admin/bans) and never gets more than its bucket,
// while other principals making normal requests at the same time get
// only 2xx and the engine keeps its rate.
func TestChaosFloodFromOneClientIsBanned(t *testing.T) {
	prodSec, prodEnv := productionRateLimits(t)
	banAfter := int(prodEnv["ban_after_violations"].(float64))
	global := int(prodSec["global_requests_per_minute"].(float64))
	burst := prodSec["burst_multiplier"].(float64)
	banMinutes := int(prodSec["ban_duration_minutes"].(float64))
	cfgDir := writeConfigDir(t, map[string]func(map[string]any){
		"test.json": func(d map[string]any) {
			obj(d, "security", "rate_limiting")["ban_after_violations"] = banAfter
		},
		"security_test.json": func(d map[string]any) {
			rl := maps.Clone(prodSec)
			// The test's admin mints four keys and reads the bans; the
			// production /admin limit (5 a minute) is not under test.
			limits := maps.Clone(prodSec["per_endpoint_limits"].(map[string]any))
			limits["/admin"] = 60
			rl["per_endpoint_limits"] = limits
			d["rate_limiting"] = rl
		},
	})
	s := startServe(t, map[string]string{"GODOT_ENV": "test"}, "--config-dir", cfgDir, "--scene", chaosScene)

	floodKey, floodID := s.mint("flooder", "readonly")
	readerKey, _ := s.mint("reader", "readonly")
	devKey, _ := s.mint("dev", "developer")
	watchKey, _ := s.mint("watcher", "readonly")
	floodTok, readerTok, devTok := s.login(floodKey).AccessToken, s.login(readerKey).AccessToken, s.login(devKey).AccessToken
	watch := watchPerf(t, s.telemetry, s.login(watchKey).AccessToken)

	// The flood: many goroutines on connections of their own, as fast as
	// they are answered.
	const flooders = 24
	floodTr := &http.Transport{MaxIdleConnsPerHost: flooders}
	defer floodTr.CloseIdleConnections()
	floodClient := &http.Client{Transport: floodTr, Timeout: 30 * time.Second}
	var (
		stopFlood  = make(chan struct{})
		floodWG    sync.WaitGroup
		floodMu    sync.Mutex
		floodCount = map[string]int{} // "200", "429 rate_limited", "429 banned", "error ..."
		firstBan   chaosAnswer
		bannedAt   time.Time
	)
	// The engine's rate before the flood, for comparison: 45 perf samples
	// (1.5 s at 30 Hz).
	baseline := time.Now()
	for end := baseline.Add(10 * time.Second); watch.perfSamples() < 45 && time.Now().Before(end); {
		time.Sleep(20 * time.Millisecond)
	}
	floodStart := time.Now()
	cpu := startCPUShare()
	for range flooders {
		floodWG.Go(func() {
			for {
				select {
				case <-stopFlood:
					return
				default:
				}
				a := chaosHit(floodClient, s.base, floodTok, "GET", "/state/player")
				key := fmt.Sprint(a.status)
				if a.code != "" {
					key += " " + a.code
				}
				if a.err != nil {
					key = "error " + a.err.Error()
				}
				floodMu.Lock()
				floodCount[key]++
				if a.code == "banned" && bannedAt.IsZero() {
					firstBan, bannedAt = a, time.Now()
				}
				floodMu.Unlock()
			}
		})
	}

	// Normal principals at a normal pace (4 requests a second each,
	// under production's sustained 5 and the per-route limits), each on
	// connections of its own, during the flood and after it. The
	// developer's /performance/metrics gives the engine's fps.
	type normalResult struct {
		who   string
		paths []string
		tok   string
		bad   []string
		lat   []time.Duration
		fps   []fpsSample // during the flood
		late  []fpsSample // after it
	}
	var (
		stopNormal  = make(chan struct{})
		floodOver   atomic.Bool
		lateSamples atomic.Int64
		normalWG    sync.WaitGroup
		normals     = []*normalResult{
			{who: "reader (readonly)", tok: readerTok, paths: []string{"/state/player", "/state/scene", "/status", "/state/vr"}},
			{who: "dev (developer)", tok: devTok, paths: []string{"/performance/metrics", "/state/player", "/performance/metrics", "/status"}},
			// Same address as the flooder: the ban is the principal's,
			// not the IP's.
			{who: "anonymous (same IP)", paths: []string{"/health", "/status"}},
		}
	)
	for _, r := range normals {
		normalWG.Go(func() {
			tr := &http.Transport{}
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr, Timeout: 30 * time.Second}
			tick := time.NewTicker(250 * time.Millisecond)
			defer tick.Stop()
			for k := 0; ; k++ {
				select {
				case <-stopNormal:
					return
				case <-tick.C:
				}
				path := r.paths[k%len(r.paths)]
				a := chaosHit(c, s.base, r.tok, "GET", path)
				r.lat = append(r.lat, a.took)
				if a.err != nil || a.status < 200 || a.status > 299 {
					r.bad = append(r.bad, fmt.Sprintf("GET %s = %d %s %v", path, a.status, a.code, a.err))
					continue
				}
				if fps, ok := fpsOf(a); ok {
					smp := fpsSample{time.Now(), fps}
					if floodOver.Load() {
						r.late = append(r.late, smp)
						lateSamples.Add(1)
					} else {
						r.fps = append(r.fps, smp)
					}
				}
			}
		})
	}

	// Flood until the ban, then on for a while: the banned flood must not
	// hurt the others either.
	deadline := time.Now().Add(15 * time.Second)
	for {
		floodMu.Lock()
		at := bannedAt
		floodMu.Unlock()
		if !at.IsZero() && time.Since(at) > 3*time.Second || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	close(stopFlood)
	floodWG.Wait()
	floodEnd := time.Now()
	floodElapsed := floodEnd.Sub(floodStart)
	floodOver.Store(true)
	// After the flood: the others go on until the developer has taken a
	// few seconds of fps samples more.
	afterDeadline := time.Now().Add(10 * time.Second)
	for lateSamples.Load() < 6 && time.Now().Before(afterDeadline) {
		time.Sleep(50 * time.Millisecond)
	}
	close(stopNormal)
	normalWG.Wait()
	perf := watch.stop()

	// The flooder: banned, with production's rule and duration, and never
	// served beyond its bucket.
	total := 0
	for _, n := range floodCount {
		total += n
	}
	t.Logf("flood: %d requests from %d goroutines in %v (%.0f req/s, limit %d/min): %v", total, flooders,
		floodElapsed.Round(time.Millisecond), float64(total)/floodElapsed.Seconds(), global, floodCount)
	if bannedAt.IsZero() {
		t.Fatalf("the flooder was never banned: %v", floodCount)
	}
	t.Logf("banned %v after the flood started", bannedAt.Sub(floodStart).Round(time.Millisecond))
	for k, n := range floodCount {
		if k != "200" && k != "429 rate_limited" && k != "429 banned" {
			t.Errorf("the flooder got %q %d times: a flood must be refused with 429, not fail", k, n)
		}
	}
	rule := ratelimit.PerMinute(global, burst)
	allowedMax := rule.Burst + int(floodElapsed.Seconds()*float64(global)/60) + 1
	if got := floodCount["200"]; got > allowedMax {
		t.Errorf("the flooder got %d answers 200, more than its bucket %d plus the refill (%d in all)", got, rule.Burst, allowedMax)
	}
	if got := floodCount["429 rate_limited"]; got != banAfter {
		t.Errorf("the flooder got %d answers 429 rate_limited before the ban, want ban_after_violations = %d", got, banAfter)
	}
	wantRetry := banMinutes * 60
	if ra := firstBan.retryAfter; !retryNear(ra, wantRetry) {
		t.Errorf("Retry-After of the ban = %q, want about %d s (ban_duration_minutes %d)", ra, wantRetry, banMinutes)
	}
	if a := chaosHit(s.client, s.base, floodTok, "GET", "/state/vr"); a.status != 429 || a.code != "banned" {
		t.Errorf("the flooder on another route after the flood = %d %q, want 429 banned", a.status, a.code)
	}
	// A new session does not shed the ban: it is the key's.
	if a := chaosHit(s.client, s.base, s.login(floodKey).AccessToken, "GET", "/state/player"); a.status != 429 || a.code != "banned" {
		t.Errorf("the flooder with a fresh session = %d %q, want 429 banned", a.status, a.code)
	}
	var bans struct {
		Bans []struct {
			Client     string `json:"client"`
			Violations int    `json:"violations"`
		} `json:"bans"`
	}
	if resp := s.do("GET", "/admin/bans", "", &bans); resp.StatusCode != 200 {
		t.Fatalf("GET /admin/bans = %d", resp.StatusCode)
	}
	if len(bans.Bans) != 1 || bans.Bans[0].Client != "principal:"+floodID || bans.Bans[0].Violations != banAfter+1 {
		t.Errorf("GET /admin/bans = %+v, want only principal:%s with %d violations (ban_after_violations %d, then one more)",
			bans.Bans, floodID, banAfter+1, banAfter)
	}

	// The others: only 2xx; the engine at its rate during and after.
	for _, r := range normals {
		t.Logf("%s: %d requests, latency p50 %v p99 %v max %v", r.who, len(r.lat),
			durQuantile(r.lat, 0.5).Round(time.Microsecond), durQuantile(r.lat, 0.99).Round(time.Microsecond), durQuantile(r.lat, 1).Round(time.Microsecond))
		if len(r.bad) > 0 {
			t.Errorf("%s got %d non-2xx answers of %d, first: %v", r.who, len(r.bad), len(r.lat), r.bad[:min(5, len(r.bad))])
		}
		if len(r.lat) < 20 {
			t.Errorf("%s sent only %d requests", r.who, len(r.lat))
		}
	}
	judge := machineRanUs(t, cpu)
	for _, r := range normals {
		if worst := durQuantile(r.lat, 1); judge && worst > saneLatency {
			t.Errorf("%s: the slowest request took %v (> %v) during the flood", r.who, worst, saneLatency)
		}
	}
	if judge && perf.maxGap > saneLatency {
		t.Errorf("the telemetry subscriber waited %v for a frame (> %v) during the flood", perf.maxGap, saneLatency)
	}
	if perf.frames < 100 {
		t.Errorf("the telemetry subscriber received only %d frames", perf.frames)
	}
	dev := normals[1]
	judgeFPS(t, judge, map[string]fpsFigures{
		"/performance/metrics during the flood": fpsOfSamples(dev.fps),
		"/performance/metrics after the flood":  fpsOfSamples(dev.late),
		"perf topic during the flood":           perf.between(floodStart, floodEnd),
		"perf topic after the flood":            perf.between(floodEnd, time.Now()),
	})
	t.Logf("engine fps, perf topic before the flood (no verdict): %v", perf.between(baseline, floodStart))
	t.Logf("telemetry subscriber: %d frames, largest gap %v", perf.frames, perf.maxGap.Round(time.Millisecond))
	if perf.err != nil {
		t.Errorf("the telemetry subscriber failed during the flood: %v", perf.err)
	}
}

// retryNear reports whether a Retry-After value is within a minute below
// want seconds.
func retryNear(ra string, want int) bool {
	var n int
	if _, err := fmt.Sscan(ra, &n); err != nil {
		return false
	}
	return n <= want && n >= want-60
}

// idleProbe is one connection the server is expected to close by itself.
type idleProbe struct {
	port, kind string
	expect     time.Duration // the server timeout that should close it
	opened     time.Time     // before the dial
	closedIn   time.Duration // from opened to EOF or reset; 0 while open
	received   []byte
	err        error // a setup failure, or the reader's deadline
}

// probeKind describes a class of idle or half-open connection.
type probeKind struct {
	port, kind string
	n          int
	expect     time.Duration
	// start writes what the connection sends; it returns the reader the
	// rest is read from (nil: the connection).
	start func(c net.Conn) (io.Reader, error)
}

// Thousands of idle or half-open connections on the API and telemetry
// ports: silent ones, ones with half a request header, ones with a
// header and half a body, keep-alive ones that went quiet, and WebSocket
// upgrades on /telemetry that never authenticate or read. A normal client
// keeps being served (new connections included), a telemetry subscriber
// keeps receiving frames, the engine keeps its rate, and the server
// closes every one of them within its timeout (plus a margin).
func TestChaosIdleConnectionsAreReclaimed(t *testing.T) {
	// Short API timeouts through the test's own config; the telemetry
	// port's are fixed in code (observe.go: read header 5 s; the hub's
	// auth timeout telemetry.DefaultAuthTimeout).
	const (
		readHeader = 2 * time.Second
		read       = 3 * time.Second
		idle       = 3 * time.Second
		// telemetryRead is the telemetry server's ReadHeaderTimeout and
		// ReadTimeout (observe.go).
		telemetryRead = 5 * time.Second
		margin        = 5 * time.Second
	)
	cfgDir := writeConfigDir(t, map[string]func(map[string]any){
		"test.json": func(d map[string]any) {
			h := obj(d, "networking", "http")
			h["read_header_timeout_seconds"] = int(readHeader / time.Second)
			h["read_timeout_seconds"] = int(read / time.Second)
			h["idle_timeout_seconds"] = int(idle / time.Second)
			// Room for every unauthenticated upgrade: the cap is not
			// what this test is about (they would be refused at once).
			obj(d, "networking", "telemetry")["max_subscribers"] = 3000
		},
	})
	s := startServe(t, map[string]string{"GODOT_ENV": "test"}, "--config-dir", cfgDir, "--scene", chaosScene)
	apiAddr := strings.TrimPrefix(s.base, "http://")
	devKey, _ := s.mint("dev", "developer")
	devTok := s.login(devKey).AccessToken
	watchKey, _ := s.mint("watcher", "readonly")
	watch := watchPerf(t, s.telemetry, s.login(watchKey).AccessToken)

	send := func(text string) func(c net.Conn) (io.Reader, error) {
		return func(c net.Conn) (io.Reader, error) {
			if text == "" {
				return nil, nil
			}
			_, err := io.WriteString(c, text)
			return nil, err
		}
	}
	const (
		partialHeader = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: chaos\r\nX-Slow: "
		partialBody   = "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n0123456789"
	)
	keepAlive := func(c net.Conn) (io.Reader, error) {
		if _, err := io.WriteString(c, "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
			return nil, err
		}
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return nil, err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return nil, fmt.Errorf("GET /health = %d", resp.StatusCode)
		}
		return br, err
	}
	upgrade := func(c net.Conn) (io.Reader, error) {
		req := "GET /telemetry HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
			"Sec-WebSocket-Protocol: " + telemetry.Subprotocol + "\r\n\r\n"
		if _, err := io.WriteString(c, req); err != nil {
			return nil, err
		}
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusSwitchingProtocols {
			return nil, fmt.Errorf("upgrade = %d", resp.StatusCode)
		}
		return br, nil // no auth message, nothing read until the server acts
	}
	kinds := []probeKind{
		{"api", "silent", 800, readHeader, send("")},
		{"api", "partial header", 600, readHeader, send(partialHeader)},
		{"api", "partial body", 300, read, send(fmt.Sprintf(partialBody, "/health"))},
		{"api", "idle keep-alive", 300, idle, keepAlive},
		{"telemetry", "silent", 600, telemetryRead, send("")},
		{"telemetry", "partial header", 500, telemetryRead, send(partialHeader)},
		{"telemetry", "partial body", 300, telemetryRead, send(fmt.Sprintf(partialBody, "/metrics"))},
		{"telemetry", "websocket, no auth", 600, telemetry.DefaultAuthTimeout, upgrade},
	}

	cpu := startCPUShare()
	// The normal client: a request every 20 ms, alternating between a
	// kept-alive connection and a fresh one (so accepting new
	// connections is checked too), until the probes are done.
	var (
		stopNormal = make(chan struct{})
		normalWG   sync.WaitGroup
		normalLat  []time.Duration
		normalBad  []string
		normalFPS  []fpsSample
	)
	normalWG.Go(func() {
		keep := &http.Transport{}
		fresh := &http.Transport{DisableKeepAlives: true}
		defer keep.CloseIdleConnections()
		clients := []*http.Client{{Transport: keep, Timeout: 30 * time.Second}, {Transport: fresh, Timeout: 30 * time.Second}}
		paths := []string{"/state/player", "/performance/metrics"}
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for k := 0; ; k++ {
			select {
			case <-stopNormal:
				return
			case <-tick.C:
			}
			path := paths[k%2]
			a := chaosHit(clients[(k/2)%2], s.base, devTok, "GET", path)
			normalLat = append(normalLat, a.took)
			if a.err != nil || a.status != 200 {
				normalBad = append(normalBad, fmt.Sprintf("GET %s = %d %s %v", path, a.status, a.code, a.err))
				continue
			}
			if fps, ok := fpsOf(a); ok {
				normalFPS = append(normalFPS, fpsSample{time.Now(), fps})
			}
		}
	})

	// Open the probes (8 dialers per kind) and read each until the server
	// closes it or its deadline passes.
	addrOf := map[string]string{"api": apiAddr, "telemetry": s.telemetry}
	var (
		probesMu sync.Mutex
		probes   []*idleProbe
		readers  sync.WaitGroup
		dialers  sync.WaitGroup
		conns    sync.Map // *idleProbe -> net.Conn, closed at the end
	)
	defer conns.Range(func(_, c any) bool { c.(net.Conn).Close(); return true })
	openStart := time.Now()
	for _, k := range kinds {
		next := atomic.Int64{}
		for range 8 {
			dialers.Go(func() {
				for next.Add(1) <= int64(k.n) {
					p := &idleProbe{port: k.port, kind: k.kind, expect: k.expect, opened: time.Now()}
					probesMu.Lock()
					probes = append(probes, p)
					probesMu.Unlock()
					c, err := net.DialTimeout("tcp", addrOf[k.port], 10*time.Second)
					if err != nil {
						p.err = fmt.Errorf("dial: %w", err)
						continue
					}
					conns.Store(p, c)
					r, err := k.start(c)
					if err != nil {
						p.err = fmt.Errorf("setup: %w", err)
						continue
					}
					if r == nil {
						r = c
					}
					_ = c.SetReadDeadline(p.opened.Add(k.expect + margin))
					readers.Go(func() {
						got, err := io.ReadAll(io.LimitReader(r, 1<<16))
						var ne net.Error
						if err != nil && errors.As(err, &ne) && ne.Timeout() {
							p.err = fmt.Errorf("still open after %v: %w", k.expect+margin, err)
							return
						}
						p.closedIn, p.received = time.Since(p.opened), got
					})
				}
			})
		}
	}
	// The server's side: connections it holds on each port (the peak,
	// sampled), and, once the probes saw their close, what it still holds.
	var (
		peakAPI, peakTel int
		stopCount        = make(chan struct{})
		counter          sync.WaitGroup
	)
	counter.Go(func() {
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			a, tl := serverConns(s)
			peakAPI, peakTel = max(peakAPI, a), max(peakTel, tl)
			select {
			case <-stopCount:
				return
			case <-tick.C:
			}
		}
	})
	dialers.Wait()
	opened := time.Since(openStart)
	readers.Wait()
	reclaimed := time.Since(openStart)
	close(stopCount)
	counter.Wait()
	// The normal client's connection and the subscriber's remain.
	var leftAPI, leftTel int
	for end := time.Now().Add(5 * time.Second); ; {
		leftAPI, leftTel = serverConns(s)
		if leftAPI <= 2 && leftTel <= 1 || time.Now().After(end) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	close(stopNormal)
	normalWG.Wait()
	perf := watch.stop()

	// Every probe closed by the server within its timeout plus the
	// margin, and not before the timeout.
	type figure struct {
		n, setupErr, open, early int
		closed                   []time.Duration
	}
	figs := map[string]*figure{}
	var order []string
	for _, p := range probes {
		key := p.port + " " + p.kind
		f := figs[key]
		if f == nil {
			f = &figure{}
			figs[key] = f
			order = append(order, key)
		}
		f.n++
		switch {
		case p.err != nil && strings.HasPrefix(p.err.Error(), "still open"):
			f.open++
		case p.err != nil:
			f.setupErr++
			if f.setupErr == 1 {
				t.Errorf("%s: %v", key, p.err)
			}
		default:
			f.closed = append(f.closed, p.closedIn)
			if p.closedIn < p.expect-10*time.Millisecond {
				f.early++
			}
		}
	}
	slices.Sort(order)
	t.Logf("opened %d connections in %v, all closed by the server %v after the first; the server held at most %d on the API port and %d on the telemetry port at once (/proc/net/tcp, sampled every 250 ms), %d and %d after",
		len(probes), opened.Round(time.Millisecond), reclaimed.Round(time.Millisecond), peakAPI, peakTel, leftAPI, leftTel)
	if leftAPI > 2 || leftTel > 1 {
		t.Errorf("the server still holds %d connections on the API port and %d on the telemetry port after the probes were closed, want at most the normal client's 2 and the subscriber's 1", leftAPI, leftTel)
	}
	for _, key := range order {
		f := figs[key]
		exp := time.Duration(0)
		for _, k := range kinds {
			if k.port+" "+k.kind == key {
				exp = k.expect
			}
		}
		t.Logf("%-30s %4d conns, timeout %v: closed in min %v p50 %v max %v; still open %d, setup errors %d",
			key, f.n, exp, durQuantile(f.closed, 0).Round(time.Millisecond), durQuantile(f.closed, 0.5).Round(time.Millisecond),
			durQuantile(f.closed, 1).Round(time.Millisecond), f.open, f.setupErr)
		if f.open > 0 {
			t.Errorf("%s: %d of %d connections still open %v after they were opened (timeout %v + margin %v): never reclaimed",
				key, f.open, f.n, exp+margin, exp, margin)
		}
		if f.early > 0 {
			t.Errorf("%s: %d connections closed before the %v timeout: something else closed them", key, f.early, exp)
		}
	}
	// The WebSocket probes were told why: auth_timeout, then the close.
	for _, p := range probes {
		if p.kind == "websocket, no auth" && p.err == nil && !strings.Contains(string(p.received), telemetry.CodeAuthTimeout) {
			t.Errorf("an unauthenticated WebSocket was closed without an %s error: %q", telemetry.CodeAuthTimeout, p.received)
			break
		}
	}

	// The normal client and the subscriber were served throughout, and
	// the engine kept its rate.
	apiFPS := fpsOfSamples(normalFPS)
	t.Logf("normal client: %d requests, latency p50 %v p99 %v max %v", len(normalLat), durQuantile(normalLat, 0.5).Round(time.Microsecond),
		durQuantile(normalLat, 0.99).Round(time.Microsecond), durQuantile(normalLat, 1).Round(time.Microsecond))
	t.Logf("telemetry subscriber: %d frames, largest gap %v", perf.frames, perf.maxGap.Round(time.Millisecond))
	if len(normalBad) > 0 {
		t.Errorf("the normal client got %d failures of %d, first: %v", len(normalBad), len(normalLat), normalBad[:min(5, len(normalBad))])
	}
	if len(normalLat) < 50 {
		t.Errorf("the normal client made only %d requests", len(normalLat))
	}
	if perf.err != nil {
		t.Errorf("the telemetry subscriber failed: %v", perf.err)
	}
	if perf.frames < 100 {
		t.Errorf("the telemetry subscriber received only %d frames", perf.frames)
	}
	judge := machineRanUs(t, cpu)
	if worst := durQuantile(normalLat, 1); judge && worst > saneLatency {
		t.Errorf("the slowest normal request took %v (> %v) while the idle connections were held", worst, saneLatency)
	}
	if judge && perf.maxGap > saneLatency {
		t.Errorf("the telemetry subscriber waited %v for a frame (> %v)", perf.maxGap, saneLatency)
	}
	judgeFPS(t, judge, map[string]fpsFigures{"/performance/metrics": apiFPS, "perf topic": perf.fps})
}

// serverConns returns how many established connections the server holds
// on its API and telemetry ports now, from /proc/net/tcp (-1 where that
// cannot be read: a figure for the report, not an assertion).
func serverConns(s *server) (api, tel int) {
	port := func(addr string) string {
		_, p, _ := net.SplitHostPort(addr)
		var n int
		fmt.Sscan(p, &n)
		return fmt.Sprintf(":%04X", n)
	}
	apiPort, telPort := port(strings.TrimPrefix(s.base, "http://")), port(s.telemetry)
	api, tel = -1, -1
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if api < 0 {
			api, tel = 0, 0
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			fields := strings.Fields(line)
			if len(fields) < 4 || fields[3] != "01" { // ESTABLISHED
				continue
			}
			switch {
			case strings.HasSuffix(fields[1], apiPort):
				api++
			case strings.HasSuffix(fields[1], telPort):
				tel++
			}
		}
	}
	return api, tel
}
