package discovery_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime/internal/discovery"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// discover runs Discover on 127.0.0.1:0, feeds it the datagrams (advancing
// the clock by the given step after each), ends it and returns its output.
func discover(t *testing.T, asJSON bool, key []byte, datagrams [][]byte, steps []time.Duration) string {
	t.Helper()
	clock := newFakeClock()
	ready := make(chan net.Addr, 1)
	results := make(chan discovery.Result, len(datagrams))
	var out bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- discovery.Discover(ctx, discovery.DiscoverOptions{
			Listen:   "127.0.0.1:0",
			Seconds:  3600, // ended by cancel, below
			Key:      key,
			JSON:     asJSON,
			Out:      &out,
			Clock:    clock.Now,
			Ready:    func(a net.Addr) { ready <- a },
			OnResult: func(r discovery.Result) { results <- r },
		})
	}()
	var addr net.Addr
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("Discover: %v", err)
	}
	for i, d := range datagrams {
		sendRaw(t, addr, d)
		next(t, results)
		clock.Advance(steps[i])
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Discover: %v", err)
	}
	return out.String()
}

func discoverInput(t *testing.T, key []byte) ([][]byte, []time.Duration) {
	t.Helper()
	a := beacon("7f3a9c2e41d05b86", 12)
	b := beacon("c0ffee0000000001", 3)
	b.Version, b.Environment, b.Scene, b.HTTPPort, b.TelemetryPort = "1.5.0-rc1", "staging", "", 18080, 0
	b.Timestamp = epoch.Add(time.Second)
	return [][]byte{
			encode(t, a, key),
			[]byte("\x00garbage"),
			encode(t, b, key),
			[]byte(`{"beacon":{"service":"other","instance_id":"x"}}`),
			encode(t, beacon("unsigned-one", 1), nil),
		}, []time.Duration{
			time.Second, 0, 500 * time.Millisecond, 0, 0,
		}
}

func TestDiscoverTable(t *testing.T) {
	tests := []struct {
		name   string
		key    []byte
		golden string
	}{
		{name: "no key", golden: "discover.golden"},
		{name: "with key", key: []byte("k"), golden: "discover_signed.golden"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data, steps := discoverInput(t, tc.key)
			got := discover(t, false, tc.key, data, steps)
			path := filepath.Join("testdata", tc.golden)
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read golden file (go test -update writes it): %v", err)
			}
			if got != string(want) {
				t.Errorf("output:\n%s\nwant (%s):\n%s", got, path, want)
			}
		})
	}
}

func TestDiscoverJSON(t *testing.T) {
	data, steps := discoverInput(t, nil)
	out := discover(t, true, nil, data, steps)
	var got []discovery.Instance
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("output is not a JSON array of instances: %v\n%s", err, out)
	}
	want := []struct {
		id, scene, addr string
		http, seq       int
	}{
		{"7f3a9c2e41d05b86", "res://vr_main.tscn", "127.0.0.1", 8080, 12},
		{"c0ffee0000000001", "", "127.0.0.1", 18080, 3},
		{"unsigned-one", "res://vr_main.tscn", "127.0.0.1", 8080, 1},
	}
	if len(got) != len(want) {
		t.Fatalf("%d instances, want %d:\n%s", len(got), len(want), out)
	}
	for i, w := range want {
		g := got[i]
		if g.InstanceID != w.id || g.Scene != w.scene || g.Addr != w.addr || g.HTTPPort != w.http || g.Seq != uint64(w.seq) {
			t.Errorf("instance %d = %+v, want %+v", i, g, w)
		}
	}
	if !got[0].LastSeen.Equal(epoch) || !got[1].LastSeen.Equal(epoch.Add(time.Second)) {
		t.Errorf("last seen = %v, %v", got[0].LastSeen, got[1].LastSeen)
	}
}

func TestDiscoverNothing(t *testing.T) {
	tests := []struct {
		name   string
		asJSON bool
		want   string
	}{
		{"table", false, "INSTANCE  VERSION  ENV  HTTP  TELEMETRY  SCENE  ADDR  LAST SEEN\n(no SpaceTime instances found)\n"},
		{"json", true, "[]\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := discover(t, tc.asJSON, nil, nil, nil); got != tc.want {
				t.Errorf("output %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDiscoverBadListen(t *testing.T) {
	err := discovery.Discover(context.Background(), discovery.DiscoverOptions{Listen: "nope", Out: &bytes.Buffer{}})
	if err == nil {
		t.Fatal("Discover on a bad address succeeded")
	}
}
