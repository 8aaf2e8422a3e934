//go:build linux

package supervisor

import (
	"context"
	"errors"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// alive reports whether pid is a live process (not gone, not a zombie).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// pid (comm) state ...: comm may hold spaces, the state follows the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// What the child leaves behind in its process group dies with it.
func TestSupervisorKillsProcessGroup(t *testing.T) {
	out := &syncBuffer{}
	s, err := New(Options{
		Command: "/bin/sh", Args: []string{"-c", "sleep 300 & echo grandchild $!; exit 3"},
		API:    &url.URL{Scheme: "http", Host: freeAddr(t)},
		Stdout: out, Backoff: time.Millisecond, MaxRestarts: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Run(context.Background()); !errors.Is(err, ErrCrashLoop) {
		t.Fatalf("Run = %v, want ErrCrashLoop", err)
	}
	var pids []int
	for _, line := range strings.Split(out.String(), "\n") {
		if _, rest, ok := strings.Cut(line, "] grandchild "); ok {
			pid, err := strconv.Atoi(rest)
			if err != nil {
				t.Fatalf("line %q: %v", line, err)
			}
			pids = append(pids, pid)
		}
	}
	if len(pids) != 2 {
		t.Fatalf("want 2 grandchildren (a start and a restart), output:\n%s", out)
	}
	for _, pid := range pids {
		// The grandchild was re-parented; killed, it is gone or a zombie.
		deadline := time.Now().Add(10 * time.Second)
		for alive(pid) {
			if time.Now().After(deadline) {
				t.Fatalf("grandchild %d outlived its child", pid)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if st := s.Status(); st.LastExit == nil || st.LastExit.Status != 3 || st.Restarts != 1 {
		t.Errorf("status %+v, want last exit status 3 after 1 restart", st)
	}
}
