package discovery

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// DefaultDiscoverSeconds is how long Discover listens by default: a little
// more than two beacon intervals.
const DefaultDiscoverSeconds = 5

// DiscoverOptions configures Discover (`spacetime discover`).
type DiscoverOptions struct {
	// Listen is the address to listen on (--listen); DefaultListenAddr
	// when empty.
	Listen string
	// Seconds is how long to listen (--seconds); DefaultDiscoverSeconds
	// when 0.
	Seconds float64
	// Key, when set, accepts only beacons signed with it (DISCOVERY_KEY).
	Key []byte
	// JSON prints a JSON array of instances instead of a table (--json).
	JSON bool
	// Out receives the table or the JSON.
	Out io.Writer
	// Clock returns the time; time.Now when nil. It stamps LAST SEEN; the
	// listening period itself is a real timer.
	Clock func() time.Time
	// Logger logs dropped datagrams at DEBUG; nil discards them.
	Logger *slog.Logger
	// Ready, when set, is called with the bound address once listening
	// has begun (tests listen on port 0).
	Ready func(net.Addr)
	// OnResult, when set, sees each datagram's fate (see ListenerOptions).
	OnResult func(Result)
}

// Discover listens for beacons for opts.Seconds, or until ctx ends, and
// then prints the live instances to opts.Out: a table (INSTANCE, VERSION,
// ENV, HTTP, TELEMETRY, SCENE, ADDR, LAST SEEN) followed by a line
// counting dropped datagrams when there were any, or with opts.JSON a JSON
// array of Instance. Ending early through ctx still prints what was found
// and returns nil; errors are those of opening the socket or writing.
func Discover(ctx context.Context, opts DiscoverOptions) error {
	now := opts.Clock
	if now == nil {
		now = time.Now
	}
	seconds := opts.Seconds
	if seconds <= 0 {
		seconds = DefaultDiscoverSeconds
	}
	l, err := Listen(ctx, ListenerOptions{
		Addr:     opts.Listen,
		Key:      opts.Key,
		Clock:    now,
		OnResult: opts.OnResult,
		Logger:   opts.Logger,
	})
	if err != nil {
		return err
	}
	if opts.Ready != nil {
		opts.Ready(l.Addr())
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(seconds*float64(time.Second)))
	defer cancel()
	if err := l.Run(ctx); err != nil {
		return err
	}
	return Print(opts.Out, l.Instances(), l.Stats(), now(), opts.JSON)
}

// Print writes instances as Discover does: a table with the age of each
// instance's last beacon at now, and a line for dropped datagrams when
// stats counts any; or, with asJSON, a JSON array.
func Print(w io.Writer, instances []Instance, stats Stats, now time.Time, asJSON bool) error {
	if asJSON {
		if instances == nil {
			instances = []Instance{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(instances); err != nil {
			return fmt.Errorf("discovery: write: %w", err)
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "INSTANCE\tVERSION\tENV\tHTTP\tTELEMETRY\tSCENE\tADDR\tLAST SEEN")
	for _, in := range instances {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			in.InstanceID, dash(in.Version), dash(in.Environment), port(in.HTTPPort),
			port(in.TelemetryPort), dash(in.Scene), dash(in.Addr), age(now.Sub(in.LastSeen)))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("discovery: write: %w", err)
	}
	var err error
	if len(instances) == 0 {
		_, err = fmt.Fprintln(w, "(no SpaceTime instances found)")
	}
	if d := stats.Dropped(); d > 0 && err == nil {
		var why []string
		for _, c := range []struct {
			n    uint64
			what string
		}{
			{stats.DroppedUnsigned, "unsigned"}, {stats.DroppedBadSig, "bad signature"},
			{stats.DroppedReplay, "replayed"}, {stats.DroppedMalformed, "malformed"},
			{stats.DroppedOversized, "oversized"}, {stats.DroppedForeign, "another service"},
			{stats.DroppedTableFull, "table full"},
		} {
			if c.n > 0 {
				why = append(why, fmt.Sprintf("%d %s", c.n, c.what))
			}
		}
		_, err = fmt.Fprintf(w, "(%d of %d datagrams dropped: %s)\n", d, stats.Received, strings.Join(why, ", "))
	}
	if err != nil {
		return fmt.Errorf("discovery: write: %w", err)
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func port(p int) string {
	if p == 0 {
		return "-"
	}
	return strconv.Itoa(p)
}

// age formats how long ago, to a tenth of a second.
func age(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s ago"
}
