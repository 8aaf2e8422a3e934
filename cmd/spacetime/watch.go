package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/spacetime-vr/spacetime/internal/discovery"
	"github.com/spacetime-vr/spacetime/internal/telemetry"
)

// runTelemetry is `spacetime telemetry`, the guide's telemetry_client.py:
// it connects to the stream, subscribes and prints what it sees,
// reconnecting with backoff until interrupted.
func runTelemetry(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet(env, "telemetry", "telemetry [--url URL] [--token T] [--topics perf,vr] [--rate HZ] [--json] [--count N]")
	url := fs.String("url", "ws://127.0.0.1:8081/telemetry", "telemetry stream `URL` (ws://, wss://, http:// or https://; /telemetry on the API port works too)")
	token := fs.String("token", "", "access token or API key (default: $SPACETIME_TOKEN, then $API_TOKEN); none works in development only")
	topics := fs.String("topics", "perf,vr", "comma-separated `topics`: perf, player, vr, bodies, events")
	rate := fs.Float64("rate", 1, "frames per second of each topic")
	asJSON := fs.Bool("json", false, "print the raw frames")
	count := fs.Int("count", 0, "stop after N stream events (0: run until interrupted)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	tok := *token
	if tok == "" {
		tok = env.getenv("SPACETIME_TOKEN")
	}
	if tok == "" {
		tok = env.getenv("API_TOKEN")
	}
	var list []string
	for _, t := range strings.Split(*topics, ",") {
		if t = strings.TrimSpace(t); t != "" {
			list = append(list, t)
		}
	}
	err := telemetry.Watch(ctx, telemetry.ClientOptions{
		URL: *url, Token: tok, Topics: list, RateHz: *rate, JSON: *asJSON,
		Out: env.stdout, Status: env.stderr, MaxEvents: *count,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("telemetry: %w", err)
	}
	return nil
}

// runDiscover is `spacetime discover`: it listens for discovery beacons and
// prints the live instances.
func runDiscover(ctx context.Context, env *environment, args []string) error {
	fs := newFlagSet(env, "discover", "discover [--listen ADDR] [--seconds S] [--json]")
	listen := fs.String("listen", discovery.DefaultListenAddr, "UDP `address` to listen on (a multicast group joins it)")
	seconds := fs.Float64("seconds", discovery.DefaultDiscoverSeconds, "how long to listen")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var key []byte
	if k := env.getenv("DISCOVERY_KEY"); k != "" {
		key = []byte(k)
	}
	if err := discovery.Discover(ctx, discovery.DiscoverOptions{
		Listen: *listen, Seconds: *seconds, Key: key, JSON: *asJSON, Out: env.stdout,
	}); err != nil {
		return fmt.Errorf("discover: %w", err)
	}
	return nil
}
