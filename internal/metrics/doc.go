// Package metrics exposes SpaceTime's Prometheus metrics: the engine's
// tick rate, tick times, quality level and world size (read from the
// engine's snapshot at scrape time), resident memory, scene loads, HTTP
// request durations by route, and counters kept by other packages (rate
// limiting, bans, telemetry, audit) read through functions the caller
// passes in, so this package imports none of them.
//
// Everything is registered on one explicit *prometheus.Registry, never
// the global default registry, together with the Go runtime and process
// collectors. [Metrics.Handler] serves it in the Prometheus text format
// (the telemetry listener mounts it at /metrics); [Metrics.Middleware]
// instruments an HTTP handler; [Metrics.ObserveSceneLoad] records scene
// loads.
//
// Metric names (all prefixed spacetime_) are listed in
// deploy/prometheus/README.md and used by the alert rules in
// deploy/prometheus/alerts.yaml; a test keeps the rules and this package
// in agreement.
package metrics
