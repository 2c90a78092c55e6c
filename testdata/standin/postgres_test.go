package main

import (
	"net"
	"reflect"
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
