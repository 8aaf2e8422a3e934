package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spacetime-vr/spacetime/internal/config"
	"github.com/spacetime-vr/spacetime/internal/scene"
)

// runScene is `spacetime scene validate|list`: offline scene tools.
func runScene(_ context.Context, env *environment, args []string) error {
	if len(args) == 0 {
		fmt.Fprintln(env.stderr, "Usage: spacetime scene validate [--project DIR] [--json] FILE|res://PATH...\n       spacetime scene list [--project DIR] [--config-dir DIR] [--json]")
		return errUsage
	}
	switch args[0] {
	case "validate":
		return runSceneValidate(env, args[1:])
	case "list":
		return runSceneList(env, args[1:])
	}
	return fmt.Errorf("scene: unknown subcommand %q (want validate or list): %w", args[0], errUsage)
}

func runSceneValidate(env *environment, args []string) error {
	fs := newFlagSet(env, "scene validate", "scene validate [--project DIR] [--json] FILE|res://PATH...")
	projectDir := fs.String("project", "", "project `dir` that res:// names (default: a file's own directory; res:// paths: the embedded sample)")
	asJSON := fs.Bool("json", false, "print one JSON result per scene")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return fmt.Errorf("scene validate: no files given: %w", errUsage)
	}
	var embedded *scene.Project
	invalid := 0
	enc := json.NewEncoder(env.stdout)
	for _, arg := range fs.Args() {
		var (
			res scene.ValidationResult
			err error
		)
		if strings.HasPrefix(arg, "res://") {
			if *projectDir != "" {
				p, perr := openProject(*projectDir)
				if perr != nil {
					return perr
				}
				res, err = p.Validate(arg)
				p.Close()
			} else {
				if embedded == nil {
					embedded, _ = openProject("")
				}
				res, err = embedded.Validate(arg)
			}
		} else {
			res, err = scene.ValidateFile(arg, *projectDir)
		}
		if err != nil {
			fmt.Fprintf(env.stderr, "%s: %v\n", arg, err)
			invalid++
			continue
		}
		if !res.Valid {
			invalid++
		}
		if *asJSON {
			if err := enc.Encode(res); err != nil {
				return err
			}
			continue
		}
		printValidation(env, arg, res)
	}
	if invalid > 0 {
		return exitError{code: 1, msg: fmt.Sprintf("%d of %d scenes invalid", invalid, fs.NArg())}
	}
	return nil
}

func printValidation(env *environment, arg string, r scene.ValidationResult) {
	status := "OK"
	if !r.Valid {
		status = "INVALID"
	}
	i := r.Info
	fmt.Fprintf(env.stdout, "%s: %s (%d nodes, %d bodies, %d particles, player: %v)\n",
		arg, status, i.NodeCount, len(i.Bodies), i.Particles, i.HasPlayer)
	for _, e := range r.Errors {
		fmt.Fprintf(env.stdout, "  error: %s\n", e)
	}
	for _, w := range r.Warnings {
		fmt.Fprintf(env.stdout, "  warning: %s\n", w)
	}
}

func runSceneList(env *environment, args []string) error {
	fs := newFlagSet(env, "scene list", "scene list [--project DIR] [--config-dir DIR] [--json]")
	var flags config.Flags
	fs.StringVar(&flags.Project, "project", "", "project `dir` (default: the embedded sample project)")
	fs.StringVar(&flags.ConfigDir, "config-dir", "", "config `dir` whose whitelist marks what GODOT_ENV may load (default: ./config if it exists, else the embedded files)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(config.Options{Getenv: env.getenv, Flags: flags, WorkDir: env.workDir})
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	project, err := openProject(cfg.Runtime.Project)
	if err != nil {
		return err
	}
	defer project.Close()
	paths, err := project.List()
	if err != nil {
		return fmt.Errorf("list scenes: %w", err)
	}
	type entry struct {
		Path    string `json:"scene_path"`
		Allowed bool   `json:"allowed"`
	}
	entries := make([]entry, 0, len(paths))
	for _, p := range paths {
		entries = append(entries, entry{Path: p, Allowed: cfg.SceneWhitelist.Allowed(p)})
	}
	if *asJSON {
		return json.NewEncoder(env.stdout).Encode(map[string]any{"environment": cfg.Environment, "scenes": entries})
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "SCENE\tALLOWED IN %s\n", strings.ToUpper(cfg.Environment))
	for _, e := range entries {
		fmt.Fprintf(tw, "%s\t%v\n", e.Path, e.Allowed)
	}
	return tw.Flush()
}
