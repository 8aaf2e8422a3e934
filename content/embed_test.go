package content

import (
	"bufio"
	"bytes"
	"io/fs"
	"path"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestExpectedFilesExist(t *testing.T) {
	for _, name := range []string{
		"project.godot",
		"vr_main.tscn",
		"scenes/menu.tscn",
		"tests/debug.tscn",
		"tests/integration/two_body.tscn",
		"tests/integration/relativity.tscn",
		"tests/integration/belt.tscn",
		"tests/integration/instancing.tscn",
		"tests/integration/parts/planet.tscn",
		"tests/broken/malformed.tscn",
		"tests/broken/unclosed_call.tscn",
		"tests/broken/cycle_a.tscn",
		"tests/broken/cycle_b.tscn",
		"tests/broken/missing_instance.tscn",
		"tests/broken/not_a_scene.txt",
	} {
		t.Run(name, func(t *testing.T) {
			info, err := fs.Stat(FS, name)
			if err != nil {
				t.Fatalf("stat: %v", err)
			}
			if info.Size() == 0 {
				t.Errorf("%s is empty", name)
			}
		})
	}
}

func TestFSHoldsNoGoFiles(t *testing.T) {
	for _, p := range allFiles(t) {
		if strings.HasSuffix(p, ".go") || path.Base(p) == "README.md" {
			t.Errorf("FS holds %s", p)
		}
	}
}

func TestEveryTscnStartsWithHeader(t *testing.T) {
	for _, p := range tscnFiles(t) {
		t.Run(p, func(t *testing.T) {
			data := readFile(t, p)
			if !bytes.HasPrefix(data, []byte("[gd_scene ")) {
				t.Errorf("%s starts with %q, want [gd_scene", p, firstLine(data))
			}
			if !strings.Contains(firstLine(data), " format=3 ") {
				t.Errorf("%s header %q lacks format=3", p, firstLine(data))
			}
		})
	}
}

// section is one [kind attr=value ...] header and the property lines after it.
type section struct {
	line  int
	kind  string
	attrs map[string]string
	props map[string]string
}

var (
	attrRE   = regexp.MustCompile(`(\w+)=("(?:[^"\\]|\\.)*"|[^\s\]]+)`)
	subRefRE = regexp.MustCompile(`SubResource\("([^"]*)"\)`)
	extRefRE = regexp.MustCompile(`ExtResource\("([^"]*)"\)`)
)

// parseSections splits a well-formed generated scene into sections. It is
// deliberately simple: headers start at column 1 and no string spans lines.
func parseSections(t *testing.T, data []byte) []section {
	t.Helper()
	var out []section
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		switch {
		case line == "":
		case strings.HasPrefix(line, "["):
			if !strings.HasSuffix(line, "]") {
				t.Fatalf("line %d: unterminated header %q", n, line)
			}
			inner := line[1 : len(line)-1]
			kind, rest, _ := strings.Cut(inner, " ")
			s := section{line: n, kind: kind, attrs: map[string]string{}, props: map[string]string{}}
			for _, m := range attrRE.FindAllStringSubmatch(rest, -1) {
				v := m[2]
				if uq, err := strconv.Unquote(v); err == nil {
					v = uq
				}
				s.attrs[m[1]] = v
			}
			out = append(out, s)
		default:
			key, val, ok := strings.Cut(line, " = ")
			if !ok || len(out) == 0 {
				t.Fatalf("line %d: not a property: %q", n, line)
			}
			cur := &out[len(out)-1]
			if _, dup := cur.props[key]; dup {
				t.Errorf("line %d: property %s set twice", n, key)
			}
			cur.props[key] = val
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("scan: %v", err)
	}
	return out
}

// TestScenesAreConsistent checks what a Godot loader relies on in every
// scene that is meant to load: load_steps, resource ids defined before use
// and unique, node parents that exist, instanced scenes that exist with
// the uid their header gives, and uids unique across the project.
func TestScenesAreConsistent(t *testing.T) {
	uids := map[string]string{} // uid -> file
	headers := map[string]section{}
	var loadable []string
	for _, p := range tscnFiles(t) {
		if strings.HasPrefix(p, "tests/broken/") {
			continue
		}
		loadable = append(loadable, p)
		secs := parseSections(t, readFile(t, p))
		headers[p] = secs[0]
		uid := secs[0].attrs["uid"]
		if !strings.HasPrefix(uid, "uid://") {
			t.Errorf("%s: uid %q", p, uid)
		}
		if other, dup := uids[uid]; dup {
			t.Errorf("%s and %s share uid %s", p, other, uid)
		}
		uids[uid] = p
	}
	for _, p := range loadable {
		t.Run(p, func(t *testing.T) {
			secs := parseSections(t, readFile(t, p))
			ext, sub := map[string]section{}, map[string]section{}
			nodes := map[string]bool{}
			root := ""
			for i, s := range secs[1:] {
				switch s.kind {
				case "ext_resource":
					if _, dup := ext[s.attrs["id"]]; dup {
						t.Errorf("line %d: ext_resource id %s twice", s.line, s.attrs["id"])
					}
					ext[s.attrs["id"]] = s
					if s.attrs["type"] == "PackedScene" {
						target := strings.TrimPrefix(s.attrs["path"], "res://")
						h, ok := headers[target]
						if !ok {
							t.Errorf("line %d: instanced %s is not a loadable scene of FS", s.line, s.attrs["path"])
						} else if h.attrs["uid"] != s.attrs["uid"] {
							t.Errorf("line %d: uid %s, %s says %s", s.line, s.attrs["uid"], target, h.attrs["uid"])
						}
					}
				case "sub_resource":
					if _, dup := sub[s.attrs["id"]]; dup {
						t.Errorf("line %d: sub_resource id %s twice", s.line, s.attrs["id"])
					}
					sub[s.attrs["id"]] = s
				case "node":
					name, parent, hasParent := s.attrs["name"], s.attrs["parent"], false
					_, hasParent = s.attrs["parent"]
					var p string
					switch {
					case i == 0 || root == "":
						if hasParent {
							t.Fatalf("line %d: first node %s has a parent", s.line, name)
						}
						root = name
						p = "."
					case !hasParent:
						t.Errorf("line %d: second root %s", s.line, name)
					case parent == ".":
						p = name
					default:
						if !nodes[parent] {
							t.Errorf("line %d: parent %q of %s not defined before", s.line, parent, name)
						}
						p = parent + "/" + name
					}
					if nodes[p] {
						t.Errorf("line %d: node path %s twice", s.line, p)
					}
					nodes[p] = true
					if s.attrs["type"] == "" && s.attrs["instance"] == "" {
						t.Errorf("line %d: node %s has neither type nor instance", s.line, name)
					}
				default:
					t.Errorf("line %d: unknown section %s", s.line, s.kind)
				}
				for key, val := range s.props {
					for _, m := range subRefRE.FindAllStringSubmatch(val, -1) {
						if _, ok := sub[m[1]]; !ok {
							t.Errorf("line %d: %s uses SubResource %q not defined before", s.line, key, m[1])
						}
					}
				}
				for _, m := range extRefRE.FindAllStringSubmatch(s.attrs["instance"], -1) {
					if _, ok := ext[m[1]]; !ok {
						t.Errorf("line %d: instance of undefined ExtResource %q", s.line, m[1])
					}
				}
			}
			want := len(ext) + len(sub) + 1
			got := 1
			if v, ok := secs[0].attrs["load_steps"]; ok {
				n, err := strconv.Atoi(v)
				if err != nil {
					t.Fatalf("load_steps %q: %v", v, err)
				}
				got = n
			}
			if got != want {
				t.Errorf("load_steps = %d, want %d", got, want)
			}
			if root == "" {
				t.Error("no root node")
			}
		})
	}
}

// TestBrokenScenesBreakWhereREADMESays checks the error positions that
// README.md documents (1-based line and column).
func TestBrokenScenesBreakWhereREADMESays(t *testing.T) {
	t.Run("malformed.tscn unterminated string at 15:18", func(t *testing.T) {
		data := readFile(t, "tests/broken/malformed.tscn")
		off := offsetOf(t, data, 15, 18)
		if data[off] != '"' {
			t.Fatalf("15:18 is %q, want the opening quote", data[off])
		}
		if bytes.Count(data[:off], []byte(`"`))%2 != 0 {
			t.Error("15:18 is inside a string, not at its opening quote")
		}
		if i := bytes.IndexByte(data[off+1:], '"'); i >= 0 {
			t.Errorf("the string is closed at byte %d", off+1+i)
		}
	})
	t.Run("unclosed_call.tscn unexpected token at 7:1", func(t *testing.T) {
		data := readFile(t, "tests/broken/unclosed_call.tscn")
		lines := strings.Split(string(data), "\n")
		if got, want := lines[5], "metadata/velocity = Vector3(0, 1000, 0"; got != want {
			t.Errorf("line 6 = %q, want %q", got, want)
		}
		if !strings.HasPrefix(lines[6], "metadata/gm") {
			t.Errorf("line 7 = %q, want metadata/gm first", lines[6])
		}
		if strings.Contains(string(data), ")") {
			t.Error("a ')' closes the call somewhere")
		}
	})
	t.Run("cycle_a.tscn and cycle_b.tscn instance each other", func(t *testing.T) {
		for _, c := range []struct{ file, other string }{
			{"tests/broken/cycle_a.tscn", "res://tests/broken/cycle_b.tscn"},
			{"tests/broken/cycle_b.tscn", "res://tests/broken/cycle_a.tscn"},
		} {
			secs := parseSections(t, readFile(t, c.file))
			if got := secs[1].attrs["path"]; got != c.other {
				t.Errorf("%s instances %q, want %q", c.file, got, c.other)
			}
		}
	})
	t.Run("missing_instance.tscn names a file that does not exist", func(t *testing.T) {
		secs := parseSections(t, readFile(t, "tests/broken/missing_instance.tscn"))
		target := strings.TrimPrefix(secs[1].attrs["path"], "res://")
		if _, err := fs.Stat(FS, target); err == nil {
			t.Errorf("%s exists", target)
		}
	})
}

func offsetOf(t *testing.T, data []byte, line, col int) int {
	t.Helper()
	off := 0
	for range line - 1 {
		i := bytes.IndexByte(data[off:], '\n')
		if i < 0 {
			t.Fatalf("fewer than %d lines", line)
		}
		off += i + 1
	}
	off += col - 1
	if off >= len(data) {
		t.Fatalf("%d:%d is past the end", line, col)
	}
	return off
}

func allFiles(t *testing.T) []string {
	t.Helper()
	var out []string
	err := fs.WalkDir(FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk: %v", err)
	}
	return out
}

func tscnFiles(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, p := range allFiles(t) {
		if strings.HasSuffix(p, ".tscn") {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		t.Fatal("no .tscn in FS")
	}
	return out
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	data, err := fs.ReadFile(FS, p)
	if err != nil {
		t.Fatalf("read %s: %v", p, err)
	}
	return data
}

func firstLine(data []byte) string {
	line, _, _ := bytes.Cut(data, []byte("\n"))
	return string(line)
}
