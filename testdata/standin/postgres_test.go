package main

import (
	"io"
	"net"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParsePsqlArgs(t *testing.T) {
	t.Setenv("PGHOST", "")
	t.Setenv("PGUSER", "")
	t.Setenv("PGDATABASE", "")
	t.Setenv("PGPORT", "")
	a, err := parsePsqlArgs([]string{"-U", "airflow", "-d", "airflow", "-tAc", "SELECT 1"})
	if err != nil || a.user != "airflow" || a.db != "airflow" || !a.tuplesOnly || !a.unaligned || a.command != "SELECT 1" || a.host != "" || a.port != 5432 {
		t.Errorf("%+v %v", a, err)
	}
	a, err = parsePsqlArgs([]string{"-h", "postgres", "-p5433", "--username=u", "--dbname", "d", "-X", "-v", "ON_ERROR_STOP=1", "-c", "SELECT 2"})
	if err != nil || a.host != "postgres" || a.port != 5433 || a.user != "u" || a.db != "d" || a.command != "SELECT 2" {
		t.Errorf("%+v %v", a, err)
	}
	a, err = parsePsqlArgs([]string{"mydb", "me", "-t"})
	if err != nil || a.db != "mydb" || a.user != "me" || !a.tuplesOnly {
		t.Errorf("positional: %+v %v", a, err)
	}
	for _, bad := range [][]string{{"-Z"}, {"-c"}, {"--nope"}, {"-p", "x"}} {
		if _, err := parsePsqlArgs(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	ci, err := resolvePsqlConn(psqlArgs{db: "postgresql://u:p%40ss@db:6543/app", port: 5432})
	if err != nil || ci.user != "u" || ci.password != "p@ss" || ci.host != "db" || ci.port != 6543 || ci.db != "app" {
		t.Errorf("uri: %+v %v", ci, err)
	}
	ci, _ = resolvePsqlConn(psqlArgs{user: "airflow", port: 5432})
	if ci.host != "localhost" || ci.db != "airflow" {
		t.Errorf("defaults: %+v", ci)
	}
}

func TestParsePgIsReadyArgs(t *testing.T) {
	t.Setenv("PGHOST", "")
	t.Setenv("PGPORT", "")
	a, err := parsePgIsReadyArgs([]string{"-U", "airflow", "-d", "airflow"})
	if err != nil || a.host != "localhost" || a.port != 5432 || a.user != "airflow" {
		t.Errorf("%+v %v", a, err)
	}
	a, err = parsePgIsReadyArgs([]string{"-h", "db", "-p", "6000", "-q", "-t", "1"})
	if err != nil || a.host != "db" || a.port != 6000 || !a.quiet || a.timeout != 1 {
		t.Errorf("%+v %v", a, err)
	}
	if _, err := parsePgIsReadyArgs([]string{"extra"}); err == nil {
		t.Error("positional argument accepted")
	}
}

func testPG(t *testing.T) *pgServer {
	return &pgServer{dataDir: t.TempDir(), version: "17.6", state: pgState{User: "airflow", Password: "pw", Databases: []string{"postgres", "airflow"}}}
}

func TestPgAuthenticate(t *testing.T) {
	s := testPG(t)
	cases := []struct {
		req   pgRequest
		local bool
		want  string
	}{
		{pgRequest{User: "airflow", Database: "airflow"}, true, ""},
		{pgRequest{User: "airflow", Database: "airflow", Password: "pw"}, false, ""},
		{pgRequest{User: "airflow", Database: "airflow", Password: "bad"}, false, `FATAL:  password authentication failed for user "airflow"`},
		{pgRequest{User: "airflow", Database: "airflow"}, false, "fe_sendauth: no password supplied"},
		{pgRequest{User: "root", Database: "airflow"}, true, `FATAL:  role "root" does not exist`},
		{pgRequest{User: "airflow", Database: "nope"}, true, `FATAL:  database "nope" does not exist`},
		{pgRequest{User: "airflow"}, true, ""}, // database defaults to the user name
	}
	for _, c := range cases {
		if got := s.authenticate(c.req, c.local); got != c.want {
			t.Errorf("%+v local=%v: got %q want %q", c.req, c.local, got, c.want)
		}
	}
}

func TestPgQuery(t *testing.T) {
	s := testPG(t)
	r := s.query("SELECT 1;", "airflow", "airflow")
	if !r.OK || !reflect.DeepEqual(r.Columns, []string{"?column?"}) || !reflect.DeepEqual(r.Rows, [][]string{{"1"}}) {
		t.Errorf("SELECT 1: %+v", r)
	}
	r = s.query("select 'it''s', current_user, current_database() as db", "airflow", "airflow")
	if !r.OK || !reflect.DeepEqual(r.Rows, [][]string{{"it's", "airflow", "airflow"}}) || r.Columns[2] != "db" {
		t.Errorf("literals: %+v", r)
	}
	r = s.query("CREATE DATABASE extra", "airflow", "airflow")
	if !r.OK {
		t.Fatalf("create: %+v", r)
	}
	r = s.query("SELECT 1 FROM pg_database WHERE datname='extra'", "airflow", "airflow")
	if !r.OK || len(r.Rows) != 1 {
		t.Errorf("pg_database: %+v", r)
	}
	if r = s.query("CREATE DATABASE extra", "airflow", "airflow"); r.OK {
		t.Error("duplicate database created")
	}
	if r = s.query("DROP TABLE x", "airflow", "airflow"); r.OK || !strings.HasPrefix(r.Error, "ERROR:  syntax error") {
		t.Errorf("unsupported: %+v", r)
	}
}

func TestFormatPsql(t *testing.T) {
	r := pgResponse{OK: true, Columns: []string{"?column?"}, Rows: [][]string{{"1"}}}
	if got := formatPsql(r, true, true, "|"); got != "1\n" {
		t.Errorf("-tA: %q", got)
	}
	want := " ?column?\n----------\n        1\n(1 row)\n\n"
	if got := formatPsql(r, false, false, "|"); got != want {
		t.Errorf("aligned: %q want %q", got, want)
	}
	r = pgResponse{OK: true, Columns: []string{"a", "b"}, Rows: [][]string{{"x", "y"}, {"z", "w"}}}
	if got := formatPsql(r, true, true, ","); got != "x,y\nz,w\n" {
		t.Errorf("-tA -F,: %q", got)
	}
}

func TestPgProtocol(t *testing.T) {
	s := testPG(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.handleConn(c)
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	p, err := pgDial("127.0.0.1", port, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if r, err := p.do(pgRequest{Op: "ping"}); err != nil || !r.OK {
		t.Fatalf("ping %+v %v", r, err)
	}
	if r, err := p.do(pgRequest{Op: "query", SQL: "SELECT 1"}); err == nil && r.OK {
		t.Fatal("query before startup succeeded")
	}
	p2, _ := pgDial("127.0.0.1", port, time.Second)
	defer p2.Close()
	if r, err := p2.do(pgRequest{Op: "startup", User: "airflow", Database: "airflow"}); err != nil || !r.OK {
		t.Fatalf("local startup %+v %v", r, err)
	}
	r, err := p2.do(pgRequest{Op: "query", SQL: "SELECT 1"})
	if err != nil || !reflect.DeepEqual(r.Rows, [][]string{{"1"}}) {
		t.Fatalf("query %+v %v", r, err)
	}
	t.Setenv("STANDIN_UNHEALTHY", "1")
	if r, err := p2.do(pgRequest{Op: "ping"}); err != nil || r.OK {
		t.Errorf("unhealthy ping %+v %v", r, err)
	}
}

func TestInitPostgres(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("POSTGRES_PASSWORD", "")
	t.Setenv("POSTGRES_HOST_AUTH_METHOD", "")
	if _, err := initPostgres(dir); err == nil || !strings.Contains(err.Error(), "Database is uninitialized and superuser password is not specified.") {
		t.Fatalf("no password: %v", err)
	}
	t.Setenv("POSTGRES_PASSWORD", "pw")
	t.Setenv("POSTGRES_USER", "airflow")
	t.Setenv("POSTGRES_DB", "")
	s, err := initPostgres(dir)
	if err != nil || s.state.User != "airflow" || !reflect.DeepEqual(s.state.Databases, []string{"postgres", "template0", "template1", "airflow"}) {
		t.Fatalf("%+v %v", s, err)
	}
	// Initialized once: the environment no longer matters, as for real.
	t.Setenv("POSTGRES_PASSWORD", "")
	t.Setenv("POSTGRES_USER", "other")
	s, err = initPostgres(dir)
	if err != nil || s.state.User != "airflow" || s.state.Password != "pw" {
		t.Fatalf("restart: %+v %v", s, err)
	}
}

func TestPgAlembicVersion(t *testing.T) {
	s := testPG(t)
	q := func(sql, db string) pgResponse { return s.query(sql, "airflow", db) }
	if r := q("SELECT version_num FROM alembic_version", "airflow"); r.OK || r.Error != `ERROR:  relation "alembic_version" does not exist` {
		t.Errorf("no table: %+v", r)
	}
	if r := q("INSERT INTO alembic_version (version_num) VALUES ('a1')", "airflow"); r.OK {
		t.Errorf("insert without table: %+v", r)
	}
	for _, sql := range []string{
		"CREATE TABLE IF NOT EXISTS alembic_version (version_num VARCHAR(32) NOT NULL, CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))",
		"create table if not exists alembic_version (version_num varchar(32) not null)",
		"INSERT INTO alembic_version (version_num) VALUES ('a1');",
	} {
		if r := q(sql, "airflow"); !r.OK {
			t.Fatalf("%s: %+v", sql, r)
		}
	}
	if r := q("CREATE TABLE alembic_version (version_num VARCHAR(32))", "airflow"); r.OK {
		t.Errorf("created twice: %+v", r)
	}
	if r := q("INSERT INTO alembic_version VALUES ('a1')", "airflow"); r.OK {
		t.Errorf("duplicate key: %+v", r)
	}
	r := q("SELECT version_num FROM alembic_version", "airflow")
	if !r.OK || !reflect.DeepEqual(r.Rows, [][]string{{"a1"}}) || r.Columns[0] != "version_num" {
		t.Errorf("select: %+v", r)
	}
	if r := q("UPDATE alembic_version SET version_num='b2' WHERE alembic_version.version_num = 'a1'", "airflow"); !r.OK || r.Tag != "UPDATE 1" {
		t.Errorf("update: %+v", r)
	}
	if r := q("SELECT * FROM public.alembic_version", "airflow"); !r.OK || !reflect.DeepEqual(r.Rows, [][]string{{"b2"}}) {
		t.Errorf("select *: %+v", r)
	}
	// Per database: postgres has no table.
	if r := q("SELECT version_num FROM alembic_version", "postgres"); r.OK {
		t.Errorf("other database: %+v", r)
	}
	// Kept in the state file, as PGDATA keeps it for real.
	again, err := initPostgres(s.dataDir)
	if err != nil || !reflect.DeepEqual(again.state.Alembic["airflow"], []string{"b2"}) {
		t.Errorf("reloaded: %+v %v", again, err)
	}
	if r := q("DELETE FROM alembic_version", "airflow"); !r.OK || r.Tag != "DELETE 1" {
		t.Errorf("delete: %+v", r)
	}
	if r := q("SELECT version_num FROM alembic_version", "airflow"); !r.OK || len(r.Rows) != 0 {
		t.Errorf("after delete: %+v", r)
	}
	if r := q("DROP TABLE alembic_version", "airflow"); !r.OK {
		t.Errorf("drop: %+v", r)
	}
	if r := q("DROP TABLE alembic_version", "airflow"); r.OK {
		t.Errorf("dropped twice: %+v", r)
	}
	if r := q("DROP TABLE IF EXISTS alembic_version", "airflow"); !r.OK {
		t.Errorf("drop if exists: %+v", r)
	}
	if r := q("DROP TABLE users", "airflow"); r.OK || !strings.HasPrefix(r.Error, "ERROR:  syntax error") {
		t.Errorf("other tables: %+v", r)
	}
}

func TestInitdbAuth(t *testing.T) {
	for _, c := range []struct{ args, local, host string }{
		{"", "", ""},
		{"--auth-host=scram-sha-256", "", "scram-sha-256"},
		{"--data-checksums --auth-local trust --auth-host md5", "trust", "md5"},
		{"-A scram-sha-256", "scram-sha-256", "scram-sha-256"},
		{"--auth=md5 --auth-local=peer", "peer", "md5"},
	} {
		if l, h := initdbAuth(c.args); l != c.local || h != c.host {
			t.Errorf("%q: %q %q", c.args, l, h)
		}
	}
	dir := t.TempDir()
	t.Setenv("POSTGRES_PASSWORD", "pw")
	t.Setenv("POSTGRES_USER", "airflow")
	t.Setenv("POSTGRES_DB", "airflow")
	t.Setenv("POSTGRES_INITDB_ARGS", "--auth-host=scram-sha-256")
	s, err := initPostgres(dir)
	if err != nil || s.state.AuthHost != "scram-sha-256" || s.state.AuthLocal != "" {
		t.Fatalf("%+v %v", s, err)
	}
	if msg := s.authenticate(pgRequest{User: "airflow", Database: "airflow", Password: "bad"}, true); msg != `FATAL:  password authentication failed for user "airflow"` {
		t.Errorf("127.0.0.1 with --auth-host=scram-sha-256: %q", msg)
	}
	if msg := s.authenticate(pgRequest{User: "airflow", Database: "airflow", Socket: true}, true); msg != "" {
		t.Errorf("the socket stays trusted: %q", msg)
	}
}

// captureStdout runs fn with os.Stdout going to a pipe and returns what it
// wrote.
func captureStdout(t *testing.T, fn func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	done := make(chan string)
	go func() { b, _ := io.ReadAll(r); done <- string(b) }()
	defer func() { os.Stdout = old }()
	fn()
	w.Close()
	os.Stdout = old
	return <-done
}

// nonLoopbackIP is an address of this machine that is not loopback, or "".
func nonLoopbackIP() string {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() && ipn.IP.To4() != nil {
			return ipn.IP.String()
		}
	}
	return ""
}

// TestPsqlHealthcheck runs the compose file's PostgreSQL health check,
// PGPASSWORD=... psql -h 127.0.0.1 -U airflow -d airflow -tAc 'SELECT 1', over
// TCP. As in the real image, 127.0.0.1 is a trusted line of pg_hba.conf, so
// the password is only checked from other addresses (the containers that
// use the database), with the image's "host all all all scram-sha-256".
func TestPsqlHealthcheck(t *testing.T) {
	s := testPG(t)
	ln, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.handleConn(c)
		}
	}()
	captureLog(t)
	for _, v := range []string{"PGHOST", "PGUSER", "PGDATABASE", "STANDIN_UNHEALTHY"} {
		t.Setenv(v, "")
	}
	t.Setenv("PGPORT", strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
	check := func(host, password string) (int, string) {
		t.Setenv("PGPASSWORD", password)
		code := -1
		out := captureStdout(t, func() { code = psqlMain([]string{"-h", host, "-U", "airflow", "-d", "airflow", "-tAc", "SELECT 1"}) })
		return code, out
	}
	if code, out := check("127.0.0.1", "pw"); code != 0 || out != "1\n" {
		t.Errorf("right password: exit %d %q", code, out)
	}
	if code, out := check("127.0.0.1", "wrong"); code != 0 || out != "1\n" {
		t.Errorf("wrong password on 127.0.0.1 (trusted, as in the real image): exit %d %q", code, out)
	}
	ip := nonLoopbackIP()
	if ip == "" {
		t.Skip("no non-loopback address to test password authentication from")
	}
	if code, out := check(ip, "pw"); code != 0 || out != "1\n" {
		t.Errorf("right password from %s: exit %d %q", ip, code, out)
	}
	if code, _ := check(ip, "wrong"); code != 2 {
		t.Errorf("wrong password from %s: exit %d", ip, code)
	}
	// With initdb's --auth-host=scram-sha-256 the loopback line wants the password too.
	s.mu.Lock()
	s.state.AuthHost = "scram-sha-256"
	s.mu.Unlock()
	if code, _ := check("127.0.0.1", "wrong"); code != 2 {
		t.Errorf("wrong password on 127.0.0.1 with --auth-host: exit %d", code)
	}
	if code, out := check("127.0.0.1", "pw"); code != 0 || out != "1\n" {
		t.Errorf("right password on 127.0.0.1 with --auth-host: exit %d %q", code, out)
	}
}
