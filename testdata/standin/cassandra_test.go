package main

import (
	"net"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	if os.Getenv("STANDIN_TEST_LOG") == "" {
		logOut = discard{}
	}
	os.Exit(m.Run())
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func TestSplitCQLStatements(t *testing.T) {
	got := splitCQLStatements("CREATE ROLE a WITH PASSWORD = 'x;y'; -- comment; here\nLIST ROLES;;  DESCRIBE KEYSPACES")
	want := []string{"CREATE ROLE a WITH PASSWORD = 'x;y'", "LIST ROLES", "DESCRIBE KEYSPACES"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q", got)
	}
}

func TestParseCQLRoles(t *testing.T) {
	cases := []struct {
		in   string
		want cqlStmt
	}{
		{"CREATE ROLE IF NOT EXISTS app WITH PASSWORD = 'p''w' AND SUPERUSER = false AND LOGIN = true;",
			cqlStmt{Kind: "CREATE_ROLE", IfNotExists: true, Name: "app", Options: map[string]string{"password": "p'w", "superuser": "false", "login": "true"}}},
		{"create role App with login = TRUE and password = 'x' and superuser = true",
			cqlStmt{Kind: "CREATE_ROLE", Name: "app", Options: map[string]string{"password": "x", "superuser": "true", "login": "true"}}},
		{`CREATE ROLE "MixedCase" WITH LOGIN = false`,
			cqlStmt{Kind: "CREATE_ROLE", Name: "MixedCase", Options: map[string]string{"login": "false"}}},
		{"ALTER ROLE cassandra WITH PASSWORD = 'new'",
			cqlStmt{Kind: "ALTER_ROLE", Name: "cassandra", Options: map[string]string{"password": "new"}}},
		{"ALTER ROLE 'cassandra' WITH SUPERUSER = false AND LOGIN = false",
			cqlStmt{Kind: "ALTER_ROLE", Name: "cassandra", Options: map[string]string{"superuser": "false", "login": "false"}}},
		{"CREATE USER bob WITH PASSWORD 'b' NOSUPERUSER",
			cqlStmt{Kind: "CREATE_ROLE", Name: "bob", Options: map[string]string{"password": "b", "superuser": "false", "login": "true"}}},
		{"LIST ROLES", cqlStmt{Kind: "LIST_ROLES", Options: map[string]string{}}},
		{"DROP ROLE IF EXISTS app", cqlStmt{Kind: "DROP_ROLE", IfExists: true, Name: "app", Options: map[string]string{}}},
	}
	for _, c := range cases {
		st, err := parseCQL(c.in)
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		st.Where = nil
		if !reflect.DeepEqual(*st, c.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", c.in, *st, c.want)
		}
	}
	for _, bad := range []string{
		"CREATE ROLE app WITH PASSWORD = unquoted",
		"CREATE ROLE app WITH SUPERUSER = maybe",
		"CREATE ROLE app WITH LOGIN = true AND LOGIN = false",
		"CREATE ROLE app WITH COLOR = 'red'",
		"CREATE ROLE app WITH PASSWORD = 'unterminated",
		"FROBNICATE everything",
		"",
	} {
		if _, err := parseCQL(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestParseCQLSchemaAndSelect(t *testing.T) {
	st, err := parseCQL("CREATE KEYSPACE IF NOT EXISTS Shop WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1} AND durable_writes = true;")
	if err != nil || st.Kind != "CREATE_KEYSPACE" || st.Name != "shop" || !st.IfNotExists {
		t.Errorf("keyspace: %+v %v", st, err)
	}
	if _, err := parseCQL("CREATE KEYSPACE x WITH durable_writes = true"); err == nil {
		t.Error("keyspace without replication parsed")
	}
	st, err = parseCQL("CREATE TABLE IF NOT EXISTS shop.orders (id uuid PRIMARY KEY, items map<text, int>) WITH comment = 'x'")
	if err != nil || st.Kind != "CREATE_TABLE" || st.Keyspace != "shop" || st.Name != "orders" {
		t.Errorf("table: %+v %v", st, err)
	}
	st, err = parseCQL("SELECT table_name FROM system_schema.tables WHERE keyspace_name='shop'")
	if err != nil || st.Kind != "SELECT" || st.Keyspace != "system_schema" || st.Name != "tables" ||
		!reflect.DeepEqual(st.Columns, []string{"table_name"}) || st.Where["keyspace_name"] != "shop" {
		t.Errorf("select: %+v %v", st, err)
	}
	st, err = parseCQL("select release_version from system.local;")
	if err != nil || st.Name != "local" || st.Columns[0] != "release_version" {
		t.Errorf("select local: %+v %v", st, err)
	}
	st, err = parseCQL("DESC KEYSPACES")
	if err != nil || st.Kind != "DESCRIBE_KEYSPACES" {
		t.Errorf("describe: %+v %v", st, err)
	}
}

func execOK(t *testing.T, e *cqlEngine, s *cqlSession, stmt string) cqlResult {
	t.Helper()
	r := e.exec(s, stmt)
	if !r.OK {
		t.Fatalf("%s: %s %s", stmt, r.Class, r.Message)
	}
	return r
}

func execFail(t *testing.T, e *cqlEngine, s *cqlSession, stmt, class string) cqlResult {
	t.Helper()
	r := e.exec(s, stmt)
	if r.OK || r.Class != class {
		t.Fatalf("%s: want %s, got %+v", stmt, class, r)
	}
	return r
}

func TestCQLEngineAuth(t *testing.T) {
	dir := t.TempDir()
	e, err := newCQLEngine(dir, true, true, "5.0.6")
	if err != nil {
		t.Fatal(err)
	}
	if msg := e.login("cassandra", "cassandra"); msg != "" {
		t.Fatalf("default superuser: %s", msg)
	}
	if msg := e.login("cassandra", "wrong"); msg != "Provided username cassandra and/or password are incorrect" {
		t.Errorf("bad password: %q", msg)
	}
	execFail(t, e, &cqlSession{}, "LIST ROLES", "Unauthorized")

	admin := &cqlSession{user: "cassandra"}
	execOK(t, e, admin, "CREATE ROLE admin WITH SUPERUSER = true AND LOGIN = true AND PASSWORD = 'secret'")
	execFail(t, e, admin, "CREATE ROLE admin WITH LOGIN = true", "InvalidRequest")
	execOK(t, e, admin, "CREATE ROLE IF NOT EXISTS admin WITH LOGIN = true")
	execOK(t, e, admin, "CREATE ROLE app WITH PASSWORD = 'apppw' AND LOGIN = true")
	execOK(t, e, admin, "CREATE ROLE nologin WITH PASSWORD = 'x' AND LOGIN = false")
	if msg := e.login("nologin", "x"); msg != "nologin is not permitted to log in" {
		t.Errorf("login=false: %q", msg)
	}
	execOK(t, e, &cqlSession{user: "admin"}, "ALTER ROLE cassandra WITH PASSWORD = 'rotated' AND SUPERUSER = false AND LOGIN = false")
	if msg := e.login("cassandra", "rotated"); msg != "cassandra is not permitted to log in" {
		t.Errorf("after alter: %q", msg)
	}

	app := &cqlSession{user: "app"}
	execFail(t, e, app, "CREATE ROLE x WITH LOGIN = true", "Unauthorized")
	execFail(t, e, app, "ALTER ROLE admin WITH PASSWORD = 'x'", "Unauthorized")
	execOK(t, e, app, "ALTER ROLE app WITH PASSWORD = 'mine'") // own password
	if msg := e.login("app", "mine"); msg != "" {
		t.Errorf("own password change: %q", msg)
	}
	r := execOK(t, e, app, "LIST ROLES")
	if len(r.Rows) != 1 || r.Rows[0][0] != "app" {
		t.Errorf("non-superuser sees %v", r.Rows)
	}
	r = execOK(t, e, &cqlSession{user: "admin"}, "LIST ROLES")
	want := [][]string{
		{"admin", "True", "True", "{}", "ALL"},
		{"app", "False", "True", "{}", "ALL"},
		{"cassandra", "False", "False", "{}", "ALL"},
		{"nologin", "False", "False", "{}", "ALL"},
	}
	if !reflect.DeepEqual(r.Rows, want) || r.Columns[0] != "role" || r.Columns[4] != "datacenters" {
		t.Errorf("LIST ROLES = %v %v", r.Columns, r.Rows)
	}

	// Everything survives a restart.
	e2, err := newCQLEngine(dir, true, true, "5.0.6")
	if err != nil {
		t.Fatal(err)
	}
	if msg := e2.login("admin", "secret"); msg != "" {
		t.Errorf("after restart: %q", msg)
	}
	if _, ok := e2.roles["cassandra"]; !ok || len(e2.roles) != 4 {
		t.Errorf("roles after restart: %v", e2.roleNames())
	}
}

func TestCQLEngineAuthOff(t *testing.T) {
	e, err := newCQLEngine(t.TempDir(), false, false, "5.0.6")
	if err != nil {
		t.Fatal(err)
	}
	if len(e.roles) != 0 {
		t.Error("roles created with auth off")
	}
	s := &cqlSession{}
	r := execFail(t, e, s, "CREATE ROLE app WITH PASSWORD = 'x' AND LOGIN = true", "InvalidRequest")
	if !strings.Contains(r.Message, "doesn't support PASSWORD") {
		t.Errorf("message %q", r.Message)
	}
	execFail(t, e, s, "GRANT ALL ON KEYSPACE x TO y", "InvalidRequest")
	r = execOK(t, e, s, "SELECT release_version FROM system.local")
	if !reflect.DeepEqual(r.Rows, [][]string{{"5.0.6"}}) {
		t.Errorf("release_version rows %v", r.Rows)
	}
}

func TestCQLEngineSchema(t *testing.T) {
	dir := t.TempDir()
	e, _ := newCQLEngine(dir, false, false, "5.0.6")
	s := &cqlSession{}
	execOK(t, e, s, "CREATE KEYSPACE shop WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
	execFail(t, e, s, "CREATE KEYSPACE shop WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}", "AlreadyExists")
	execOK(t, e, s, "CREATE KEYSPACE IF NOT EXISTS shop WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
	execOK(t, e, s, "CREATE TABLE shop.orders (id uuid PRIMARY KEY)")
	execOK(t, e, s, "CREATE TABLE IF NOT EXISTS shop.orders (id uuid PRIMARY KEY)")
	execFail(t, e, s, "CREATE TABLE items (id int PRIMARY KEY)", "InvalidRequest") // no keyspace
	execOK(t, e, s, "USE shop")
	execOK(t, e, s, "CREATE TABLE items (id int PRIMARY KEY)")
	execFail(t, e, s, "CREATE TABLE nope.t (id int PRIMARY KEY)", "InvalidRequest")

	r := execOK(t, e, s, "SELECT table_name FROM system_schema.tables WHERE keyspace_name='shop'")
	if !reflect.DeepEqual(r.Rows, [][]string{{"items"}, {"orders"}}) {
		t.Errorf("tables %v", r.Rows)
	}
	execFail(t, e, s, "SELECT colour FROM system_schema.tables", "InvalidRequest")
	r = execOK(t, e, s, "DESCRIBE KEYSPACES")
	if !strings.Contains(r.Text, "shop") || !strings.Contains(r.Text, "system_auth") {
		t.Errorf("describe %q", r.Text)
	}

	e2, _ := newCQLEngine(dir, false, false, "5.0.6")
	r = execOK(t, e2, &cqlSession{}, "SELECT keyspace_name, table_name FROM system_schema.tables WHERE keyspace_name = 'shop'")
	if len(r.Rows) != 2 || r.Rows[1][1] != "orders" {
		t.Errorf("after restart %v", r.Rows)
	}
	execOK(t, e2, &cqlSession{}, "DROP KEYSPACE shop")
	execFail(t, e2, &cqlSession{}, "DROP KEYSPACE shop", "ConfigurationException")
}

func TestColumnize(t *testing.T) {
	got := columnize([]string{"system", "system_auth", "system_distributed", "system_schema", "system_traces", "system_views", "system_virtual_schema"}, 80)
	want := "system       system_distributed  system_traces  system_virtual_schema\nsystem_auth  system_schema       system_views\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestCqlshArgs(t *testing.T) {
	a, err := parseCqlshArgs([]string{"-u", "cassandra", "-p", "cassandra", "-e", "SELECT release_version FROM system.local"})
	if err != nil || a.user != "cassandra" || a.password != "cassandra" || a.host != "localhost" || a.port != 9042 || !strings.HasPrefix(a.execute, "SELECT") {
		t.Errorf("%+v %v", a, err)
	}
	a, err = parseCqlshArgs([]string{"cassandra", "9043", "--username=u", "--password", "p", "--execute=LIST ROLES", "--request-timeout", "10", "--connect-timeout=2"})
	if err != nil || a.host != "cassandra" || a.port != 9043 || a.user != "u" || a.password != "p" || a.execute != "LIST ROLES" || a.connectTimeout != 2*time.Second {
		t.Errorf("%+v %v", a, err)
	}
	for _, bad := range [][]string{{"-x"}, {"a", "b", "c"}, {"h", "port"}, {"-e"}, {"-p", "pw"}} {
		if _, err := parseCqlshArgs(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestFormatCQLResult(t *testing.T) {
	got := formatCQLResult(cqlResult{OK: true, Kind: "rows", Columns: []string{"release_version"}, Rows: [][]string{{"5.0.6"}}})
	want := "\n release_version\n-----------------\n           5.0.6\n\n(1 rows)\n"
	if got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	got = formatCQLResult(cqlResult{OK: true, Kind: "rows", Columns: []string{"role", "super"}, Rows: [][]string{{"cassandra", "True"}, {"app", "False"}}})
	want = "\n role      | super\n-----------+-------\n cassandra |  True\n       app | False\n\n(2 rows)\n"
	if got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

// startCQLServer serves an engine on a loopback port.
func startCQLServer(t *testing.T, e *cqlEngine) (string, int) {
	ln := serveLoopback(t, e.serveConn)
	return "127.0.0.1", ln.Addr().(*net.TCPAddr).Port
}

func TestCqlshAgainstServer(t *testing.T) {
	e, _ := newCQLEngine(t.TempDir(), true, true, "5.0.6")
	host, port := startCQLServer(t, e)
	run := func(user, pw, script string) (int, string, string) {
		var out, errb strings.Builder
		code := runCqlsh(cqlshArgs{host: host, port: port, user: user, password: pw, connectTimeout: time.Second}, script, &out, &errb)
		return code, out.String(), errb.String()
	}
	code, out, _ := run("cassandra", "cassandra", "SELECT release_version FROM system.local")
	if code != 0 || !strings.Contains(out, "           5.0.6") {
		t.Errorf("select: %d %q", code, out)
	}
	code, _, errs := run("cassandra", "nope", "SELECT release_version FROM system.local")
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	want := "Connection error: ('Unable to connect to any servers', {'" + addr + "': AuthenticationFailed('Failed to authenticate to " + addr +
		": Error from server: code=0100 [Bad credentials] message=\"Provided username cassandra and/or password are incorrect\"')})\n"
	if code != 1 || errs != want {
		t.Errorf("bad credentials: %d\n got %q\nwant %q", code, errs, want)
	}
	code, _, errs = run("", "", "LIST ROLES")
	if code != 1 || !strings.Contains(errs, "Remote end requires authentication") {
		t.Errorf("no credentials: %d %q", code, errs)
	}
	code, out, errs = run("cassandra", "cassandra", "CREATE ROLE app WITH PASSWORD = 'a' AND LOGIN = true; LIST ROLES; CREATE ROLE app WITH LOGIN = true")
	if code != 2 || !strings.Contains(out, "(2 rows)") || !strings.Contains(errs, `<stdin>:1:InvalidRequest: Error from server: code=2200 [Invalid query] message="app already exists"`) {
		t.Errorf("script: %d %q %q", code, out, errs)
	}

	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	deadPort := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	var out2, errb strings.Builder
	code = runCqlsh(cqlshArgs{host: "127.0.0.1", port: deadPort, connectTimeout: time.Second}, "LIST ROLES", &out2, &errb)
	if code != 1 || !strings.Contains(errb.String(), "Connection refused") || !strings.HasPrefix(errb.String(), "Connection error: ('Unable to connect to any servers'") {
		t.Errorf("refused: %d %q", code, errb.String())
	}
}
