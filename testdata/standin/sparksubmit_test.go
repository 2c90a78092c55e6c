package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseSparkSubmitArgs(t *testing.T) {
	a, err := parseSparkSubmitArgs([]string{"--master", "spark://spark-master:7077", "--name", "dataeco-users-stream",
		"--packages", "com.datastax.spark:spark-cassandra-connector_2.12:3.5.1,org.apache.spark:spark-sql-kafka-0-10_2.12:3.5.8",
		"--conf", "spark.jars.ivy=/tmp/ivy", "--conf=spark.cores.max=2", "-c", "spark.executor.memory=512m",
		"--deploy-mode", "client", "--class", "ignored", "/app/stream_users.py", "--flag", "x"})
	if err != nil {
		t.Fatal(err)
	}
	if a.master != "spark://spark-master:7077" || a.name != "dataeco-users-stream" || len(a.packages) != 2 ||
		a.conf["spark.jars.ivy"] != "/tmp/ivy" || a.totalCores != 2 || a.executorMemory != "512m" ||
		a.appFile != "/app/stream_users.py" || strings.Join(a.appArgs, " ") != "--flag x" {
		t.Errorf("parsed %+v", a)
	}
	// Defaults: the name is the file's base name, memory 1g, all cores.
	a, err = parseSparkSubmitArgs([]string{"--master=spark://m:7077", "/app/job.py"})
	if err != nil || a.name != "job.py" || a.executorMemory != "1g" || a.totalCores != 0 || a.deployMode != "" {
		t.Errorf("defaults %+v %v", a, err)
	}
	a, err = parseSparkSubmitArgs([]string{"--conf", "spark.master=spark://m:7077", "--conf", "spark.app.name=x", "--total-executor-cores", "3", "app.jar"})
	if err != nil || a.master != "spark://m:7077" || a.name != "x" || a.totalCores != 3 {
		t.Errorf("from conf %+v %v", a, err)
	}
	for _, bad := range [][]string{
		{"/app/job.py"}, // no master
		{"--master", "local[*]", "/app/job.py"},
		{"--master", "http://m:7077", "/app/job.py"},
		{"--master", "spark://m", "/app/job.py"},
		{"--master", "spark://m:7077"}, // no app file
		{"--master", "spark://m:7077", "--conf", "noequals", "/app/job.py"},
		{"--master", "spark://m:7077", "--packages", "a:b", "/app/job.py"},
		{"--master", "spark://m:7077", "--deploy-mode", "cluster", "/app/job.py"},
		{"--master", "spark://m:7077", "--deploy-mode", "sideways", "/app/job.py"},
		{"--master", "spark://m:7077", "--frobnicate", "1", "/app/job.py"},
		{"--master", "spark://m:7077", "--total-executor-cores", "0", "/app/job.py"},
		{"--master", "spark://m:7077", "--executor-memory", "lots", "/app/job.py"},
		{"--master"},
	} {
		if a, err := parseSparkSubmitArgs(bad); err == nil {
			t.Errorf("%q accepted: %+v", bad, a)
		}
	}
	_, err = parseSparkSubmitArgs([]string{"--master", "spark://m:7077", "--deploy-mode", "cluster", "/app/job.py"})
	if err == nil || !strings.Contains(err.Error(), "Cluster deploy mode is currently not supported for python applications") {
		t.Errorf("cluster mode: %v", err)
	}
}

func mustParseSubmit(t *testing.T, args ...string) sparkSubmitArgs {
	t.Helper()
	a, err := parseSparkSubmitArgs(append([]string{"--master", "spark://m:7077"}, args...))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestSparkSubmitIvy(t *testing.T) {
	dir := t.TempDir()
	var w bytes.Buffer
	ivy := filepath.Join(dir, "ivy")
	a := mustParseSubmit(t, "--conf", "spark.jars.ivy="+ivy, "--packages", "a:b:c", "x.py")
	if err := checkIvy(a, "/nonexistent", &w); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(ivy, "standin-spark-submit.marker")); err != nil {
		t.Errorf("no marker: %v", err)
	}
	if !strings.Contains(w.String(), "a#b added as a dependency") {
		t.Errorf("banner: %q", w.String())
	}
	// spark.jars.ivy is checked even without packages.
	file := filepath.Join(dir, "afile")
	os.WriteFile(file, nil, 0o644)
	a = mustParseSubmit(t, "--conf", "spark.jars.ivy="+file+"/ivy", "x.py")
	err := checkIvy(a, "/root", &w)
	if err == nil || !strings.Contains(err.Error(), `Exception in thread "main" java.io.FileNotFoundException: `+file+"/ivy/cache/resolved-org.apache.spark-spark-submit-parent-") ||
		!strings.HasSuffix(err.Error(), "(Not a directory)") {
		t.Errorf("unwritable ivy dir: %v", err)
	}
	// --packages without spark.jars.ivy needs a usable HOME.
	a = mustParseSubmit(t, "--packages", "a:b:c", "x.py")
	for _, home := range []string{"", "/nonexistent"} {
		err := checkIvy(a, home, &w)
		if err == nil || !strings.Contains(err.Error(), "/nonexistent/.ivy2/cache/resolved-") || !strings.HasSuffix(err.Error(), "(No such file or directory)") {
			t.Errorf("HOME=%q: %v", home, err)
		}
	}
	if err := checkIvy(a, dir, &w); err != nil {
		t.Errorf("HOME=%s: %v", dir, err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".ivy2", "jars")); err != nil {
		t.Errorf("~/.ivy2 not made: %v", err)
	}
	// Neither packages nor spark.jars.ivy: nothing to check.
	if err := checkIvy(mustParseSubmit(t, "x.py"), "", &w); err != nil {
		t.Errorf("no packages: %v", err)
	}
}

func TestSparkSubmitAppChecks(t *testing.T) {
	dir := t.TempDir()
	py := filepath.Join(dir, "stream_users.py")
	err := checkAppFile(mustParseSubmit(t, py))
	if err == nil || err.Error() != "python3: can't open file '"+py+"': [Errno 2] No such file or directory" {
		t.Errorf("missing .py: %v", err)
	}
	if err := checkAppFile(mustParseSubmit(t, filepath.Join(dir, "job.jar"))); err == nil || !strings.Contains(err.Error(), "Error: Cannot load main class from JAR file:") {
		t.Errorf("missing jar: %v", err)
	}
	os.WriteFile(py, []byte("print('hi')\n"), 0o644)
	if err := checkAppFile(mustParseSubmit(t, py)); err != nil {
		t.Errorf("present file: %v", err)
	}

	env := map[string]string{"CASSANDRA_USER": "u"}
	getenv := func(k string) string { return env[k] }
	err = checkAppEnv(mustParseSubmit(t, py), getenv)
	if err == nil || !strings.Contains(err.Error(), "CASSANDRA_PASSWORD") {
		t.Errorf("missing password: %v", err)
	}
	env["CASSANDRA_PASSWORD"] = "p"
	if err := checkAppEnv(mustParseSubmit(t, py), getenv); err != nil {
		t.Errorf("full env: %v", err)
	}
	if err := checkAppEnv(mustParseSubmit(t, "other.py"), func(string) string { return "" }); err != nil {
		t.Errorf("other app needs nothing: %v", err)
	}
	env["STANDIN_REQUIRE_ENV"] = "KAFKA_BOOTSTRAP, CASSANDRA_USER"
	if err := checkAppEnv(mustParseSubmit(t, "other.py"), getenv); err == nil || !strings.Contains(err.Error(), "KAFKA_BOOTSTRAP") {
		t.Errorf("STANDIN_REQUIRE_ENV: %v", err)
	}
}

func TestSparkMasterApps(t *testing.T) {
	m := newSparkMasterState("spark://m:7077", "http://m:8080")
	now := time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)
	m.handleLine("REGISTER w1 10.0.0.5 4 2048 40000", now)
	r := m.handleLine("APP - 0 1024 spark dataeco users stream", now)
	id, ok := strings.CutPrefix(r, "APP_REGISTERED ")
	if !ok || id != "app-20261125140000-0000" {
		t.Fatalf("register app: %q", r)
	}
	if r := m.handleLine("APP - 1 512 spark second", now.Add(time.Second)); r != "APP_REGISTERED app-20261125140001-0001" {
		t.Errorf("second app: %q", r)
	}
	for _, bad := range []string{"APP - x 1 spark n", "APP - 1 1 spark", "APP_HEARTBEAT"} {
		if r := m.handleLine(bad, now); !strings.HasPrefix(r, "ERROR") {
			t.Errorf("%q -> %q", bad, r)
		}
	}
	if r := m.handleLine("APP_HEARTBEAT app-nope", now); r != "UNKNOWN" {
		t.Errorf("unknown app heartbeat: %q", r)
	}
	// Worker w1 and app 0 keep heartbeating; app 1 goes silent.
	later := now.Add(25 * time.Second)
	m.handleLine("HEARTBEAT w1", later)
	if r := m.handleLine("APP_HEARTBEAT "+id, later); r != "OK" {
		t.Errorf("app heartbeat: %q", r)
	}

	js := m.json(now.Add(10 * time.Second))
	for _, want := range []string{`"activeapps" : [ {`, `"id" : "app-20261125140000-0000"`, `"name" : "dataeco users stream"`,
		`"user" : "spark"`, `"memoryperslave" : 1024`, `"submitdate" : "Wed Nov 25 14:00:00 UTC 2026"`, `"state" : "RUNNING"`,
		`"starttime" : 1795615200000`, `"duration" : 10000`} {
		if !strings.Contains(js, want) {
			t.Errorf("json lacks %s:\n%s", want, js)
		}
	}
	type app struct {
		ID, Name, User, State string
		Cores, Memoryperslave int
		Duration              int64
	}
	var v struct {
		Activeapps, Completedapps []app
		Coresused                 int
		Workers                   []struct{ Coresused, Coresfree int }
	}
	if err := json.Unmarshal([]byte(js), &v); err != nil {
		t.Fatal(err)
	}
	// The first app asked for every core and got the worker's 4; none is left for the second.
	if len(v.Activeapps) != 2 || v.Activeapps[0].Cores != 4 || v.Activeapps[1].Cores != 0 || v.Coresused != 4 ||
		v.Workers[0].Coresused != 4 || v.Workers[0].Coresfree != 0 {
		t.Errorf("apps: %+v", v)
	}

	// 31 s after its last heartbeat the silent app has moved to completedapps.
	v.Activeapps, v.Completedapps = nil, nil
	json.Unmarshal([]byte(m.json(now.Add(32*time.Second))), &v)
	if len(v.Activeapps) != 1 || v.Activeapps[0].ID != id || len(v.Completedapps) != 1 ||
		v.Completedapps[0].Name != "second" || v.Completedapps[0].State != "FINISHED" {
		t.Errorf("after expiry: %+v", v)
	}
	// A known id registers again (after a master restart the app is re-added).
	if r := m.handleLine("APP "+id+" 0 1024 spark dataeco users stream", now.Add(40*time.Second)); r != "APP_REGISTERED "+id {
		t.Errorf("re-register: %q", r)
	}
	if r := m.handleLine("APP_END "+id, now.Add(41*time.Second)); r != "OK" {
		t.Errorf("end: %q", r)
	}
	v.Activeapps, v.Completedapps = nil, nil
	json.Unmarshal([]byte(m.json(now.Add(42*time.Second))), &v)
	if len(v.Activeapps) != 0 || len(v.Completedapps) != 2 || v.Completedapps[0].ID != id {
		t.Errorf("after end: %+v", v)
	}
}

// TestSparkDriver runs the driver against a master's RPC handler on a
// loopback port: it registers, heartbeats, registers again with the same
// id after the master forgot it, and ends the app when stopped.
func TestSparkDriver(t *testing.T) {
	m := newSparkMasterState("spark://m:7077", "http://m:8080")
	ln := serveLoopback(t, m.serveConn)
	a := mustParseSubmit(t, "--name", "dataeco-users-stream", "/app/stream_users.py")
	d := &sparkDriver{a: a, masters: []string{ln.Addr().String()}, hbEvery: 50 * time.Millisecond, logEvery: time.Hour,
		register: func(id string) string {
			if id == "" {
				id = "-"
			}
			return "APP " + id + " 0 1024 spark dataeco-users-stream"
		}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.run(ctx) }()
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if cond() {
				return
			}
		}
		t.Fatalf("timed out waiting for %s", what)
	}
	active := func() []*sparkAppInfo { m.mu.Lock(); defer m.mu.Unlock(); return m.sortedApps() }
	waitFor("registration", func() bool { return len(active()) == 1 })
	id := active()[0].ID
	m.mu.Lock()
	delete(m.apps, id) // as if the master restarted
	m.mu.Unlock()
	waitFor("registration again", func() bool { a := active(); return len(a) == 1 && a[0].ID == id })
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.apps) != 0 || len(m.completed) != 1 || m.completed[0].ID != id {
		t.Errorf("app not ended: %+v %+v", m.apps, m.completed)
	}
}

func TestSparkDriverNoMaster(t *testing.T) {
	old := sparkSubmitConnectTimeout
	sparkSubmitConnectTimeout = 500 * time.Millisecond
	defer func() { sparkSubmitConnectTimeout = old }()
	d := &sparkDriver{a: mustParseSubmit(t, "x.py"), masters: []string{"127.0.0.1:1"}, hbEvery: time.Second, logEvery: time.Hour,
		register: func(string) string { return "APP - 0 1024 spark x" }}
	err := d.run(context.Background())
	var ee *exitError
	if err == nil || !strings.Contains(err.Error(), "Failed to connect to master 127.0.0.1:1") || !errors.As(err, &ee) || ee.code != 1 {
		t.Errorf("no master: %v", err)
	}
}

func TestSparkSubmitMainFailures(t *testing.T) {
	dir := t.TempDir()
	py := filepath.Join(dir, "stream_users.py")
	os.WriteFile(py, []byte("pass\n"), 0o644)
	logOut = &bytes.Buffer{}
	defer func() { logOut = os.Stdout }()
	if code := sparkSubmitMain([]string{"/app/x.py"}); code != 1 {
		t.Errorf("no master: exit %d", code)
	}
	t.Setenv("STANDIN_UNHEALTHY", "1")
	if code := sparkSubmitMain([]string{"--master", "spark://127.0.0.1:1", py}); code != 1 {
		t.Errorf("unhealthy: exit %d", code)
	}
	t.Setenv("STANDIN_UNHEALTHY", "")
	t.Setenv("STANDIN_EXIT_CODE", "3")
	if code := sparkSubmitMain([]string{"--master", "spark://127.0.0.1:1", py}); code != 3 {
		t.Errorf("STANDIN_EXIT_CODE=3: exit %d", code)
	}
	t.Setenv("STANDIN_EXIT_CODE", "")
	t.Setenv("CASSANDRA_USER", "")
	if code := sparkSubmitMain([]string{"--master", "spark://127.0.0.1:1", py}); code != 1 {
		t.Errorf("missing env: exit %d", code)
	}
	if code := sparkSubmitMain([]string{"--master", "spark://127.0.0.1:1", filepath.Join(dir, "missing.py")}); code != 1 {
		t.Errorf("missing file: exit %d", code)
	}
}

func TestParseSparkSubmitLocal(t *testing.T) {
	build := []string{"--master", "local[1]", "--packages", "org.apache.spark:spark-sql-kafka-0-10_2.12:3.5.7,com.datastax.spark:spark-cassandra-connector_2.12:3.5.1",
		"--conf", "spark.jars.ivy=/tmp/ivy", "/tmp/resolve.py"}
	a, err := parseSparkSubmitArgs(build)
	if err != nil || !a.local || len(a.packages) != 2 {
		t.Fatalf("the image build's submission: %+v %v", a, err)
	}
	for _, m := range []string{"local", "local[*]", "local[4]", "local[2,3]"} {
		if a, err := parseSparkSubmitArgs([]string{"--master", m, "--packages", "a:b:c", "x.py"}); err != nil || !a.local {
			t.Errorf("%s: %+v %v", m, a, err)
		}
	}
	if a, err := parseSparkSubmitArgs([]string{"--master", "local[1]", "--conf", "spark.jars.packages=a:b:c", "x.py"}); err != nil || !a.local || a.packages[0] != "a:b:c" {
		t.Errorf("spark.jars.packages: %+v %v", a, err)
	}
	for _, bad := range [][]string{
		{"--master", "local[1]", "x.py"},                         // nothing to resolve: it would run the app
		{"--master", "local[1]", "--packages", "a:b:c", "x.jar"}, // not Python
		{"--master", "local[x]", "--packages", "a:b:c", "x.py"},  // not a master URL
		{"--master", "local[1]", "--packages", "a:b", "x.py"},    // not g:a:v
		{"--master", "local-cluster[2,1,1024]", "--packages", "a:b:c", "x.py"},
	} {
		if a, err := parseSparkSubmitArgs(bad); err == nil {
			t.Errorf("%q accepted: %+v", bad, a)
		}
	}
	a, err = parseSparkSubmitArgs([]string{"--master", "spark://m:7077", "--jars", "/x/a.jar,/x/b.jar", "--conf", "spark.jars=/x/c.jar", "x.py"})
	if err != nil || strings.Join(a.jars, ",") != "/x/a.jar,/x/b.jar,/x/c.jar" {
		t.Errorf("jars: %+v %v", a, err)
	}
}

// TestSparkSubmitResolve does what dataeco's Spark image build does: resolve
// the connectors and the user's packages into spark.jars.ivy/jars.
func TestSparkSubmitResolve(t *testing.T) {
	dir := t.TempDir()
	app := filepath.Join(dir, "resolve.py")
	os.WriteFile(app, []byte(`print("packages resolved")`+"\n"), 0o644)
	ivy := filepath.Join(dir, "ivy")
	args := []string{"--master", "local[1]", "--packages",
		"org.apache.spark:spark-sql-kafka-0-10_2.12:3.5.7,com.datastax.spark:spark-cassandra-connector_2.12:3.5.1,org.postgresql:postgresql:42.7.4",
		"--conf", "spark.jars.ivy=" + ivy, app}
	a, err := parseSparkSubmitArgs(args)
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := sparkSubmitLocal(a, "/nonexistent", &out, &errOut); code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut.String())
	}
	entries, _ := os.ReadDir(filepath.Join(ivy, "jars"))
	var jars []string
	for _, e := range entries {
		jars = append(jars, e.Name())
	}
	for _, want := range []string{"org.apache.spark_spark-sql-kafka-0-10_2.12-3.5.7.jar", "org.apache.kafka_kafka-clients-3.4.1.jar",
		"org.apache.spark_spark-token-provider-kafka-0-10_2.12-3.5.7.jar", "com.datastax.spark_spark-cassandra-connector_2.12-3.5.1.jar",
		"org.postgresql_postgresql-42.7.4.jar"} {
		if !slices.Contains(jars, want) {
			t.Errorf("no %s in %v", want, jars)
		}
	}
	zr, err := zip.OpenReader(filepath.Join(ivy, "jars", "org.apache.kafka_kafka-clients-3.4.1.jar"))
	if err != nil || len(zr.File) != 1 || zr.File[0].Name != "META-INF/MANIFEST.MF" {
		t.Errorf("not a jar: %v", err)
	} else {
		zr.Close()
	}
	for _, want := range []string{"org.apache.spark#spark-sql-kafka-0-10_2.12 added as a dependency",
		"\tfound org.apache.kafka#kafka-clients;3.4.1 in central", "\t" + strconv.Itoa(len(jars)) + " artifacts copied, 0 already retrieved"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("Ivy output lacks %q:\n%s", want, errOut.String())
		}
	}
	if !strings.Contains(out.String(), "packages resolved into "+filepath.Join(ivy, "jars")) {
		t.Errorf("stdout %q", out.String())
	}
	// A second resolution finds the jars in place.
	errOut.Reset()
	if code := sparkSubmitLocal(a, "/nonexistent", &out, &errOut); code != 0 || !strings.Contains(errOut.String(), "0 artifacts copied, "+strconv.Itoa(len(jars))+" already retrieved") {
		t.Errorf("again: exit %d\n%s", code, errOut.String())
	}

	// An artifact that is not in the repository: Ivy's words, no jar retrieved.
	ivy2 := filepath.Join(dir, "ivy2")
	a, _ = parseSparkSubmitArgs([]string{"--master", "local[1]", "--packages", "org.apache.spark:spark-sql-kafka-0-10_2.12:3.5.7,com.example:dataeco-missing-bar:1.0",
		"--conf", "spark.jars.ivy=" + ivy2, app})
	errOut.Reset()
	if code := sparkSubmitLocal(a, "/nonexistent", &out, &errOut); code != 1 {
		t.Errorf("missing artifact: exit %d", code)
	}
	for _, want := range []string{
		"\t\tmodule not found: com.example#dataeco-missing-bar;1.0\n",
		"\t\t::          UNRESOLVED DEPENDENCIES         ::\n",
		"\t\t:: com.example#dataeco-missing-bar;1.0: not found\n",
		":: USE VERBOSE OR DEBUG MESSAGE LEVEL FOR MORE DETAILS\n",
		"Exception in thread \"main\" java.lang.RuntimeException: [unresolved dependency: com.example#dataeco-missing-bar;1.0: not found]\n",
	} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, errOut.String())
		}
	}
	if entries, _ := os.ReadDir(filepath.Join(ivy2, "jars")); len(entries) != 0 {
		t.Errorf("jars retrieved despite the failure: %v", entries)
	}
	// Two missing: one problem each in the exception, as Ivy lists them.
	a, _ = parseSparkSubmitArgs([]string{"--master", "local[1]", "--packages", "g:dataeco-missing-a:1,g:dataeco-missing-b:2", "--conf", "spark.jars.ivy=" + ivy2, app})
	errOut.Reset()
	sparkSubmitLocal(a, "/nonexistent", &out, &errOut)
	if !strings.Contains(errOut.String(), "[unresolved dependency: g#dataeco-missing-a;1: not found, unresolved dependency: g#dataeco-missing-b;2: not found]") {
		t.Errorf("two missing:\n%s", errOut.String())
	}
	// Without spark.jars.ivy the image's HOME (/nonexistent) fails, as for real.
	a, _ = parseSparkSubmitArgs([]string{"--master", "local[1]", "--packages", "a:b:c", app})
	errOut.Reset()
	if code := sparkSubmitLocal(a, "/nonexistent", &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "java.io.FileNotFoundException: /nonexistent/.ivy2/cache/resolved-") {
		t.Errorf("no ivy dir: exit %d %s", code, errOut.String())
	}
	// The application file must exist, though it is not run.
	a, _ = parseSparkSubmitArgs([]string{"--master", "local[1]", "--packages", "a:b:c", "--conf", "spark.jars.ivy=" + ivy, filepath.Join(dir, "none.py")})
	errOut.Reset()
	if code := sparkSubmitLocal(a, "/nonexistent", &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "can't open file") {
		t.Errorf("no app: exit %d %s", code, errOut.String())
	}
	// STANDIN_UNHEALTHY is for health checks, not image builds.
	t.Setenv("STANDIN_UNHEALTHY", "1")
	t.Setenv("HOME", "/nonexistent")
	if code := sparkSubmitMain(args); code != 0 {
		t.Errorf("sparkSubmitMain local with STANDIN_UNHEALTHY: exit %d", code)
	}
}

const streamUsersLike = `
def table_columns(spark, keyspace, table):
    schema = (spark.read.format("org.apache.spark.sql.cassandra").options(keyspace=keyspace, table=table).load().schema)

def main():
    columns = table_columns(spark, keyspace, table)
    raw = (spark.readStream
           .format("kafka")
           .load())
`

func TestSparkConnectors(t *testing.T) {
	dir := t.TempDir()
	home := filepath.Join(dir, "spark")
	os.MkdirAll(filepath.Join(home, "jars"), 0o755)
	t.Setenv("SPARK_HOME", home)
	app := filepath.Join(dir, "stream_users.py")
	os.WriteFile(app, []byte(streamUsersLike), 0o644)
	const cassandraErr = "pyspark.errors.exceptions.captured.AnalysisException: [DATA_SOURCE_NOT_FOUND] Failed to find the data source: org.apache.spark.sql.cassandra. Please find packages at `https://spark.apache.org/third-party-projects.html`."
	const kafkaErr = "pyspark.errors.exceptions.captured.AnalysisException: Failed to find data source: kafka. Please deploy the application as per the deployment section of Structured Streaming + Kafka Integration Guide."

	// Neither connector: the job fails where it first reads, the Cassandra table's schema.
	err := checkConnectors(mustParseSubmit(t, app))
	if err == nil || !strings.HasSuffix(err.Error(), "\n"+cassandraErr) || !strings.HasPrefix(err.Error(), "Traceback (most recent call last):") {
		t.Errorf("no connectors: %v", err)
	}
	// Cassandra's connector only: then Kafka's is missing.
	os.WriteFile(filepath.Join(home, "jars", "com.datastax.spark_spark-cassandra-connector_2.12-3.5.1.jar"), nil, 0o644)
	if err := checkConnectors(mustParseSubmit(t, app)); err == nil || !strings.HasSuffix(err.Error(), "\n"+kafkaErr) {
		t.Errorf("no Kafka connector: %v", err)
	}
	// --packages or --jars put it on the classpath.
	if err := checkConnectors(mustParseSubmit(t, "--packages", "org.apache.spark:spark-sql-kafka-0-10_2.12:3.5.7", app)); err != nil {
		t.Errorf("--packages: %v", err)
	}
	jar := filepath.Join(dir, "spark-sql-kafka-0-10_2.12-3.5.7.jar")
	if err := checkConnectors(mustParseSubmit(t, "--jars", jar, app)); err == nil {
		t.Error("--jars naming a file that does not exist")
	}
	os.WriteFile(jar, nil, 0o644)
	if err := checkConnectors(mustParseSubmit(t, "--jars", jar, app)); err != nil {
		t.Errorf("--jars: %v", err)
	}
	// Both in SPARK_HOME/jars, as in the image dataeco builds.
	os.WriteFile(filepath.Join(home, "jars", "org.apache.spark_spark-sql-kafka-0-10_2.12-3.5.7.jar"), nil, 0o644)
	if err := checkConnectors(mustParseSubmit(t, app)); err != nil {
		t.Errorf("both in jars: %v", err)
	}
	// Kafka only, named first: Kafka's message.
	os.RemoveAll(filepath.Join(home, "jars"))
	other := filepath.Join(dir, "kafka_only.py")
	os.WriteFile(other, []byte(`spark.readStream.format('kafka').load()`), 0o644)
	if err := checkConnectors(mustParseSubmit(t, other)); err == nil || !strings.HasSuffix(err.Error(), kafkaErr) {
		t.Errorf("Kafka-only app: %v", err)
	}
	// An application that uses neither, and a stream_users.py whose text
	// says nothing (both are needed, Cassandra first).
	plain := filepath.Join(dir, "job.py")
	os.WriteFile(plain, []byte("print(1)\n"), 0o644)
	if err := checkConnectors(mustParseSubmit(t, plain)); err != nil {
		t.Errorf("plain app: %v", err)
	}
	if err := checkConnectors(mustParseSubmit(t, filepath.Join(dir, "missing", "stream_users.py"))); err == nil || !strings.HasSuffix(err.Error(), cassandraErr) {
		t.Errorf("unreadable stream_users.py: %v", err)
	}
}

// TestSparkDriverAppFails: an application that fails after it started
// (missing connectors) is ended with the master and exits 1.
func TestSparkDriverAppFails(t *testing.T) {
	m := newSparkMasterState("spark://m:7077", "http://m:8080")
	ln := serveLoopback(t, m.serveConn)
	d := &sparkDriver{a: mustParseSubmit(t, "/app/stream_users.py"), masters: []string{ln.Addr().String()}, hbEvery: 50 * time.Millisecond, logEvery: time.Hour,
		register: func(string) string { return "APP - 0 1024 spark dataeco-stream-users" },
		started:  func() error { return errors.New("AnalysisException: boom") }}
	err := d.run(context.Background())
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 1 || !strings.Contains(ee.msg, "boom") {
		t.Fatalf("run: %v", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.apps) != 0 || len(m.completed) != 1 || m.completed[0].State != "FINISHED" {
		t.Errorf("app not ended: %+v %+v", m.apps, m.completed)
	}
}
