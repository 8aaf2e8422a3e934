package health

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"

	"github.com/spacetime-vr/spacetime/internal/config"
)

// PortKind says what holds a TCP port.
type PortKind string

// What a port probe can find.
const (
	PortFree      PortKind = "free"
	PortAPI       PortKind = "spacetime api"
	PortTelemetry PortKind = "spacetime telemetry"
	PortForeign   PortKind = "another program"
)

// PortProbe is what was found at one configured port.
type PortProbe struct {
	Role string // "http api", "telemetry"
	Addr string // the configured host:port
	Kind PortKind
	// Note tells more: what the foreign program answered, or why the
	// port cannot be bound.
	Note string
	// Err is set when the port could not be judged (a bind address that
	// is not this host's, a privileged port).
	Err error
}

// ProbePort finds out what holds addr: nothing (it can be bound: the
// listener is closed at once), a SpaceTime API or telemetry port (it
// answers their routes), or another program. tlsAPI says the API speaks
// HTTPS; metricsPath is where the telemetry port serves metrics.
func ProbePort(ctx context.Context, client *http.Client, role, addr string, tlsAPI bool, metricsPath string) PortProbe {
	p := PortProbe{Role: role, Addr: addr}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err == nil {
		ln.Close()
		p.Kind = PortFree
		return p
	}
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
	case errors.Is(err, syscall.EACCES):
		p.Err = fmt.Errorf("%s cannot be bound by this user (ports below 1024 need root or CAP_NET_BIND_SERVICE)", addr)
		return p
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		p.Err = fmt.Errorf("%s: the bind address is not an address of this host", addr)
		return p
	default:
		p.Err = fmt.Errorf("%s: %w", addr, err)
		return p
	}
	host, port, _ := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
		if ip != nil && ip.To4() == nil {
			host = "::1"
		}
	}
	hp := net.JoinHostPort(host, port)
	scheme := "http"
	if role == RoleAPI && tlsAPI {
		scheme = "https"
	}
	// The API answers /health with {"status","engine"}; the telemetry port
	// answers /telemetry with 426 and names its subprotocol.
	code, body, err := probeGet(ctx, client, scheme+"://"+hp+"/health")
	if err == nil {
		var h serverHealth
		if json.Unmarshal(body, &h) == nil && h.Status != "" && h.Engine != "" {
			p.Kind = PortAPI
			return p
		}
	}
	code2, body2, err2 := probeGet(ctx, client, "http://"+hp+"/telemetry")
	if err2 == nil && code2 == http.StatusUpgradeRequired && strings.Contains(string(body2), "spacetime.v1") {
		p.Kind = PortTelemetry
		return p
	}
	if _, body3, err3 := probeGet(ctx, client, "http://"+hp+metricsPath); err3 == nil && strings.Contains(string(body3), "spacetime_up") {
		p.Kind = PortTelemetry
		return p
	}
	p.Kind = PortForeign
	switch {
	case err == nil:
		p.Note = fmt.Sprintf("answers GET /health with HTTP %d %s", code, snippet(body))
	case err2 == nil:
		p.Note = fmt.Sprintf("answers GET /telemetry with HTTP %d", code2)
	default:
		p.Note = "does not speak HTTP: " + err.Error()
	}
	return p
}

// Port roles.
const (
	RoleAPI       = "http api"
	RoleTelemetry = "telemetry"
)

func probeGet(ctx context.Context, client *http.Client, u string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("User-Agent", "spacetime-health")
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, unwrapURLError(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, body, err
}

// checkPorts: each configured TCP port is either free or held by the
// SpaceTime listener it is configured for, never by another program or
// the other SpaceTime listener; the discovery destination is sane.
func checkPorts(ctx context.Context, t *Target) Result {
	cfg, skip := t.config()
	if skip != nil {
		return *skip
	}
	n := cfg.Networking
	type want struct {
		role, addr string
		port       int
		kind       PortKind
	}
	wants := []want{{RoleAPI, n.HTTP.Addr(), n.HTTP.Port, PortAPI}}
	if n.Telemetry.Enabled {
		wants = append(wants, want{RoleTelemetry, n.Telemetry.Addr(), n.Telemetry.Port, PortTelemetry})
	}
	// The probe identifies what answers, it does not trust it: it skips
	// certificate checks (the TLS check judges the certificate).
	tr := &http.Transport{Proxy: nil, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // identification only
	defer tr.CloseIdleConnections()
	probe := &http.Client{Transport: tr, Timeout: t.opts.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var fails, warns, detail []string
	for _, w := range wants {
		if w.port == 0 {
			warns = append(warns, fmt.Sprintf("%s port is 0: the system picks one at each start, so clients cannot know it", w.role))
			continue
		}
		p := ProbePort(ctx, probe, w.role, w.addr, n.HTTP.TLS.Enabled(), cfg.Monitoring.MetricsPath)
		switch {
		case p.Err != nil:
			fails = append(fails, p.Err.Error())
			detail = append(detail, detailf(w.role, "%s: %v", w.addr, p.Err))
		case p.Kind == PortFree, p.Kind == w.kind:
			detail = append(detail, detailf(w.role, "%s: %s", w.addr, p.Kind))
		case p.Kind == PortForeign:
			fails = append(fails, fmt.Sprintf("%s port %s is held by another program (%s)", w.role, w.addr, p.Note))
			detail = append(detail, detailf(w.role, "%s: %s, %s", w.addr, p.Kind, p.Note))
		default:
			fails = append(fails, fmt.Sprintf("%s port %s is held by a SpaceTime %s port", w.role, w.addr, strings.TrimPrefix(string(p.Kind), "spacetime ")))
			detail = append(detail, detailf(w.role, "%s: %s", w.addr, p.Kind))
		}
	}
	detail = append(detail, discoveryNote(n.Discovery))
	if !n.Telemetry.Enabled {
		detail = append(detail, detailf("telemetry", "disabled"))
	}
	switch {
	case len(fails) > 0:
		return fail(strings.Join(fails, "; "), detail...)
	case len(warns) > 0:
		return warn(strings.Join(warns, "; "), detail...)
	}
	var parts []string
	for _, w := range wants {
		parts = append(parts, strconv.Itoa(w.port))
	}
	return pass(fmt.Sprintf("port(s) %s free or held by SpaceTime", strings.Join(parts, ", ")), detail...)
}

func discoveryNote(d config.Discovery) string {
	if !d.Enabled {
		return detailf("discovery", "off")
	}
	return detailf("discovery", "beacons to %s (UDP, sent from an ephemeral port; nothing to bind)", d.Addr())
}
