// Command gencontent writes SpaceTime's sample project (the content/
// directory: vr_main.tscn, scenes/, tests/) from the J2000 planetary data in
// planets-j2000.json.
//
// It turns JPL's approximate Keplerian elements into heliocentric ecliptic
// state vectors (Kepler's equation solved by Newton's method), splits the
// Earth-Moon barycentre into the Earth and the Moon, shifts every body to
// the system's barycentric frame and writes Godot 4 text scenes whose
// numbers parse back to the exact float64 values. The output depends only
// on the input: running it twice gives identical files.
//
// Usage:
//
//	go run ./tools/gencontent -out content
//
// or `go generate ./content/`.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "gencontent:", err)
		}
		os.Exit(2)
	}
}

// run parses the flags, generates the files and writes them under -out.
func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gencontent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "content", "content root to write into")
	ephPath := fs.String("ephemeris", "", "planets-j2000.json to read (default: the embedded copy)")
	quiet := fs.Bool("q", false, "do not list the files written")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	data := defaultEphemeris
	if *ephPath != "" {
		var err error
		if data, err = os.ReadFile(*ephPath); err != nil {
			return fmt.Errorf("read ephemeris: %w", err)
		}
	}
	eph, err := parseEphemeris(data)
	if err != nil {
		return err
	}
	files, err := generate(eph)
	if err != nil {
		return err
	}
	if err := writeFiles(*out, files); err != nil {
		return err
	}
	if !*quiet {
		for _, f := range files {
			fmt.Fprintln(stdout, filepath.Join(*out, filepath.FromSlash(f.path)))
		}
	}
	return nil
}

// writeFiles writes files under root, creating directories as needed.
func writeFiles(root string, files []file) error {
	for _, f := range files {
		p := filepath.Join(root, filepath.FromSlash(f.path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("write %s: %w", p, err)
		}
		if err := os.WriteFile(p, f.data, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", p, err)
		}
	}
	return nil
}
