package api_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime/internal/api"
)

func entries(n int) []api.HistoryEntry {
	out := make([]api.HistoryEntry, n)
	for i := range out {
		out[i] = api.HistoryEntry{ScenePath: fmt.Sprintf("res://s%d.tscn", i), LoadedAt: t0.Add(time.Duration(i) * time.Second), Status: api.HistoryLoaded}
	}
	return out
}

func TestMemoryHistory(t *testing.T) {
	tests := []struct {
		name      string
		max       int
		appended  int
		limit     int
		wantFirst int // index of the oldest entry returned, -1 for none
		wantLen   int
	}{
		{name: "empty", max: 3, appended: 0, limit: 0, wantFirst: -1, wantLen: 0},
		{name: "under capacity", max: 3, appended: 2, limit: 0, wantFirst: 0, wantLen: 2},
		{name: "full", max: 3, appended: 3, limit: 0, wantFirst: 0, wantLen: 3},
		{name: "wrapped", max: 3, appended: 7, limit: 0, wantFirst: 4, wantLen: 3},
		{name: "wrapped with limit", max: 3, appended: 7, limit: 2, wantFirst: 5, wantLen: 2},
		{name: "limit over length", max: 10, appended: 4, limit: 50, wantFirst: 0, wantLen: 4},
		{name: "default size", max: 0, appended: api.DefaultHistorySize + 5, limit: 0, wantFirst: 5, wantLen: api.DefaultHistorySize},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := api.NewMemoryHistory(tt.max)
			all := entries(tt.appended)
			for _, e := range all {
				if err := h.Append(context.Background(), e); err != nil {
					t.Fatal(err)
				}
			}
			got, err := h.List(context.Background(), tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.wantLen {
				t.Fatalf("len = %d, want %d", len(got), tt.wantLen)
			}
			for i, e := range got {
				if want := all[tt.wantFirst+i]; e != want {
					t.Errorf("entry %d = %+v, want %+v", i, e, want)
				}
			}
		})
	}
}

func TestMemoryHistoryConcurrent(t *testing.T) {
	h := api.NewMemoryHistory(50)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				_ = h.Append(context.Background(), api.HistoryEntry{ScenePath: fmt.Sprintf("res://%d/%d.tscn", g, i)})
				_, _ = h.List(context.Background(), 10)
			}
		}()
	}
	wg.Wait()
	if got, _ := h.List(context.Background(), 0); len(got) != 50 {
		t.Errorf("len = %d, want 50", len(got))
	}
}

func TestRoles(t *testing.T) {
	for _, name := range []string{"guest", "readonly", "developer", "admin"} {
		r, err := api.ParseRole(name)
		if err != nil || r.String() != name {
			t.Errorf("ParseRole(%q) = %v, %v", name, r, err)
		}
	}
	if _, err := api.ParseRole("root"); err == nil {
		t.Error("ParseRole accepted root")
	}
	tests := []struct {
		role, min api.Role
		want      bool
	}{
		{api.RoleAdmin, api.RoleDeveloper, true},
		{api.RoleDeveloper, api.RoleDeveloper, true},
		{api.RoleReadonly, api.RoleDeveloper, false},
		{api.RoleGuest, api.RoleGuest, true},
		{api.RoleGuest, api.RoleReadonly, false},
	}
	for _, tt := range tests {
		if got := tt.role.Allows(tt.min); got != tt.want {
			t.Errorf("%s.Allows(%s) = %v, want %v", tt.role, tt.min, got, tt.want)
		}
	}
}
