package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spacetime-vr/spacetime/internal/buildinfo"
)

func runVersion(_ context.Context, env *environment, args []string) error {
	fs := newFlagSet(env, "version", "version [--json]")
	asJSON := fs.Bool("json", false, "print a JSON object")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	info := buildinfo.Read()
	if *asJSON {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(info)
	}
	_, err := fmt.Fprintln(env.stdout, info)
	return err
}
