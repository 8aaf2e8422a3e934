package deploy

import (
	"context"
	"database/sql"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime/internal/store"
)

// The backup CronJob's own script, run against a real PostgreSQL holding
// SpaceTime's schema: it writes a dump pg_restore can read, with every
// table, and prunes dumps older than 14 days; the restore Job's script
// then restores it into an empty database, rows included.
func TestBackupScriptDumpsDatabase(t *testing.T) {
	raw := os.Getenv("SPACETIME_TEST_DATABASE_URL")
	if raw == "" {
		t.Skip("needs PostgreSQL: SPACETIME_TEST_DATABASE_URL=postgres://postgres:postgres@127.0.0.1:5432/test?sslmode=disable (scripts/services.sh starts one)")
	}
	for _, tool := range []string{"pg_dump", "pg_restore", "sh"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed (Debian: postgresql-client): %v", tool, err)
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}

	// A database of the test's own, migrated by the store like the server's.
	admin, err := sql.Open("pgx", raw)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	newDB := func(prefix string) (string, *url.URL) {
		name := prefix + strconv.FormatInt(time.Now().UnixNano(), 36)
		if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _, _ = admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)") })
		du := *u
		du.Path = "/" + name
		return name, &du
	}
	dbName, dbURL := newDB("st_backup_")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := store.Open(ctx, store.Options{Driver: store.DriverPostgres, DSN: dbURL.String()})
	if err != nil {
		t.Fatalf("store: %v", err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("pgx", dbURL.String())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(tables) == 0 {
		t.Fatal("the store created no tables")
	}

	// The CronJob's command and its PG* variables, pointed at the test
	// database (no TLS there) and a temp dir instead of the volume.
	w := findWorkload(t, loadManifests(t), "CronJob", backupName)
	c := w.Template.Spec.Containers[0]
	command := append(append([]string{}, c.Command...), c.Args...)
	dir := t.TempDir()
	old := filepath.Join(dir, "spacetime-20000101T000000Z.dump")
	recent := filepath.Join(dir, "spacetime-recent.dump")
	for _, f := range []string{old, recent} {
		if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chtimes(old, time.Now().Add(-20*24*time.Hour), time.Now().Add(-20*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	pw, _ := u.User.Password()
	pgEnv := func(db string, extra ...string) []string {
		return append([]string{
			"PATH=" + os.Getenv("PATH"),
			"HOME=" + t.TempDir(),
			"BACKUP_DIR=" + dir,
			"PGHOST=" + u.Hostname(),
			"PGPORT=" + u.Port(),
			"PGUSER=" + u.User.Username(),
			"PGPASSWORD=" + pw,
			"PGDATABASE=" + db,
			"PGSSLMODE=disable",
		}, extra...)
	}
	cmd := exec.CommandContext(ctx, command[0], command[1:]...)
	cmd.Env = pgEnv(dbName)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("backup script: %v\n%s", err, out)
	}
	t.Logf("backup script:\n%s", out)

	dumps, err := filepath.Glob(filepath.Join(dir, "spacetime-2*.dump"))
	if err != nil {
		t.Fatal(err)
	}
	if len(dumps) != 1 {
		t.Fatalf("dumps %v, want exactly one new dump and the 20-day-old one pruned", dumps)
	}
	if dumps[0] == old {
		t.Fatal("the 20-day-old dump was not pruned")
	}
	if _, err := os.Stat(recent); err != nil {
		t.Errorf("a recent dump was pruned: %v", err)
	}
	if partial, _ := filepath.Glob(filepath.Join(dir, "*.partial")); len(partial) > 0 {
		t.Errorf("partial files left: %v", partial)
	}
	list, err := exec.CommandContext(ctx, "pg_restore", "--list", dumps[0]).CombinedOutput()
	if err != nil {
		t.Fatalf("pg_restore --list: %v\n%s", err, list)
	}
	for _, table := range tables {
		if !strings.Contains(string(list), " TABLE public "+table+" ") && !strings.Contains(string(list), " TABLE DATA public "+table+" ") {
			t.Errorf("table %s is not in the dump:\n%s", table, list)
		}
	}
	// Restore into an empty database with the restore Job's script.
	counts := func(dsn string) map[string]int {
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		out := map[string]int{}
		for _, table := range tables {
			var n int
			if err := db.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
				t.Fatalf("count %s: %v", table, err)
			}
			out[table] = n
		}
		return out
	}
	before := counts(dbURL.String())
	total := 0
	for _, n := range before {
		total += n
	}
	if total == 0 {
		t.Fatal("the migrated database holds no rows at all: nothing to compare after the restore")
	}
	restoreName, restoreURL := newDB("st_restore_")
	rw := findWorkload(t, loadManifests(t), "Job", "spacetime-restore")
	rc := rw.Template.Spec.Containers[0]
	rcommand := append(append([]string{}, rc.Command...), rc.Args...)
	cmd = exec.CommandContext(ctx, rcommand[0], rcommand[1:]...)
	cmd.Env = pgEnv(restoreName, "DUMP="+filepath.Base(dumps[0]))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("restore script: %v\n%s", err, out)
	} else {
		t.Logf("restore script:\n%s", out)
	}
	after := counts(restoreURL.String())
	for _, table := range tables {
		if before[table] != after[table] {
			t.Errorf("table %s: %d rows before the dump, %d after the restore", table, before[table], after[table])
		}
	}

	// A missing dump fails with the list of dumps.
	cmd = exec.CommandContext(ctx, rcommand[0], rcommand[1:]...)
	cmd.Env = pgEnv(restoreName, "DUMP=no-such.dump")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "no "+filepath.Join(dir, "no-such.dump")) {
		t.Errorf("restoring a missing dump: err %v, output %s", err, out)
	}
}
