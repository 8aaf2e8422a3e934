package auth

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/spacetime-vr/spacetime/internal/config"
)

func TestLoadBootstrapGenerates(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	b, err := LoadBootstrap(config.EnvProduction, config.Secret{}, dir)
	if err != nil {
		t.Fatalf("LoadBootstrap: %v", err)
	}
	if !b.Created || b.FromEnv {
		t.Fatalf("Created = %t, FromEnv = %t; want true, false", b.Created, b.FromEnv)
	}
	tok := b.Token.Reveal()
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(raw) != 32 {
		t.Fatalf("token is not 32 base64url bytes: %d bytes, %v", len(raw), err)
	}
	if b.Path != filepath.Join(dir, BootstrapFile) {
		t.Errorf("Path = %q", b.Path)
	}
	st, err := os.Stat(b.Path)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Mode().Perm(); got != 0o600 {
		t.Errorf("file mode = %#o, want 0600", got)
	}
	dst, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := dst.Mode().Perm(); got != 0o700 {
		t.Errorf("dir mode = %#o, want 0700", got)
	}
	data, _ := os.ReadFile(b.Path)
	if got := strings.TrimSpace(string(data)); got != tok {
		t.Errorf("file holds a different token")
	}
	assertNoSecrets(t, "String", b.String(), tok)

	// Second start: same token, not created (not printed again).
	b2, err := LoadBootstrap(config.EnvProduction, config.Secret{}, dir)
	if err != nil {
		t.Fatalf("second LoadBootstrap: %v", err)
	}
	if b2.Created {
		t.Error("second start: Created = true, want false")
	}
	if b2.Token.Reveal() != tok {
		t.Error("second start: token changed")
	}
}

func TestLoadBootstrapConcurrentStartsAgree(t *testing.T) {
	dir := t.TempDir()
	const n = 8
	toks := make([]string, n)
	created := make([]bool, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, err := LoadBootstrap(config.EnvDevelopment, config.Secret{}, dir)
			if err != nil {
				t.Errorf("LoadBootstrap: %v", err)
				return
			}
			toks[i], created[i] = b.Token.Reveal(), b.Created
		}()
	}
	wg.Wait()
	nCreated := 0
	for i := range n {
		if toks[i] != toks[0] {
			t.Fatal("concurrent starts got different tokens")
		}
		if created[i] {
			nCreated++
		}
	}
	if nCreated != 1 {
		t.Errorf("%d starts created the token, want 1", nCreated)
	}
}

func TestLoadBootstrapFromEnv(t *testing.T) {
	dir := t.TempDir()
	tok := strings.Repeat("k", 40)
	b, err := LoadBootstrap(config.EnvProduction, config.NewSecret(tok), dir)
	if err != nil {
		t.Fatalf("LoadBootstrap: %v", err)
	}
	if !b.FromEnv || b.Created || b.Token.Reveal() != tok {
		t.Errorf("got %+v, want the env token", b)
	}
	if _, err := os.Stat(filepath.Join(dir, BootstrapFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a token file was written although API_TOKEN is set: %v", err)
	}
}

func TestCheckBootstrapToken(t *testing.T) {
	long := strings.Repeat("a", MinTokenLen)
	tests := []struct {
		name string
		env  string
		tok  string
		ok   bool
	}{
		{"prod good", config.EnvProduction, long, true},
		{"prod generated size", config.EnvProduction, strings.Repeat("x", 43), true},
		{"prod short", config.EnvProduction, strings.Repeat("a", MinTokenLen-1), false},
		{"staging short", config.EnvStaging, "abc", false},
		{"dev short ok", config.EnvDevelopment, "abc", true},
		{"test short ok", config.EnvTest, "abc", true},
		{"prod REPLACE_WITH_SECURE_TOKEN", config.EnvProduction, "REPLACE_WITH_SECURE_TOKEN_xxxxxxxxxxxxxxxxxxx", false},
		{"prod lower replace", config.EnvProduction, "please-replace-me-" + long, false},
		{"prod placeholder", config.EnvProduction, "my-Placeholder-" + long, false},
		{"prod changeme", config.EnvProduction, "changeme", false},
		{"prod changeme long", config.EnvProduction, "CHANGEME" + long, false},
		{"prod <secret>", config.EnvProduction, "<secret>", false},
		{"prod angle template", config.EnvProduction, "<your-api-token-goes-here-0123456789>", false},
		{"prod env template", config.EnvProduction, "${API_TOKEN}" + long, false},
		{"dev placeholder", config.EnvDevelopment, "REPLACE_WITH_SECURE_TOKEN", false},
		{"dev changeme", config.EnvDevelopment, "changeme", false},
		{"empty", config.EnvDevelopment, "", false},
		{"space inside", config.EnvDevelopment, "abc def", false},
		{"trailing newline", config.EnvProduction, long + "\n", false},
		{"control char", config.EnvProduction, long + "\x00", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckBootstrapToken(tt.env, tt.tok)
			if tt.ok {
				if err != nil {
					t.Fatalf("CheckBootstrapToken = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrInsecureToken) {
				t.Fatalf("CheckBootstrapToken = %v, want ErrInsecureToken", err)
			}
			if len(tt.tok) >= 4 {
				assertNoSecrets(t, "error", err.Error(), tt.tok)
			}
		})
	}
}

func TestLoadBootstrapRefusesInsecure(t *testing.T) {
	tests := []struct {
		name    string
		env     string
		token   string // API_TOKEN
		file    string // content of an existing token file ("" none)
		mode    os.FileMode
		wantErr bool
	}{
		{name: "prod placeholder env", env: config.EnvProduction, token: "REPLACE_WITH_SECURE_TOKEN", wantErr: true},
		{name: "prod short env", env: config.EnvProduction, token: "short-token", wantErr: true},
		{name: "prod placeholder file", env: config.EnvProduction, file: "changeme\n", mode: 0o600, wantErr: true},
		{name: "prod short file", env: config.EnvProduction, file: "0123456789\n", mode: 0o600, wantErr: true},
		{name: "prod empty file", env: config.EnvProduction, file: "\n", mode: 0o600, wantErr: true},
		{name: "prod world-readable file", env: config.EnvProduction, file: strings.Repeat("z", 43) + "\n", mode: 0o644, wantErr: true},
		{name: "dev world-readable file tightened", env: config.EnvDevelopment, file: strings.Repeat("z", 43) + "\n", mode: 0o644},
		{name: "dev short file ok", env: config.EnvDevelopment, file: "devtoken\n", mode: 0o600},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, BootstrapFile)
			if tt.file != "" {
				if err := os.WriteFile(path, []byte(tt.file), tt.mode); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(path, tt.mode); err != nil {
					t.Fatal(err)
				}
			}
			b, err := LoadBootstrap(tt.env, config.NewSecret(tt.token), dir)
			if tt.wantErr {
				if !errors.Is(err, ErrInsecureToken) {
					t.Fatalf("LoadBootstrap error = %v, want ErrInsecureToken", err)
				}
				for _, s := range []string{tt.token, strings.TrimSpace(tt.file)} {
					if len(s) > 8 {
						assertNoSecrets(t, "error", err.Error(), s)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadBootstrap: %v", err)
			}
			if b.Created || b.Token.Reveal() != strings.TrimSpace(tt.file) {
				t.Errorf("did not reuse the file's token")
			}
			st, _ := os.Stat(path)
			if got := st.Mode().Perm(); got != 0o600 {
				t.Errorf("file mode after load = %#o, want 0600", got)
			}
		})
	}
}

func TestLoadBootstrapNoDataDir(t *testing.T) {
	if _, err := LoadBootstrap(config.EnvDevelopment, config.Secret{}, ""); err == nil {
		t.Fatal("LoadBootstrap without a data dir succeeded")
	}
}

func TestServiceBootstrapGenerated(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.APIToken = config.Secret{} })
	b := f.svc.Bootstrap()
	if !b.Created {
		t.Fatal("Bootstrap().Created = false on a fresh data dir")
	}
	p, err := f.svc.APIKeys().Authenticate(b.Token.Reveal())
	if err != nil || p.ID != BootstrapPrincipalID || p.Role != RoleAdmin {
		t.Fatalf("generated token authenticates as %+v, %v; want bootstrap admin", p, err)
	}
	f2 := newFixture(t, func(o *Options) { o.APIToken = config.Secret{}; o.DataDir = f.opts.DataDir })
	if f2.svc.Bootstrap().Created || f2.svc.Bootstrap().Token.Reveal() != b.Token.Reveal() {
		t.Error("second service did not reuse the generated token")
	}
}

func TestNewRefusesPlaceholderInProduction(t *testing.T) {
	opts := Options{
		Security:    config.Defaults().Security,
		Environment: config.EnvProduction,
		DataDir:     t.TempDir(),
		APIToken:    config.NewSecret("REPLACE_WITH_SECURE_TOKEN"),
	}
	if _, err := New(opts); !errors.Is(err, ErrInsecureToken) {
		t.Fatalf("New = %v, want ErrInsecureToken", err)
	}
}
