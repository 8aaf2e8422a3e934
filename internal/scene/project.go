package scene

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
)

// Project is a Godot project's file tree: the root that res:// paths name.
// It reads from an fs.FS (the sample content embedded in the binary) or
// from a directory on disk opened with os.OpenRoot, which refuses to
// follow anything out of the root. For both, every path is checked with
// Resolve and every symlink on the way is checked to stay inside the root.
//
// A Project is safe for concurrent use.
type Project struct {
	fsys fs.FS
	root *os.Root // nil for fs.FS projects
	name string
}

// NewProject returns a project over fsys, whose root is res://. name is
// used in messages ("embedded", a directory).
func NewProject(name string, fsys fs.FS) *Project {
	return &Project{fsys: fsys, name: name}
}

// OpenProject opens the directory dir as a project. Close releases it.
func OpenProject(dir string) (*Project, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open project %s: %w", dir, err)
	}
	return &Project{fsys: root.FS(), root: root, name: dir}, nil
}

// Close releases a project opened with OpenProject; it is a no-op for
// fs.FS projects.
func (p *Project) Close() error {
	if p.root == nil {
		return nil
	}
	return p.root.Close()
}

// Name returns the name the project was created with.
func (p *Project) Name() string { return p.name }

// maxLinkHops bounds symlink resolution, as in the kernel.
const maxLinkHops = 40

// checkLinks walks the components of the clean relative path rel and
// refuses symlinks whose target is absolute or leads out of the root. It
// returns ErrNotFound for a missing component.
func (p *Project) checkLinks(rel string) error {
	parts := strings.Split(rel, "/")
	done := "" // resolved prefix, free of symlinks
	hops := 0
	for len(parts) > 0 {
		comp := parts[0]
		parts = parts[1:]
		switch comp {
		case "", ".":
			continue
		case "..":
			if done == "" {
				return fmt.Errorf("%w: a symlink leads out of the project root", ErrForbiddenPath)
			}
			done = path.Dir(done)
			if done == "." {
				done = ""
			}
			continue
		}
		cur := path.Join(done, comp)
		info, err := fs.Lstat(p.fsys, cur)
		if err != nil {
			return p.mapErr(err)
		}
		if info.Mode()&fs.ModeSymlink == 0 {
			done = cur
			continue
		}
		hops++
		if hops > maxLinkHops {
			return fmt.Errorf("%w: too many levels of symlinks", ErrForbiddenPath)
		}
		target, err := fs.ReadLink(p.fsys, cur)
		if err != nil {
			return p.mapErr(err)
		}
		if target == "" || path.IsAbs(target) || strings.ContainsAny(target, "\\:") {
			return fmt.Errorf("%w: symlink %s points outside the project root", ErrForbiddenPath, cur)
		}
		joined := path.Join(done, target)
		if joined == ".." || strings.HasPrefix(joined, "../") {
			return fmt.Errorf("%w: symlink %s points outside the project root", ErrForbiddenPath, cur)
		}
		parts = append(strings.Split(joined, "/"), parts...)
		done = ""
	}
	return nil
}

// mapErr turns file-system errors into the package's sentinels.
func (p *Project) mapErr(err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	case strings.Contains(err.Error(), "escapes from parent"), strings.Contains(err.Error(), "path escapes"):
		// os.Root refused to leave the root.
		return fmt.Errorf("%w: %w", ErrForbiddenPath, err)
	}
	return err
}

// ReadFile reads the project file at the res:// path resPath (any file
// type), at most MaxFileSize bytes.
func (p *Project) ReadFile(resPath string) ([]byte, error) {
	res, err := ResolveResource(resPath)
	if err != nil {
		return nil, err
	}
	return p.read(res)
}

// read reads a canonical res:// path.
func (p *Project) read(res string) ([]byte, error) {
	rel := strings.TrimPrefix(res, resPrefix)
	if err := p.checkLinks(rel); err != nil {
		return nil, fmt.Errorf("read %s: %w", res, err)
	}
	f, err := p.fsys.Open(rel)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", res, p.mapErr(err))
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", res, p.mapErr(err))
	}
	if info.IsDir() {
		return nil, fmt.Errorf("read %s: %w: is a directory", res, ErrNotFound)
	}
	if info.Size() > MaxFileSize {
		return nil, fmt.Errorf("read %s: %w: file is %d bytes, over the %d-byte limit", res, ErrInvalidScene, info.Size(), MaxFileSize)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", res, p.mapErr(err))
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("read %s: %w: file is over the %d-byte limit", res, ErrInvalidScene, MaxFileSize)
	}
	return data, nil
}

// Exists reports whether the scene path names an existing .tscn file.
func (p *Project) Exists(scenePath string) (bool, error) {
	res, err := Resolve(scenePath)
	if err != nil {
		return false, err
	}
	rel := strings.TrimPrefix(res, resPrefix)
	if err := p.checkLinks(rel); err != nil {
		if errors.Is(err, ErrNotFound) {
			return false, nil
		}
		return false, err
	}
	info, err := fs.Stat(p.fsys, rel)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, p.mapErr(err)
	}
	return !info.IsDir(), nil
}

// ParseFile reads and parses one scene without instancing.
func (p *Project) ParseFile(scenePath string) (*File, error) {
	res, err := Resolve(scenePath)
	if err != nil {
		return nil, err
	}
	data, err := p.read(res)
	if err != nil {
		return nil, err
	}
	return Parse(res, data)
}

// List returns every .tscn file of the project as a sorted res:// path.
// Directories whose names start with '.' (.godot, .git) are skipped, and
// so are files whose paths Resolve refuses and symlinks that leave the
// root.
func (p *Project) List() ([]string, error) {
	var out []string
	err := fs.WalkDir(p.fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			if name == "." {
				return err
			}
			return nil // unreadable entry: skip it
		}
		if d.IsDir() {
			if name != "." && strings.HasPrefix(d.Name(), ".") {
				return fs.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".tscn") || strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		res, err := Resolve(resPrefix + name)
		if err != nil {
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			if p.checkLinks(name) != nil {
				return nil
			}
			if info, err := fs.Stat(p.fsys, name); err != nil || info.IsDir() {
				return nil
			}
		}
		out = append(out, res)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list scenes in %s: %w", p.name, err)
	}
	slices.Sort(out)
	return out, nil
}
