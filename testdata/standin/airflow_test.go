package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// startTestPG serves s on a loopback port until the test ends and points
// Airflow's AIRFLOW__DATABASE__SQL_ALCHEMY_CONN at it.
func startTestPG(t *testing.T, s *pgServer) int {
	t.Helper()
	ln := serveLoopback(t, s.handleConn)
	port := ln.Addr().(*net.TCPAddr).Port
	t.Setenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", fmt.Sprintf("postgresql+psycopg2://airflow:pw@127.0.0.1:%d/airflow", port))
	return port
}

// captureLog sends logf's lines to a buffer until the test ends and
// returns a function that reads them (under logf's lock: servers log from
// their own goroutines).
func captureLog(t *testing.T) func() string {
	t.Helper()
	buf := &bytes.Buffer{}
	logMu.Lock()
	old := logOut
	logOut = buf
	logMu.Unlock()
	t.Cleanup(func() {
		logMu.Lock()
		logOut = old
		logMu.Unlock()
	})
	return func() string {
		logMu.Lock()
		defer logMu.Unlock()
		return buf.String()
	}
}

// airflowTestEnv clears what the tests set, makes the loops fast and
// returns the log reader.
func airflowTestEnv(t *testing.T) func() string {
	t.Helper()
	for _, v := range []string{"_AIRFLOW_DB_MIGRATE", "_AIRFLOW_DB_UPGRADE", "_AIRFLOW_WWW_USER_CREATE", "_AIRFLOW_WWW_USER_USERNAME",
		"_AIRFLOW_WWW_USER_PASSWORD", "STANDIN_MIGRATE_FAIL", "STANDIN_EXIT_CODE", "STANDIN_UNHEALTHY", "STANDIN_VERSION"} {
		t.Setenv(v, "")
	}
	t.Setenv("AIRFLOW_VERSION", "3.3.2")
	old := airflowMigrationPoll
	airflowMigrationPoll = 10 * time.Millisecond
	t.Cleanup(func() { airflowMigrationPoll = old })
	return captureLog(t)
}

func alembicRows(s *pgServer, db string) ([]string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rows, ok := s.state.Alembic[db]
	return slices.Clone(rows), ok
}

func TestAirflowMigrationHead(t *testing.T) {
	t.Setenv("AIRFLOW_VERSION", "3.3.2")
	h := airflowMigrationHead()
	if len(h) != 12 || strings.Trim(h, "0123456789abcdef") != "" {
		t.Errorf("head %q is not 12 hex digits", h)
	}
	t.Setenv("AIRFLOW_VERSION", "")
	t.Setenv("STANDIN_VERSION", "3.3.2-python3.12")
	if airflowMigrationHead() != h || airflowPackageVersion() != "3.3.2" {
		t.Errorf("the tag's version gives another head")
	}
	t.Setenv("AIRFLOW_VERSION", "3.4.0")
	if airflowMigrationHead() == h {
		t.Errorf("another version, same head")
	}
	if pySet(nil) != "set()" || pySet([]string{"a", "b"}) != "{'a', 'b'}" {
		t.Errorf("pySet: %s %s", pySet(nil), pySet([]string{"a", "b"}))
	}
}

func TestParseCheckMigrationsArgs(t *testing.T) {
	for _, c := range []struct {
		args []string
		want int
	}{{nil, 60}, {[]string{"-t", "5"}, 5}, {[]string{"-t7"}, 7}, {[]string{"--migration-wait-timeout=9"}, 9}, {[]string{"--migration-wait-timeout", "0", "-v"}, 0}} {
		if got, err := parseCheckMigrationsArgs(c.args); err != nil || got != c.want {
			t.Errorf("%q: %d %v", c.args, got, err)
		}
	}
	for _, bad := range [][]string{{"-t"}, {"-t", "x"}, {"--nope"}} {
		if _, err := parseCheckMigrationsArgs(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestAirflowMigrations runs migrate and check-migrations against the
// stand-in PostgreSQL: the state is kept there, per database.
func TestAirflowMigrations(t *testing.T) {
	logText := airflowTestEnv(t)
	s := testPG(t)
	startTestPG(t, s)
	head := airflowMigrationHead()

	// Never migrated: check-migrations waits, then fails with Airflow's words.
	var out, errOut bytes.Buffer
	start := time.Now()
	if code := airflowCheckMigrations(3, &out, &errOut); code != 1 {
		t.Fatalf("unmigrated: exit %d", code)
	}
	want := "TimeoutError: There are still unapplied migrations after 3 seconds. MigrationHead(s) in DB: set() | Migration Head(s) in Source Code: {'" + head + "'}\n"
	if !strings.HasSuffix(errOut.String(), want) || !strings.HasPrefix(errOut.String(), "Traceback (most recent call last):") {
		t.Errorf("stderr %q, want it to end with %q", errOut.String(), want)
	}
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Errorf("did not wait: %v", d)
	}
	if !strings.Contains(logText(), "Waiting for migrations... 2 second(s)") {
		t.Errorf("log lacks the waiting lines: %s", logText())
	}
	if _, ok := alembicRows(s, "airflow"); ok {
		t.Error("a check created alembic_version")
	}
	if err := airflowRequireMigrated(); err == nil || !strings.Contains(err.Error(), "ERROR: You need to initialize the database. Please run `airflow db migrate`. Make sure the command is run using Airflow version 3.3.2.") {
		t.Errorf("components on an unmigrated database: %v", err)
	}

	// The migration knob: logged failure, nothing recorded.
	t.Setenv("STANDIN_MIGRATE_FAIL", "1")
	out.Reset()
	errOut.Reset()
	if code := airflowDBMigrate(&out, &errOut); code != 1 || !strings.Contains(errOut.String(), "STANDIN_MIGRATE_FAIL") {
		t.Errorf("knob: exit %d, %q", code, errOut.String())
	}
	if _, ok := alembicRows(s, "airflow"); ok {
		t.Error("a failed migration recorded something")
	}
	t.Setenv("STANDIN_MIGRATE_FAIL", "")

	// Migrated: recorded in the server's state file, and the check passes at once.
	out.Reset()
	if code := airflowDBMigrate(&out, &errOut); code != 0 || !strings.Contains(out.String(), "Database migrating done!") || strings.Contains(out.String(), ":pw@") {
		t.Fatalf("migrate: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	if rows, _ := alembicRows(s, "airflow"); !slices.Equal(rows, []string{head}) {
		t.Errorf("alembic_version %q, want [%s]", rows, head)
	}
	if again, err := initPostgresState(s.dataDir); err != nil || !slices.Equal(again.Alembic["airflow"], []string{head}) {
		t.Errorf("not persisted: %+v %v", again, err)
	}
	if code := airflowCheckMigrations(60, &out, &errOut); code != 0 {
		t.Errorf("migrated: exit %d", code)
	}
	if err := airflowRequireMigrated(); err != nil {
		t.Errorf("migrated: %v", err)
	}
	if code := airflowDBMigrate(&out, &errOut); code != 0 { // idempotent
		t.Errorf("second migrate: exit %d", code)
	}
	if rows, _ := alembicRows(s, "airflow"); !slices.Equal(rows, []string{head}) {
		t.Errorf("after a second migrate: %q", rows)
	}

	// Another Airflow version needs its own migration.
	t.Setenv("AIRFLOW_VERSION", "3.4.0")
	errOut.Reset()
	if code := airflowCheckMigrations(1, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "MigrationHead(s) in DB: {'"+head+"'}") {
		t.Errorf("older database: exit %d %q", code, errOut.String())
	}
	if err := airflowRequireMigrated(); err == nil || !strings.Contains(err.Error(), "You need to migrate the database") {
		t.Errorf("older database: %v", err)
	}
	if code := airflowDBMigrate(&out, &errOut); code != 0 || airflowCheckMigrations(1, &out, &errOut) != 0 {
		t.Errorf("upgrade failed")
	}

	// The database must answer: a wrong password is an OperationalError.
	conn := os.Getenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")
	t.Setenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", strings.Replace(conn, "127.0.0.1", "localhost", 1)+"x")
	errOut.Reset()
	if code := airflowCheckMigrations(1, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), `database "airflowx" does not exist`) {
		t.Errorf("bad database: exit %d %q", code, errOut.String())
	}
}

func initPostgresState(dir string) (pgState, error) {
	s, err := initPostgres(dir)
	if err != nil {
		return pgState{}, err
	}
	return s.state, nil
}

// TestAirflowEntrypoint runs /entrypoint as airflow-init does: migration
// and admin creation first, whatever the command, then the command.
func TestAirflowEntrypoint(t *testing.T) {
	logText := airflowTestEnv(t)
	s := testPG(t)
	startTestPG(t, s)
	init := []string{"db", "check-migrations", "-t", "2"}

	// Without the entrypoint's switches nothing migrates the database.
	if code := airflowEntrypointMain(init); code != 1 {
		t.Errorf("no migration: exit %d", code)
	}
	t.Setenv("_AIRFLOW_DB_MIGRATE", "true")
	t.Setenv("_AIRFLOW_WWW_USER_CREATE", "true")
	t.Setenv("_AIRFLOW_WWW_USER_USERNAME", "admin")
	t.Setenv("_AIRFLOW_WWW_USER_PASSWORD", "")
	t.Setenv("STANDIN_MIGRATE_FAIL", "1")
	// As the real entrypoint: no admin password is fatal.
	if code := airflowEntrypointMain(init); code != 1 {
		t.Errorf("no admin password: exit %d", code)
	}
	// The failed migration goes on (|| true), and the check then fails the job.
	t.Setenv("_AIRFLOW_WWW_USER_PASSWORD", "secret")
	if code := airflowEntrypointMain(init); code != 1 {
		t.Errorf("STANDIN_MIGRATE_FAIL: exit %d", code)
	}
	log := logText()
	for _, want := range []string{"airflow db migrate exited 1; going on", "airflow users create exited 1; going on"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if _, ok := alembicRows(s, "airflow"); ok {
		t.Error("STANDIN_MIGRATE_FAIL recorded a migration")
	}
	// The servers refuse an unmigrated database, as Airflow's check_migrations does.
	if code := entrypointWithin(t, 10*time.Second, "scheduler"); code != 1 {
		t.Errorf("scheduler on an unmigrated database: exit %d", code)
	}
	t.Setenv("STANDIN_MIGRATE_FAIL", "")
	if code := airflowEntrypointMain(append([]string{"airflow"}, init...)); code != 0 {
		t.Errorf("init job: exit %d", code)
	}
	if rows, _ := alembicRows(s, "airflow"); len(rows) != 1 {
		t.Errorf("not migrated: %q", rows)
	}
	// Any non-empty value switches the migration on, as in the real script.
	t.Setenv("_AIRFLOW_DB_MIGRATE", "")
	t.Setenv("_AIRFLOW_DB_UPGRADE", "yes")
	t.Setenv("AIRFLOW_VERSION", "3.4.0")
	if code := airflowEntrypointMain([]string{"db", "check-migrations", "-t", "1"}); code != 0 {
		t.Errorf("_AIRFLOW_DB_UPGRADE: exit %d", code)
	}
	// version keeps its old contract: it needs _AIRFLOW_DB_MIGRATE=true.
	if code := airflowEntrypointMain([]string{"version"}); code != 1 {
		t.Errorf("version without _AIRFLOW_DB_MIGRATE: exit %d", code)
	}
	t.Setenv("_AIRFLOW_DB_MIGRATE", "true")
	if code := airflowEntrypointMain([]string{"version"}); code != 0 {
		t.Errorf("version: exit %d", code)
	}
	t.Setenv("_AIRFLOW_WWW_USER_USERNAME", "")
	if code := airflowEntrypointMain([]string{"version"}); code != 1 {
		t.Errorf("version without a user name: exit %d", code)
	}
	// STANDIN_EXIT_CODE still applies to the one-shot commands.
	t.Setenv("STANDIN_EXIT_CODE", "4")
	if code := airflowEntrypointMain(init); code != 4 {
		t.Errorf("STANDIN_EXIT_CODE=4: exit %d", code)
	}
}

// entrypointWithin runs /entrypoint ARGS and fails the test if it has not
// exited within d (a server that started by mistake).
func entrypointWithin(t *testing.T, d time.Duration, args ...string) int {
	t.Helper()
	done := make(chan int, 1)
	go func() { done <- airflowEntrypointMain(args) }()
	select {
	case code := <-done:
		return code
	case <-time.After(d):
		t.Fatalf("/entrypoint %s still running after %v", strings.Join(args, " "), d)
		return -1
	}
}

func TestAirflowUsersCreate(t *testing.T) {
	airflowTestEnv(t)
	s := testPG(t)
	startTestPG(t, s)
	var out, errOut bytes.Buffer
	if code := airflowUsersCreate("admin", "Admin", &out, &errOut); code != 1 || !strings.Contains(errOut.String(), `relation "ab_user" does not exist`) {
		t.Errorf("unmigrated: exit %d %q", code, errOut.String())
	}
	airflowDBMigrate(&out, &errOut)
	out.Reset()
	if code := airflowUsersCreate("admin", "Admin", &out, &errOut); code != 0 || out.String() != "User \"admin\" created with role \"Admin\"\n" {
		t.Errorf("migrated: exit %d %q", code, out.String())
	}
	// No database configured: the session reports it.
	t.Setenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "")
	if _, _, err := airflowDBSession(); err == nil || errors.Is(err, errNotStandinPG) {
		t.Errorf("no database: %v", err)
	}
}

// TestAirflowPython: the stand-in's python runs only dataeco's job_alive.py, and refuses a
// job type Airflow does not have, as the script does (exit 2, usage). Whether a job is alive
// is the heartbeat file's answer (TestJobAlive's), and every stand-in install's DAG
// processor and triggerer become healthy through it.
func TestAirflowPython(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args []string
		want int
	}{
		{[]string{"-c", "print(1)"}, 2},
		{[]string{"/opt/dataeco/job_alive.py"}, 2},
		{[]string{"/opt/dataeco/job_alive.py", "LocalTaskJob"}, 2},
	} {
		if got := airflowPythonMain(tt.args); got != tt.want {
			t.Errorf("python %q exited %d, want %d", tt.args, got, tt.want)
		}
	}
}
