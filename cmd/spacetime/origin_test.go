package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// In development the stream admits anonymous connections (and pilots):
// a page of another origin must not get one; the server's own page and
// tools without an Origin header do.
func TestServeTelemetryRefusesForeignOrigins(t *testing.T) {
	s := startServe(t, map[string]string{"GODOT_ENV": "development"})
	for _, tc := range []struct {
		name, origin string
		ok           bool
	}{
		{"no origin (a tool)", "", true},
		{"the server's own page", s.base, true},
		{"another site", "https://evil.example", false},
		{"another port of this host", "http://127.0.0.1:1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hdr := http.Header{}
			if tc.origin != "" {
				hdr.Set("Origin", tc.origin)
			}
			d := websocket.Dialer{Subprotocols: []string{"spacetime.v1"}, HandshakeTimeout: 10 * time.Second}
			urls := []string{"ws" + s.base[len("http"):] + "/telemetry", "ws://" + s.telemetry + "/telemetry"}
			if tc.origin == s.base {
				urls = urls[:1] // the page's own host:port; the telemetry port is another origin
			}
			for _, url := range urls {
				c, resp, err := d.Dial(url, hdr)
				if c != nil {
					c.Close()
				}
				if tc.ok && err != nil {
					t.Errorf("%s: dial refused: %v", url, err)
				}
				if !tc.ok && (err == nil || resp == nil || resp.StatusCode != http.StatusForbidden) {
					t.Errorf("%s: dial from %s = %v, want 403", url, tc.origin, err)
				}
			}
		})
	}
}
