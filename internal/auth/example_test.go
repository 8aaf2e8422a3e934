package auth_test

import (
	"fmt"
	"os"

	"github.com/spacetime-vr/spacetime/internal/auth"
	"github.com/spacetime-vr/spacetime/internal/config"
)

// The lifecycle of a credential: the bootstrap admin mints a key, the key
// is exchanged for tokens, the access token authenticates requests, the
// refresh token renews them, logout ends the session.
func Example() {
	dir, err := os.MkdirTemp("", "auth-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	cfg := config.Defaults()
	cfg.Runtime.DataDir = dir // API_TOKEN unset: generated into dir/api_token
	svc, err := auth.New(auth.OptionsFromConfig(cfg))
	if err != nil {
		panic(err)
	}
	fmt.Println("print the generated API_TOKEN once:", svc.Bootstrap().Created)

	admin, err := svc.APIKeys().Authenticate(svc.Bootstrap().Token.Reveal())
	if err != nil {
		panic(err)
	}
	fmt.Println("bootstrap:", admin.ID, admin.Role)

	raw, info, err := svc.APIKeys().Mint(auth.RoleDefault, "dashboard")
	if err != nil {
		panic(err)
	}
	fmt.Println("minted a", info.Role, "key")

	tokens, _, err := svc.Exchange(raw) // POST /auth/token
	if err != nil {
		panic(err)
	}
	p, err := svc.AuthenticateBearer("Bearer " + tokens.AccessToken)
	if err != nil {
		panic(err)
	}
	fmt.Println("request by", p.Method, p.Role, "may read scenes:", svc.Authorize(p, auth.RoleReadonly) == nil)
	fmt.Println("may load scenes:", auth.Reason(svc.Authorize(p, auth.RoleDeveloper)))

	next, err := svc.Refresh(tokens.RefreshToken) // POST /auth/refresh
	if err != nil {
		panic(err)
	}
	_, err = svc.Refresh(tokens.RefreshToken) // replayed: the session dies
	fmt.Println("replay:", auth.Reason(err))
	_, err = svc.Verify(next.AccessToken)
	fmt.Println("after replay:", auth.Reason(err))

	// Output:
	// print the generated API_TOKEN once: true
	// bootstrap: bootstrap admin
	// minted a readonly key
	// request by jwt readonly may read scenes: true
	// may load scenes: role_insufficient
	// replay: refresh_reuse
	// after replay: session_revoked
}
