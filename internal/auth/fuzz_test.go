package auth

import (
	"errors"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

func FuzzParseBearer(f *testing.F) {
	for _, s := range []string{
		"", "Bearer abc", "bearer a.b.c", "Bearer  x", "Basic x", "Bearer", "Bearer ", "BEARER\tx",
		"Bearer st_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "Bearer a\x00b", "Bearer tök",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		tok, err := ParseBearer(header)
		if err != nil {
			if !errors.Is(err, ErrNoCredentials) && !errors.Is(err, ErrBadHeader) {
				t.Fatalf("unexpected error kind %v", err)
			}
			if tok != "" {
				t.Fatalf("token %q returned with error", tok)
			}
			return
		}
		if tok == "" || len(header) > MaxTokenLen {
			t.Fatalf("accepted %q (len %d) as token %q", header, len(header), tok)
		}
		if !strings.EqualFold(header[:6], "bearer") || header[6] != ' ' || header[7:] != tok {
			t.Fatalf("accepted %q: not \"Bearer <token>\"", header)
		}
		for i := 0; i < len(tok); i++ {
			if tok[i] <= ' ' || tok[i] > '~' {
				t.Fatalf("token %q has byte %#x", tok, tok[i])
			}
		}
	})
}

func FuzzVerifyToken(f *testing.F) {
	fx := newFixture(f, nil)
	good := fx.login(f, "dev1", RoleDeveloper)
	key := fx.currentKey(f)
	claims := fx.goodClaims(good.SessionID, fx.clock.Now())
	seeds := []string{
		good.AccessToken,
		"", ".", "..", "a.b.c", "eyJ.eyJ.", good.AccessToken + "x", good.AccessToken[:len(good.AccessToken)-1],
		craft(f, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, map[string]any{"kid": key.ID}, claims),
		craft(f, jwt.SigningMethodHS512, key.secret, map[string]any{"kid": key.ID}, claims),
		craft(f, jwt.SigningMethodHS256, []byte("wrong-key-wrong-key-wrong-key-00"), map[string]any{"kid": key.ID}, claims),
		craft(f, jwt.SigningMethodHS256, key.secret, map[string]any{"kid": "zzz"}, claims),
		strings.Repeat("A", MaxTokenLen+1),
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		p, err := fx.svc.Verify(tok)
		if err == nil {
			if tok != good.AccessToken {
				t.Fatalf("Verify accepted a token that was never issued: %q → %+v", tok, p)
			}
			return
		}
		if !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("Verify error %v is not an authentication failure", err)
		}
		if len(tok) > 16 && strings.Contains(err.Error(), tok) {
			t.Fatal("error message contains the token")
		}
		if _, err := fx.svc.AuthenticateBearer("Bearer " + tok); err == nil && tok != good.AccessToken {
			t.Fatalf("AuthenticateBearer accepted %q", tok)
		}
	})
}
