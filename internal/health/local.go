package health

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/spacetime-vr/spacetime/internal/buildinfo"
	"github.com/spacetime-vr/spacetime/internal/config"
)

// checkExecutable: this binary exists on disk and can run, and the server
// runs the same build (a different one is a warning: a rolling upgrade,
// or a health command from another release).
func checkExecutable(ctx context.Context, t *Target) Result {
	path := t.opts.Executable
	if path == "" {
		p, err := os.Executable()
		if err != nil {
			return fail("cannot locate this binary: " + err.Error())
		}
		path = p
	}
	if strings.HasSuffix(path, " (deleted)") {
		return fail("this binary was deleted or replaced on disk after it started: " + strings.TrimSuffix(path, " (deleted)"))
	}
	st, err := os.Stat(path)
	switch {
	case err != nil:
		return fail("binary not found: " + err.Error())
	case !st.Mode().IsRegular():
		return fail(fmt.Sprintf("binary %s is not a regular file (%s)", path, st.Mode()))
	case st.Mode().Perm()&0o111 == 0:
		return fail(fmt.Sprintf("binary %s is not executable (mode %s)", path, st.Mode().Perm()))
	}
	local := t.opts.Build
	detail := []string{
		detailf("executable", "%s", path),
		detailf("this binary", "%s", local),
	}
	srv, err := t.serverStatus()
	if err != nil {
		return warn(fmt.Sprintf("%s; the server's version is unknown (%v)", short(local), err), detail...)
	}
	detail = append(detail, detailf("server", "version %s, commit %s, %s build", srv.Version, srv.Build.Commit, srv.Build.BuildMode))
	if diff := versionDiff(local, srv); diff != "" {
		return warn(fmt.Sprintf("this binary is %s but the server runs %s", short(local), diff), detail...)
	}
	return pass(short(local)+", the same as the server", detail...)
}

// short names a build in one phrase: "spacetime 1.2.0 (commit 0123abcd, release build)".
func short(i buildinfo.Info) string {
	return fmt.Sprintf("spacetime %s (commit %s, %s build)", i.Version, shortCommit(i.Commit), i.BuildMode)
}

func shortCommit(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}

// versionDiff describes how the server's build differs from local ("" when
// it does not). Unknown commits are not compared.
func versionDiff(local buildinfo.Info, srv *serverStatus) string {
	var diffs []string
	if srv.Version != local.Version {
		diffs = append(diffs, "version "+srv.Version)
	}
	known := func(c string) bool { return c != "" && c != "unknown" }
	if known(srv.Build.Commit) && known(local.Commit) && srv.Build.Commit != local.Commit {
		diffs = append(diffs, "commit "+shortCommit(srv.Build.Commit))
	}
	if srv.Build.BuildMode != "" && srv.Build.BuildMode != local.BuildMode {
		diffs = append(diffs, "a "+srv.Build.BuildMode+" build")
	}
	return strings.Join(diffs, ", ")
}

// checkConfig: the configuration serve would read loads and validates,
// and it is the one the server runs with.
func checkConfig(ctx context.Context, t *Target) Result {
	if err := t.opts.ConfigErr; err != nil {
		lines := strings.Split(err.Error(), "\n")
		return fail(fmt.Sprintf("%d problem(s) in the configuration from %s: %s", len(lines), orDefault(t.opts.ConfigDir, "?"), lines[0]), lines...)
	}
	cfg := t.opts.Config
	if cfg == nil {
		return fail("no configuration was loaded")
	}
	hardened := cfg.Environment == config.EnvProduction || cfg.Environment == config.EnvStaging
	detail := []string{
		detailf("config dir", "%s", cfg.ConfigDir),
		detailf("environment", "%s", cfg.Environment),
		detailf("values set by files, env or flags", "%d", len(cfg.Sources)),
		detailf("credential", "%s", credentialNote(t.opts)),
		detailf("data dir", "%s", cfg.Runtime.DataDir),
	}
	var warns []string
	if st, err := t.serverStatus(); err == nil && st.Environment != cfg.Environment {
		warns = append(warns, fmt.Sprintf("this reads the %s configuration but the server runs %s (set GODOT_ENV=%s)", cfg.Environment, st.Environment, st.Environment))
	}
	if hardened && t.opts.Credential == "" {
		warns = append(warns, fmt.Sprintf("no API_TOKEN: checks of authenticated routes cannot authenticate in %s", cfg.Environment))
	}
	if cfg.Environment == config.EnvProduction {
		if cfg.Monitoring.PprofEnabled {
			warns = append(warns, "monitoring.pprof_enabled is on in production")
		}
		if !cfg.Security.RateLimiting.Enabled {
			warns = append(warns, "security.rate_limiting.enabled is off in production")
		}
	}
	if len(warns) > 0 {
		return warn(strings.Join(warns, "; "), detail...)
	}
	return pass(fmt.Sprintf("%s configuration from %s is valid", cfg.Environment, cfg.ConfigDir), detail...)
}

func credentialNote(o Options) string {
	if o.Credential == "" {
		return "none"
	}
	return "from " + orDefault(o.CredentialSource, "the command line")
}

// CertExpiryWarning is how close to its expiry a certificate makes the
// TLS check warn.
const CertExpiryWarning = 14 * 24 * time.Hour

// checkTLS: when the API serves TLS, its certificate and key parse and
// match, the certificate is valid now and not about to expire, the key is
// not readable by others, and the server serves that certificate.
func checkTLS(ctx context.Context, t *Target) Result {
	cfg, skip := t.config()
	if skip != nil {
		return *skip
	}
	tc := cfg.Networking.HTTP.TLS
	if !tc.Enabled() {
		return pass("not configured: the API speaks plain HTTP (TLS, if any, ends in front of it)")
	}
	detail := []string{detailf("certificate", "%s", tc.CertFile), detailf("key", "%s", tc.KeyFile)}
	leaf, res := inspectKeyPair(tc.CertFile, tc.KeyFile, t.opts.Now())
	detail = append(detail, res.Detail...)
	res.Detail = detail
	if res.Status == Fail {
		return res
	}
	var warns []string
	if res.Status == Warn {
		warns = append(warns, res.Summary)
	}
	if st, err := os.Stat(tc.KeyFile); err == nil && st.Mode().Perm()&0o077 != 0 {
		warns = append(warns, fmt.Sprintf("key file %s is readable by others (mode %s; want 0600)", tc.KeyFile, st.Mode().Perm()))
	}
	if t.base != nil && t.base.Scheme == "https" {
		served, err := servedLeaf(ctx, t.base.Host, t.opts.Timeout)
		switch {
		case err != nil:
			warns = append(warns, "could not read the served certificate: "+err.Error())
		case !served.Equal(leaf):
			warns = append(warns, fmt.Sprintf("the server serves a different certificate (serial %s, expires %s) than %s: restart serve to load it",
				served.SerialNumber, served.NotAfter.UTC().Format(time.DateOnly), tc.CertFile))
		default:
			res.Detail = append(res.Detail, detailf("served", "the same certificate, at %s", t.base.Host))
		}
		if host := t.base.Hostname(); leaf.VerifyHostname(host) != nil {
			warns = append(warns, fmt.Sprintf("the certificate does not name %s", host))
		}
	}
	if len(warns) > 0 {
		return warn(strings.Join(warns, "; "), res.Detail...)
	}
	res.Status = Pass
	return res
}

// inspectKeyPair loads and judges a certificate and key: a Fail result
// when they do not load, do not match or the certificate is not valid at
// now; Warn when it expires within CertExpiryWarning; else Pass. The leaf
// is returned when it parsed.
func inspectKeyPair(certFile, keyFile string, now time.Time) (*x509.Certificate, Result) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fail("certificate: " + err.Error())
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fail("key: " + err.Error())
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		msg := err.Error()
		if strings.Contains(msg, "does not match") {
			return nil, fail(fmt.Sprintf("the key %s does not match the certificate %s", keyFile, certFile))
		}
		return nil, fail(fmt.Sprintf("certificate %s and key %s do not load: %s", certFile, keyFile, strings.TrimPrefix(msg, "tls: ")))
	}
	leaf := pair.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return nil, fail("certificate: " + err.Error())
		}
	}
	detail := []string{
		detailf("subject", "%s", leaf.Subject),
		detailf("names", "%s", strings.Join(certNames(leaf), ", ")),
		detailf("issuer", "%s", leaf.Issuer),
		detailf("valid", "%s to %s", leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339)),
		detailf("chain", "%d certificate(s)", len(pair.Certificate)),
	}
	if rest := extraPEM(certPEM); rest != "" {
		detail = append(detail, detailf("note", "%s", rest))
	}
	left := leaf.NotAfter.Sub(now)
	switch {
	case now.Before(leaf.NotBefore):
		return leaf, fail(fmt.Sprintf("certificate %s is not valid until %s", certFile, leaf.NotBefore.UTC().Format(time.RFC3339)), detail...)
	case left <= 0:
		return leaf, fail(fmt.Sprintf("certificate %s expired on %s", certFile, leaf.NotAfter.UTC().Format(time.RFC3339)), detail...)
	case left < CertExpiryWarning:
		return leaf, warn(fmt.Sprintf("certificate %s expires in %s (%s)", certFile, days(left), leaf.NotAfter.UTC().Format(time.RFC3339)), detail...)
	}
	return leaf, pass(fmt.Sprintf("certificate and key match; valid for %s more (until %s)", days(left), leaf.NotAfter.UTC().Format(time.DateOnly)), detail...)
}

func days(d time.Duration) string {
	n := int(d / (24 * time.Hour))
	if n == 1 {
		return "1 day"
	}
	if n == 0 {
		return d.Round(time.Minute).String()
	}
	return fmt.Sprintf("%d days", n)
}

// certNames lists the DNS names and IPs a certificate is valid for.
func certNames(c *x509.Certificate) []string {
	names := append([]string(nil), c.DNSNames...)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 {
		names = append(names, "(none)")
	}
	return names
}

// extraPEM notes PEM blocks in a certificate file that are not
// certificates (a private key pasted in by mistake).
func extraPEM(data []byte) string {
	var other []string
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			other = append(other, b.Type)
		}
	}
	if len(other) == 0 {
		return ""
	}
	return "the certificate file also holds " + strings.Join(other, ", ")
}

// servedLeaf reads the certificate a TLS server presents, without
// verifying it (it is compared, not trusted).
func servedLeaf(ctx context.Context, hostport string, timeout time.Duration) (*x509.Certificate, error) {
	if _, _, err := net.SplitHostPort(hostport); err != nil {
		hostport = net.JoinHostPort(hostport, "443")
	}
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: timeout}, Config: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // the certificate is compared with the file, not trusted
	conn, err := d.DialContext(ctx, "tcp", hostport)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	certs := conn.(*tls.Conn).ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return nil, errors.New("no certificate presented")
	}
	return certs[0], nil
}
