package auth

import (
	"testing"
)

// BenchmarkVerify measures the per-request cost of an access token: JWT
// parse and HS256 check plus the session lookup.
func BenchmarkVerify(b *testing.B) {
	f := newFixture(b, nil)
	tok := f.login(b, "dev1", RoleDeveloper)
	b.Run("uncached", func(b *testing.B) {
		u := newFixture(b, func(o *Options) { o.VerifyCacheSize = -1 })
		tok := u.login(b, "dev1", RoleDeveloper)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := u.svc.Verify(tok.AccessToken); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := f.svc.Verify(tok.AccessToken); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := f.svc.Verify(tok.AccessToken); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkAuthenticateBearer measures the middleware's entry point for a
// JWT, a legacy API key, and a refused forgery.
func BenchmarkAuthenticateBearer(b *testing.B) {
	f := newFixture(b, func(o *Options) { o.Security.Authentication.AllowLegacyTokens = true })
	tok := f.login(b, "dev1", RoleDeveloper)
	raw, _, err := f.svc.APIKeys().Mint(RoleReadonly, "bench")
	if err != nil {
		b.Fatal(err)
	}
	forged := tok.AccessToken[:len(tok.AccessToken)-2] + "AA"
	cases := []struct {
		name, header string
		ok           bool
	}{
		{"jwt", "Bearer " + tok.AccessToken, true},
		{"api_key", "Bearer " + raw, true},
		{"bad_signature", "Bearer " + forged, false},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.svc.AuthenticateBearer(c.header); (err == nil) != c.ok {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLogin measures a login: session, refresh token and signing.
func BenchmarkLogin(b *testing.B) {
	f := newFixture(b, func(o *Options) { o.Security.Authentication.MaxConcurrentSessions = 3 })
	p := Principal{ID: "bench", Role: RoleDeveloper, Method: MethodAPIKey}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := f.svc.Login(p); err != nil {
			b.Fatal(err)
		}
	}
}
