package health

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/spacetime-vr/spacetime/internal/buildinfo"
	"github.com/spacetime-vr/spacetime/internal/config"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// loadConfig loads the real configuration (embedded files unless flags
// name a directory) with vars as the environment.
func loadConfig(t *testing.T, vars map[string]string, flags config.Flags) *config.Config {
	t.Helper()
	cfg, err := config.Load(config.Options{Getenv: func(k string) string { return vars[k] }, Flags: flags, WorkDir: t.TempDir()})
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

// closedURL is an http URL on a loopback port nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	return "http://" + closedAddr(t)
}

// closedAddr is a loopback host:port nothing listens on (it was bound and
// released).
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// offlineOptions checks against nothing: the API and telemetry URLs are
// closed ports.
func offlineOptions(t *testing.T, cfg *config.Config) Options {
	t.Helper()
	return Options{
		APIURL:       closedURL(t),
		TelemetryURL: closedURL(t),
		Timeout:      5 * time.Second,
		Config:       cfg,
		ConfigDir:    config.EmbeddedDir,
		Build:        buildinfo.Read(),
	}
}

// runCheck runs one check against opts and closes what it opened.
func runCheck(t *testing.T, opts Options, check func(context.Context, *Target) Result) Result {
	t.Helper()
	tg := NewTarget(context.Background(), opts)
	defer tg.Close()
	return runOne(context.Background(), tg, Check{ID: "test", Name: "Test", Run: check})
}

// wantStatus fails the test when r's status is not want.
func wantStatus(t *testing.T, r Result, want Status) {
	t.Helper()
	if r.Status != want {
		t.Fatalf("status = %s, want %s: %s\n%v", r.Status, want, r.Summary, r.Detail)
	}
}

// certSpec describes a test certificate.
type certSpec struct {
	notBefore, notAfter time.Time
	// otherKey writes a key that does not belong to the certificate.
	otherKey bool
	keyMode  os.FileMode
}

// writeCert writes a self-signed ECDSA certificate for 127.0.0.1 and
// localhost, and its key, into dir.
func writeCert(t *testing.T, dir string, spec certSpec) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "spacetime-test"},
		NotBefore:             spec.notBefore,
		NotAfter:              spec.notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if spec.otherKey {
		if key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			t.Fatal(err)
		}
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	mode := spec.keyMode
	if mode == 0 {
		mode = 0o600
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(keyFile, mode); err != nil { // past the umask
		t.Fatal(err)
	}
	return certFile, keyFile
}

// portOf returns the port of a host:port.
func portOf(t *testing.T, hostport string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(hostport)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
