package redislimit

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime/internal/ratelimit"
)

func banRule(limit int, d time.Duration) ratelimit.BanRule {
	return ratelimit.BanRule{Window: time.Minute, Limit: limit, Duration: d, Reason: "r"}
}

func sameBan(a, b ratelimit.Ban) bool {
	return a.Key == b.Key && a.Reason == b.Reason && a.Since.Equal(b.Since) && a.Until.Equal(b.Until) && a.Violations == b.Violations
}

// testBanStoreContract runs the BanStore behaviour shared by every
// implementation against s. Times are based on the wall clock, as the
// Redis store lets Redis expire bans at their end.
func testBanStoreContract(t *testing.T, newStore func(t *testing.T) ratelimit.BanStore) {
	ctx := context.Background()
	base := time.Now().Truncate(time.Millisecond)
	t.Run("violations slide", func(t *testing.T) {
		s := newStore(t)
		steps := []struct {
			at      time.Duration
			created bool
		}{
			{0, false}, {10 * time.Second, false}, {20 * time.Second, false},
			{60 * time.Second, false}, // (0, 60 s]: 10 s, 20 s, 60 s
			{71 * time.Second, false}, // (11 s, 71 s]: 20 s, 60 s, 71 s
			{72 * time.Second, true},  // four within a minute
			{73 * time.Second, false}, // banned: returned, not recorded
		}
		for _, st := range steps {
			now := base.Add(st.at)
			b, created, err := s.AddViolation(ctx, "k", now, banRule(3, time.Hour))
			if err != nil || created != st.created {
				t.Fatalf("at %s: created %v, %v; want %v", st.at, created, err, st.created)
			}
			if banned := now.Before(b.Until); banned != (st.at >= 72*time.Second) {
				t.Fatalf("at %s: ban %+v", st.at, b)
			}
		}
		want := ratelimit.Ban{Key: "k", Reason: "r", Since: base.Add(72 * time.Second), Until: base.Add(72*time.Second + time.Hour), Violations: 4}
		if b, ok, err := s.Get(ctx, "k"); err != nil || !ok || !sameBan(b, want) {
			t.Errorf("Get = %+v, %v, %v; want %+v", b, ok, err, want)
		}
	})
	t.Run("nanoseconds are kept", func(t *testing.T) {
		s := newStore(t)
		now := base.Add(123456789)
		for i := range 2 {
			b, created, err := s.AddViolation(ctx, "k", now.Add(time.Duration(i)), banRule(1, time.Hour+1))
			if err != nil {
				t.Fatal(err)
			}
			if i == 1 && (!created || !b.Until.Equal(now.Add(time.Hour+2))) {
				t.Errorf("ban %+v, created %v", b, created)
			}
		}
		if b, _, _ := s.Get(ctx, "k"); !b.Since.Equal(now.Add(1)) || !b.Until.Equal(now.Add(time.Hour+2)) {
			t.Errorf("Get = %+v, want since %s until %s", b, now.Add(1), now.Add(time.Hour+2))
		}
	})
	t.Run("list and delete", func(t *testing.T) {
		s := newStore(t)
		bans := []ratelimit.Ban{
			{Key: "b", Reason: "second", Since: base.Add(time.Second), Until: base.Add(time.Hour)},
			{Key: "a", Reason: "first", Since: base, Until: base.Add(time.Minute), Violations: 4},
			{Key: "c", Reason: "same instant", Since: base.Add(time.Second), Until: base.Add(2 * time.Minute)},
		}
		for _, b := range bans {
			if err := s.Put(ctx, b); err != nil {
				t.Fatal(err)
			}
		}
		list, err := s.List(ctx, base.Add(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		wantKeys := []string{"a", "b", "c"}
		if len(list) != len(wantKeys) {
			t.Fatalf("List = %+v, want keys %v", list, wantKeys)
		}
		for i, k := range wantKeys {
			if list[i].Key != k {
				t.Errorf("List[%d] = %q, want %q", i, list[i].Key, k)
			}
		}
		if !sameBan(list[0], bans[1]) {
			t.Errorf("List[0] = %+v, want %+v", list[0], bans[1])
		}
		// At a's end it is no longer listed.
		if list, _ := s.List(ctx, base.Add(time.Minute)); len(list) != 2 || list[0].Key != "b" {
			t.Errorf("List at a's end = %+v, want b, c", list)
		}
		if lifted, err := s.Delete(ctx, "b", base.Add(time.Second)); err != nil || !lifted {
			t.Errorf("Delete(b) = %v, %v; want true", lifted, err)
		}
		if lifted, _ := s.Delete(ctx, "b", base.Add(time.Second)); lifted {
			t.Error("a second Delete(b) reported a lift")
		}
		if lifted, _ := s.Delete(ctx, "c", base.Add(3*time.Minute)); lifted {
			t.Error("Delete of an ended ban reported a lift")
		}
		if lifted, _ := s.Delete(ctx, "nobody", base); lifted {
			t.Error("Delete of a stranger reported a lift")
		}
		if list, _ := s.List(ctx, base.Add(time.Second)); len(list) != 1 || list[0].Key != "a" {
			t.Errorf("List after deletes = %+v, want a", list)
		}
	})
	t.Run("put and delete forget violations", func(t *testing.T) {
		s := newStore(t)
		for range 2 {
			s.AddViolation(ctx, "k", base, banRule(2, time.Hour))
		}
		if err := s.Put(ctx, ratelimit.Ban{Key: "k", Since: base, Until: base.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		if lifted, _ := s.Delete(ctx, "k", base); !lifted {
			t.Fatal("Delete did not lift the ban")
		}
		for i := range 2 {
			if _, created, _ := s.AddViolation(ctx, "k", base, banRule(2, time.Hour)); created {
				t.Fatalf("violation %d after Put earned a ban: the old ones were kept", i+1)
			}
		}
	})
	t.Run("concurrent crossings earn one ban", func(t *testing.T) {
		s := newStore(t)
		var created atomic.Int64
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 25 {
					_, c, err := s.AddViolation(ctx, "k", base, banRule(3, time.Hour))
					if err != nil {
						t.Error(err)
						return
					}
					if c {
						created.Add(1)
					}
				}
			})
		}
		wg.Wait()
		if got := created.Load(); got != 1 {
			t.Errorf("%d bans created, want 1", got)
		}
	})
}

// TestBanStoreContract: the Redis store behaves as MemoryBanStore on the
// same script (the memory store runs as a check of the script itself).
func TestBanStoreContract(t *testing.T) {
	t.Run("memory", func(t *testing.T) {
		testBanStoreContract(t, func(*testing.T) ratelimit.BanStore {
			return ratelimit.NewMemoryBanStore(ratelimit.MemoryBanStoreOptions{})
		})
	})
	t.Run("redis", func(t *testing.T) {
		testBanStoreContract(t, func(t *testing.T) ratelimit.BanStore {
			prefix, clients := redisEnv(t, 1)
			return NewBanStore(clients[0], Options{Prefix: prefix})
		})
	})
}

// TestBansAcrossReplicas: violations recorded through two clients add up
// to one ban, which both see, and concurrent crossings from both earn one.
func TestBansAcrossReplicas(t *testing.T) {
	prefix, clients := redisEnv(t, 2)
	ctx := context.Background()
	a, b := NewBanStore(clients[0], Options{Prefix: prefix}), NewBanStore(clients[1], Options{Prefix: prefix})
	now := time.Now()
	rule := banRule(3, time.Hour)
	for i, s := range []*BanStore{a, b, a} {
		if _, created, err := s.AddViolation(ctx, "ip:192.0.2.1", now.Add(time.Duration(i)), rule); err != nil || created {
			t.Fatalf("violation %d: created %v, %v", i+1, created, err)
		}
	}
	ban, created, err := b.AddViolation(ctx, "ip:192.0.2.1", now.Add(3), rule)
	if err != nil || !created || ban.Violations != 4 {
		t.Fatalf("4th violation on the other replica: %+v, created %v, %v; want a ban of 4", ban, created, err)
	}
	if got, ok, err := a.Get(ctx, "ip:192.0.2.1"); err != nil || !ok || !sameBan(got, ban) {
		t.Errorf("the first replica sees %+v, %v, %v; want %+v", got, ok, err, ban)
	}

	var bans atomic.Int64
	var wg sync.WaitGroup
	for i := range 8 {
		s := []*BanStore{a, b}[i%2]
		wg.Go(func() {
			for range 25 {
				_, c, err := s.AddViolation(ctx, "ip:192.0.2.2", time.Now(), rule)
				if err != nil {
					t.Error(err)
					return
				}
				if c {
					bans.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if got := bans.Load(); got != 1 {
		t.Errorf("%d bans from two replicas hammering, want 1", got)
	}
}

// TestBanExpires: Redis drops a ban at its end (by its own clock) and its
// index entry with the next List.
func TestBanExpires(t *testing.T) {
	prefix, clients := redisEnv(t, 1)
	c := clients[0]
	ctx := context.Background()
	s := NewBanStore(c, Options{Prefix: prefix})
	now := time.Now()
	for i := range 2 {
		if _, _, err := s.AddViolation(ctx, "k", now, banRule(1, 300*time.Millisecond)); err != nil {
			t.Fatalf("violation %d: %v", i, err)
		}
	}
	ttl, err := c.PTTL(ctx, s.banKey("k")).Result()
	// PEXPIREAT is the caller's Until rounded up to a millisecond, read
	// against the server's clock: allow a few ms either way.
	if err != nil || ttl <= 0 || ttl > 310*time.Millisecond {
		t.Fatalf("ban PTTL %s, %v; want about 300ms", ttl, err)
	}
	if vttl, _ := c.PTTL(ctx, s.violKey("k")).Result(); vttl != -2*time.Nanosecond {
		t.Errorf("violation list PTTL %s after the ban, want deleted", vttl)
	}
	// Wait for Redis to expire the key (polling; the deadline only stops a
	// broken test).
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, ok, err := s.Get(ctx, "k")
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the ban did not expire")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if list, err := s.List(ctx, now.Add(2*time.Minute)); err != nil || len(list) != 0 {
		t.Errorf("List = %+v, %v; want none", list, err)
	}
	if n, _ := c.ZCard(ctx, s.indexKey()).Result(); n != 0 {
		t.Errorf("%d index entries after the ban's end plus a minute, want 0", n)
	}
	// Violations expire one window after the latest.
	if _, _, err := s.AddViolation(ctx, "v", time.Now(), banRule(3, time.Hour)); err != nil {
		t.Fatal(err)
	}
	if vttl, _ := c.PTTL(ctx, s.violKey("v")).Result(); vttl <= 0 || vttl > time.Minute {
		t.Errorf("violation list PTTL %s, want (0, 1m]", vttl)
	}
}

func TestBanStoreKeys(t *testing.T) {
	s := NewBanStore(nil, Options{Prefix: "p:"})
	got := fmt.Sprint(s.banKey("ip:1"), " ", s.violKey("ip:1"), " ", s.indexKey())
	if want := "p:ban:ip:1 p:viol:ip:1 p:bans"; got != want {
		t.Errorf("keys %q, want %q", got, want)
	}
}
