// Package health holds the checks behind `spacetime health`, the guide's
// system_health_check.py: each one looks at one part of a deployment (this
// binary, the configuration, the running server's API, engine, telemetry
// and discovery, the ports, the store and its schema, the backends, the
// scene whitelist, the running scene, the TLS material) and says PASS, FAIL
// or WARN with a one-line summary and detail lines.
//
// The checks talk to the server only as a client does: over HTTP, the
// telemetry WebSocket, the discovery beacon and the database and Redis it
// is configured with. Run runs them all at once, each bounded by
// Options.Timeout, and returns a Report; WriteText prints it in the guide's
// layout and WriteJSON as a stable machine-readable document.
package health

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Status is the outcome of one check.
type Status string

// The outcomes. A warning does not make a deployment unhealthy.
const (
	Pass Status = "pass"
	Fail Status = "fail"
	Warn Status = "warn"
)

// Result is what one check found. Its JSON form has the fields in this
// order, always all of them (detail is [] when empty).
type Result struct {
	// ID is the check's stable machine name, e.g. "store_schema".
	ID string `json:"id"`
	// Name is the check's title as printed, e.g. "Store Schema Current".
	Name string `json:"name"`
	// Status is pass, fail or warn.
	Status Status `json:"status"`
	// Summary is one line saying what was found.
	Summary string `json:"summary"`
	// Detail lists what was looked at ("key: value" lines), printed with
	// --verbose.
	Detail []string `json:"detail"`
}

// Counts sums the outcomes of a report; every check is counted once, so
// Passed + Failed + Warnings is the number of checks.
type Counts struct {
	Passed   int `json:"passed"`
	Failed   int `json:"failed"`
	Warnings int `json:"warnings"`
}

// Report is the outcome of a whole run, checks in their fixed order.
type Report struct {
	Checks  []Result `json:"checks"`
	Summary Counts   `json:"summary"`
	// Healthy is true when no check failed (warnings allowed).
	Healthy bool `json:"healthy"`
}

// Check is one named check. Run is called with the shared Target; it
// never panics on bad input and reports every problem in its Result.
type Check struct {
	ID   string
	Name string
	Run  func(ctx context.Context, t *Target) Result
}

// Checks returns every check, in the order they are reported.
func Checks() []Check {
	return []Check{
		{ID: "executable", Name: "Executable and Version", Run: checkExecutable},
		{ID: "config", Name: "Configuration Valid", Run: checkConfig},
		{ID: "api", Name: "HTTP API Answering", Run: checkAPI},
		{ID: "engine", Name: "Engine at Rate", Run: checkEngine},
		{ID: "telemetry", Name: "Telemetry Stream", Run: checkTelemetry},
		{ID: "ports", Name: "Port Configuration", Run: checkPorts},
		{ID: "store_schema", Name: "Store Schema Current", Run: checkStore},
		{ID: "backends", Name: "Backends Reachable", Run: checkBackends},
		{ID: "whitelist", Name: "Scene Whitelist Valid", Run: checkWhitelist},
		{ID: "scene", Name: "Scene Loaded", Run: checkScene},
		{ID: "tls", Name: "TLS Material Valid", Run: checkTLS},
		{ID: "discovery", Name: "Discovery Beacon", Run: checkDiscovery},
	}
}

// Run runs checks (Checks() when nil) against the deployment opts
// describe, all at once, and returns their results in order. Each check
// gets opts.Timeout (DefaultTimeout when 0). Run releases everything it
// opened (connections, the session it logged in with) before returning.
func Run(ctx context.Context, opts Options, checks []Check) Report {
	if checks == nil {
		checks = Checks()
	}
	t := NewTarget(ctx, opts)
	defer t.Close()
	results := make([]Result, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Go(func() {
			results[i] = runOne(ctx, t, c)
		})
	}
	wg.Wait()
	return NewReport(results)
}

// runOne runs c with its timeout, and names its result.
func runOne(ctx context.Context, t *Target, c Check) (r Result) {
	cctx, cancel := context.WithTimeout(ctx, t.opts.Timeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			r = Result{Status: Fail, Summary: fmt.Sprintf("the check itself failed: %v", p)}
		}
		r.ID, r.Name = c.ID, c.Name
		if r.Detail == nil {
			r.Detail = []string{}
		}
	}()
	return c.Run(cctx, t)
}

// NewReport counts results into a Report.
func NewReport(results []Result) Report {
	rep := Report{Checks: results}
	for _, r := range results {
		switch r.Status {
		case Pass:
			rep.Summary.Passed++
		case Warn:
			rep.Summary.Warnings++
		default:
			rep.Summary.Failed++
		}
	}
	rep.Healthy = rep.Summary.Failed == 0
	return rep
}

// DefaultTimeout bounds each check when Options.Timeout is 0.
const DefaultTimeout = 5 * time.Second

// result builders, for the checks.

func pass(summary string, detail ...string) Result {
	return Result{Status: Pass, Summary: summary, Detail: detail}
}

func fail(summary string, detail ...string) Result {
	return Result{Status: Fail, Summary: summary, Detail: detail}
}

func warn(summary string, detail ...string) Result {
	return Result{Status: Warn, Summary: summary, Detail: detail}
}

// detailf formats one "key: value" detail line.
func detailf(key, format string, args ...any) string {
	return key + ": " + fmt.Sprintf(format, args...)
}
