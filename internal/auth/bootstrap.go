package auth

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/spacetime-vr/spacetime/internal/config"
)

// MinTokenLen is the shortest API_TOKEN accepted in production and staging
// (a generated token has 43 characters; openssl rand -base64 32 gives 44).
const MinTokenLen = 32

// BootstrapFile is the name of the generated API_TOKEN file inside the data
// directory.
const BootstrapFile = "api_token"

// maxTokenFileBytes bounds what LoadBootstrap reads from the token file.
const maxTokenFileBytes = 4 << 10

// Bootstrap is the resolved bootstrap admin credential.
type Bootstrap struct {
	// Token is the credential; it authenticates as the admin principal
	// BootstrapPrincipalID.
	Token config.Secret
	// FromEnv is true when API_TOKEN came from the environment; otherwise
	// the token lives in Path.
	FromEnv bool
	// Path is the token file (data-dir/api_token) when FromEnv is false.
	Path string
	// Created is true when this call generated the token: the caller
	// prints it once (and only then).
	Created bool
}

// String describes where the token came from, never the token.
func (b Bootstrap) String() string {
	switch {
	case b.FromEnv:
		return "API_TOKEN from the environment"
	case b.Created:
		return "API_TOKEN generated in " + b.Path
	}
	return "API_TOKEN read from " + b.Path
}

// LogValue logs where the token came from, never the token.
func (b Bootstrap) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Bool("from_env", b.FromEnv),
		slog.String("path", b.Path),
		slog.Bool("created", b.Created),
	)
}

// hardened reports whether env demands production-grade secrets.
func hardened(env string) bool { return env == config.EnvProduction || env == config.EnvStaging }

// placeholderMarks are substrings (upper case) of the template values that
// the guide's manifests and .env examples ship with.
var placeholderMarks = [...]string{"REPLACE", "PLACEHOLDER", "CHANGEME", "CHANGE_ME", "CHANGE-ME", "<SECRET>", "YOUR_TOKEN", "YOUR-TOKEN"}

// isPlaceholder reports whether token looks like a template value:
// REPLACE_WITH_SECURE_TOKEN, changeme, <secret>, ${API_TOKEN}, ...
// (case-insensitive).
func isPlaceholder(token string) bool {
	u := strings.ToUpper(token)
	for _, m := range placeholderMarks {
		if strings.Contains(u, m) {
			return true
		}
	}
	return strings.HasPrefix(u, "${") ||
		(strings.HasPrefix(u, "<") && strings.HasSuffix(u, ">"))
}

// CheckBootstrapToken reports why token cannot be the bootstrap credential
// in environment env, as an error wrapping ErrInsecureToken whose message
// says what to do and never contains the token:
//   - in every environment: empty, a template placeholder (anything
//     containing REPLACE or PLACEHOLDER, changeme, <secret>, ${...}; case-
//     insensitive), or containing whitespace or control characters;
//   - in production and staging: shorter than MinTokenLen bytes.
//
// It is the authoritative check (config.Validate makes a similar one
// earlier, for a friendlier report of all problems at once).
func CheckBootstrapToken(env, token string) error {
	const fix = "generate one with: openssl rand -base64 32 (or unset API_TOKEN to have one generated)"
	switch {
	case token == "":
		return fmt.Errorf("%w: empty", ErrInsecureToken)
	case isPlaceholder(token):
		return fmt.Errorf("%w: API_TOKEN is a template placeholder; %s", ErrInsecureToken, fix)
	case strings.ContainsFunc(token, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return fmt.Errorf("%w: API_TOKEN contains whitespace or control characters; %s", ErrInsecureToken, fix)
	case hardened(env) && len(token) < MinTokenLen:
		return fmt.Errorf("%w: API_TOKEN is %d bytes, %s requires at least %d; %s",
			ErrInsecureToken, len(token), env, MinTokenLen, fix)
	}
	return nil
}

// LoadBootstrap resolves the bootstrap credential of environment env.
//
// A set configured (API_TOKEN) wins: it is checked with CheckBootstrapToken
// and the file is neither read nor written. Otherwise the token lives in
// dataDir/api_token: when the file exists it is reused (Created false; its
// content is checked the same way, and in production and staging a file
// readable by group or others is refused, elsewhere its mode is tightened to
// 0600); when it does not, 32 random bytes (base64url) are written to it
// with mode 0600, dataDir being created with mode 0700 if needed, and
// Created is true so the caller prints the token once. The file appears
// atomically with its content, so concurrent starts agree on one token.
func LoadBootstrap(env string, configured config.Secret, dataDir string) (Bootstrap, error) {
	if configured.IsSet() {
		if err := CheckBootstrapToken(env, configured.Reveal()); err != nil {
			return Bootstrap{}, err
		}
		return Bootstrap{Token: configured, FromEnv: true}, nil
	}
	if dataDir == "" {
		return Bootstrap{}, errors.New("auth: bootstrap token: no data directory")
	}
	path := filepath.Join(dataDir, BootstrapFile)
	b := Bootstrap{Path: path}

	tok, err := readTokenFile(env, path)
	if err == nil {
		b.Token = config.NewSecret(tok)
		return b, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return Bootstrap{}, err
	}

	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return Bootstrap{}, fmt.Errorf("auth: bootstrap token: create data directory: %w", err)
	}
	tok = randomToken(secretBytes)
	created, err := writeTokenFile(path, tok)
	if errors.Is(err, fs.ErrExist) {
		// Another process won the race: use its token.
		if tok, err = readTokenFile(env, path); err != nil {
			return Bootstrap{}, err
		}
		b.Token = config.NewSecret(tok)
		return b, nil
	}
	if err != nil {
		return Bootstrap{}, err
	}
	b.Token = config.NewSecret(tok)
	b.Created = created
	return b, nil
}

// readTokenFile reads and checks an existing token file. A missing file is
// an error wrapping fs.ErrNotExist.
func readTokenFile(env, path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		return "", fmt.Errorf("auth: bootstrap token: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("auth: bootstrap token: %w", err)
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("%w: %s is not a regular file", ErrInsecureToken, path)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		if hardened(env) {
			return "", fmt.Errorf("%w: %s has mode %#o, readable by others; run chmod 600 %s",
				ErrInsecureToken, path, perm, path)
		}
		if err := f.Chmod(0o600); err != nil {
			return "", fmt.Errorf("auth: bootstrap token: tighten mode of %s: %w", path, err)
		}
	}
	data, err := io.ReadAll(io.LimitReader(f, maxTokenFileBytes+1))
	if err != nil {
		return "", fmt.Errorf("auth: bootstrap token: read %s: %w", path, err)
	}
	if len(data) > maxTokenFileBytes {
		return "", fmt.Errorf("%w: %s is larger than %d bytes", ErrInsecureToken, path, maxTokenFileBytes)
	}
	tok := strings.TrimSpace(string(data))
	if tok == "" {
		return "", fmt.Errorf("%w: %s is empty; delete it to generate a new token", ErrInsecureToken, path)
	}
	if err := CheckBootstrapToken(env, tok); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return tok, nil
}

// writeTokenFile creates path with mode 0600 holding tok, atomically: the
// token is written to a temporary file that is then hard-linked to path,
// so a concurrent reader never sees a partial file. An existing path is an
// error wrapping fs.ErrExist. Where hard links are not supported it falls
// back to an exclusive create.
func writeTokenFile(path, tok string) (bool, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".api_token-*") // mode 0600
	if err != nil {
		return false, fmt.Errorf("auth: bootstrap token: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := writeClose(tmp, tok); err != nil {
		return false, fmt.Errorf("auth: bootstrap token: write %s: %w", tmp.Name(), err)
	}
	err = os.Link(tmp.Name(), path)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrExist):
		return false, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return false, err
		}
		return false, fmt.Errorf("auth: bootstrap token: create %s: %w", path, err)
	}
	if err := writeClose(f, tok); err != nil {
		_ = os.Remove(path)
		return false, fmt.Errorf("auth: bootstrap token: write %s: %w", path, err)
	}
	return true, nil
}

// writeClose writes tok and a newline to f, syncs and closes it.
func writeClose(f *os.File, tok string) error {
	_, err := f.WriteString(tok + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
