package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
)

// redacted stands for a secret in String and LogValue results.
const redacted = "[redacted]"

// secretBytes is the size of every random secret the package makes: API
// key secrets, refresh tokens, signing keys and the generated API_TOKEN.
const secretBytes = 32

// randomBytes returns n bytes from crypto/rand (which never fails on
// supported platforms: it crashes the program rather than return weak
// randomness).
func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// randomToken returns n random bytes, base64url-encoded without padding.
func randomToken(n int) string { return base64.RawURLEncoding.EncodeToString(randomBytes(n)) }

// hashSecret is the at-rest form of a high-entropy secret. A plain SHA-256
// is enough for 256-bit random secrets: there is nothing to brute-force.
func hashSecret(s string) [sha256.Size]byte { return sha256.Sum256([]byte(s)) }

// equalHash compares two hashes in constant time.
func equalHash(a, b [sha256.Size]byte) bool { return subtle.ConstantTimeCompare(a[:], b[:]) == 1 }
