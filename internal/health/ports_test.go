package health

import (
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime/internal/config"
)

// foreignHTTP runs a real HTTP server of another program (it answers 404
// to everything) on a loopback port and returns its address.
func foreignHTTP(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.NotFoundHandler(), ReadHeaderTimeout: time.Second}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return ln.Addr().String()
}

// foreignTCP accepts connections and closes them without a word.
func foreignTCP(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String()
}

func TestHealthPorts(t *testing.T) {
	tests := []struct {
		name    string
		addr    string
		want    Status
		summary string
	}{
		{"free", closedAddr(t), Pass, "free or held by SpaceTime"},
		{"held by another HTTP server", foreignHTTP(t), Fail, "is held by another program (answers GET /health with HTTP 404"},
		{"held by something that is not HTTP", foreignTCP(t), Fail, "is held by another program (does not speak HTTP"},
		{"bind address not of this host", "203.0.113.7:8080", Fail, "not an address of this host"},
		{"port 0", "127.0.0.1:0", Warn, "port is 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := loadConfig(t, nil, config.Flags{HTTPAddr: tc.addr, TelemetryAddr: closedAddr(t)})
			r := runCheck(t, offlineOptions(t, cfg), checkPorts)
			wantStatus(t, r, tc.want)
			if !strings.Contains(r.Summary, tc.summary) {
				t.Errorf("summary %q lacks %q", r.Summary, tc.summary)
			}
		})
	}
}
