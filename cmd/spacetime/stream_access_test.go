package main

import (
	"context"
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

// A pilot whose session ends (logout, revocation) stops piloting at once,
// and its stream is closed at the next revalidation.
func TestServePilotStopsWhenTheSessionEnds(t *testing.T) {
	s := startServe(t, map[string]string{"GODOT_ENV": "test"})
	devKey, _ := s.mint("pilot", "developer")
	tok := s.login(devKey).AccessToken
	pilot := dialAPI(t, s, tok)
	throttle := map[string]any{"x": 0, "y": 0, "z": -1}
	exchange(t, pilot, map[string]any{"type": "input", "throttle": throttle, "id": "before"}, "ack")
	if resp := s.as(tok, "POST", "/auth/logout", "", nil); resp.StatusCode/100 != 2 {
		t.Fatalf("logout = %d", resp.StatusCode)
	}
	m := exchange(t, pilot, map[string]any{"type": "input", "throttle": throttle, "id": "after"}, "error")
	if m.Code != "forbidden" {
		t.Errorf("input after logout answered %s, want forbidden", m.Raw)
	}
	// Within the revalidation period (2 s) the stream itself is closed.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		m, err := pilot.Next(ctx)
		if err != nil {
			break // closed
		}
		if m.Type == "error" && m.Code == "auth_failed" {
			continue // the notice before the close
		}
	}
	if ctx.Err() != nil {
		t.Fatal("the stream of a logged-out session was not closed within 10 s")
	}
}
