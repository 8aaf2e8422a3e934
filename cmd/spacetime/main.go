// Command spacetime is SpaceTime's one binary: the headless, authoritative
// 90 Hz space simulation server and the tools that operate it.
//
// Usage:
//
//	spacetime serve [flags]            run the simulation and its HTTP API
//	spacetime scene validate FILE...   check scene files offline
//	spacetime scene list               list the scenes of a project
//	spacetime telemetry [flags]        watch the telemetry stream
//	spacetime discover [flags]         list instances by their beacons
//	spacetime supervise [flags] -- ... run and watch serve as a child process
//	spacetime health [flags]           check a deployment (twelve checks)
//	spacetime bench engine|telemetry|http|soak   measure the engine, the stream, HTTP, a soak
//	spacetime version                  print version, commit and build mode
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/redis/go-redis/v9"
)

func main() {
	// go-redis prints every failed dial to stderr on its own; the limiter
	// and notice fallbacks already log each outage once, so its lines go
	// to the default structured logger at debug level instead.
	redis.SetLogger(redisLogger{})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			if ee.msg != "" {
				fmt.Fprintln(os.Stderr, "spacetime:", ee.msg)
			}
			os.Exit(ee.code)
		}
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0) // the help was asked for and printed
		}
		fmt.Fprintln(os.Stderr, "spacetime:", err)
		os.Exit(exitCodeFor(err))
	}
}

// redisLogger hands go-redis's messages to slog at debug level.
type redisLogger struct{}

func (redisLogger) Printf(ctx context.Context, format string, v ...any) {
	slog.DebugContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}

// exitError carries a specific exit status out of run.
type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string { return fmt.Sprintf("exit status %d: %s", e.code, e.msg) }

func exitCodeFor(err error) int {
	if errors.Is(err, errUsage) {
		return 2
	}
	return 1
}

var errUsage = errors.New("usage")

// command is one subcommand of the binary.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, env *environment, args []string) error
}

// environment is what a subcommand may touch of the outside world.
type environment struct {
	getenv  func(string) string
	stdin   io.Reader
	stdout  io.Writer
	stderr  io.Writer
	workDir string // where ./config is looked for; "" is the current directory
	// onReady, when set (tests), is told where serve listens once it does.
	onReady func(readyInfo)
}

func (e *environment) ready(r readyInfo) {
	if e.onReady != nil {
		e.onReady(r)
	}
}

func commands() []command {
	return []command{
		{"serve", "run the simulation server and its HTTP API", runServe},
		{"scene", "validate and list scenes offline (validate FILE..., list)", runScene},
		{"telemetry", "watch the telemetry stream (the guide's telemetry_client.py)", runTelemetry},
		{"discover", "list the instances whose discovery beacons arrive", runDiscover},
		{"supervise", "run serve (or --command) as a supervised child (the guide's godot_editor_server.py)", runSupervise},
		{"health", "check a deployment and this host (the guide's system_health_check.py)", runHealth},
		{"bench", "measure this machine (bench engine, telemetry, http, soak)", runBench},
		{"version", "print version, commit and build mode", runVersion},
	}
}

// run is the whole program; main only adds the process's environment and
// exits with what run returns. Tests call run directly.
// Options adjust the environment (tests set where serve reports its
// addresses and where ./config is looked for).
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer, opts ...func(*environment)) error {
	env := &environment{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	for _, o := range opts {
		o(env)
	}
	if len(args) == 0 {
		usage(stderr)
		return errUsage
	}
	name := args[0]
	if name == "-h" || name == "--help" || name == "help" {
		usage(stdout)
		return nil
	}
	for _, c := range commands() {
		if c.name == name {
			return c.run(ctx, env, args[1:])
		}
	}
	usage(stderr)
	return fmt.Errorf("unknown command %q: %w", name, errUsage)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "spacetime: a headless, authoritative 90 Hz space simulation")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: spacetime COMMAND [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'spacetime COMMAND --help' for a command's flags.")
}

// newFlagSet returns a FlagSet that reports errors instead of exiting and
// prints its help to the command's stderr.
func newFlagSet(env *environment, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	fs.Usage = func() {
		fmt.Fprintf(env.stderr, "Usage: spacetime %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args into fs; a bad flag is a usage error (exit 2).
func parseFlags(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	return err
}
