package health

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime/internal/config"
	"github.com/spacetime-vr/spacetime/internal/discovery"
)

// freeUDPPort returns a loopback UDP port that was free a moment ago.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// beacons runs a real discovery sender announcing httpPort to dest, with
// key, every 100 ms until the test ends.
func beacons(t *testing.T, dest string, httpPort int, key []byte) {
	t.Helper()
	s, err := discovery.NewSender(discovery.SenderOptions{
		Addr: dest, Interval: 100 * time.Millisecond, Key: key,
		Info: func() discovery.Beacon {
			return discovery.Beacon{HTTPPort: httpPort, Environment: "development", Version: "dev", Scene: "res://vr_main.tscn"}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("sender: %v", err)
		}
	})
}

func TestHealthDiscovery(t *testing.T) {
	const key = "discovery-key-for-the-health-test"
	tests := []struct {
		name       string
		sendPort   int    // the http_port announced; 0 sends nothing
		senderKey  string // signs the beacons
		checkerKey string // DISCOVERY_KEY of the check
		want       Status
		summary    string
	}{
		{name: "this server's beacon", sendPort: -1, want: Pass, summary: "beacon of this server"},
		{name: "signed and verified", sendPort: -1, senderKey: key, checkerKey: key, want: Pass, summary: "beacon of this server"},
		{name: "another server's beacon only", sendPort: 1, want: Warn, summary: "no beacon with http_port"},
		{name: "badly signed", sendPort: -1, senderKey: "another key entirely, not ours", checkerKey: key, want: Warn, summary: "bad beacon signature"},
		{name: "nothing sent", sendPort: 0, want: Warn, summary: "no beacon with http_port"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // the warnings wait out the listening window
			udp := freeUDPPort(t)
			dest := "127.0.0.1:" + strconv.Itoa(udp)
			vars := map[string]string{}
			if tc.checkerKey != "" {
				vars["DISCOVERY_KEY"] = tc.checkerKey
			}
			cfg := loadConfig(t, vars, config.Flags{DiscoveryAddr: dest})
			opts := offlineOptions(t, cfg)
			apiPort := portOf(t, strings.TrimPrefix(opts.APIURL, "http://"))
			switch tc.sendPort {
			case 0:
			case -1:
				beacons(t, dest, apiPort, []byte(tc.senderKey))
			default:
				beacons(t, dest, apiPort+tc.sendPort, []byte(tc.senderKey))
			}
			r := runCheck(t, opts, checkDiscovery)
			wantStatus(t, r, tc.want)
			if !strings.Contains(r.Summary, tc.summary) {
				t.Errorf("summary %q lacks %q", r.Summary, tc.summary)
			}
		})
	}
	t.Run("off", func(t *testing.T) {
		cfg := loadConfig(t, nil, config.Flags{DiscoveryAddr: "off"})
		wantStatus(t, runCheck(t, offlineOptions(t, cfg), checkDiscovery), Pass)
	})
	t.Run("a destination this host cannot hear", func(t *testing.T) {
		cfg := loadConfig(t, nil, config.Flags{DiscoveryAddr: "203.0.113.7:8087"})
		r := runCheck(t, offlineOptions(t, cfg), checkDiscovery)
		wantStatus(t, r, Warn)
		if !strings.Contains(r.Summary, "cannot hear") {
			t.Errorf("summary %q", r.Summary)
		}
	})
}
