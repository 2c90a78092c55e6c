package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestHelpers(t *testing.T) {
	if got := bootstrapAddrs("PLAINTEXT://broker:29092, other:9092"); !reflect.DeepEqual(got, []string{"broker:29092", "other:9092"}) {
		t.Errorf("bootstrapAddrs: %q", got)
	}
	if got := bootstrapAddrs("zookeeper:2181/kafka"); !reflect.DeepEqual(got, []string{"zookeeper:2181"}) {
		t.Errorf("chroot: %q", got)
	}
	if p, err := listenPort("http://0.0.0.0:8085", 8081); err != nil || p != 8085 {
		t.Errorf("listenPort: %d %v", p, err)
	}
	if p, err := listenPort("", 8081); err != nil || p != 8081 {
		t.Errorf("listenPort default: %d %v", p, err)
	}
	if _, err := listenPort("http://0.0.0.0", 1); err == nil {
		t.Error("listener without port accepted")
	}
	if v := versionPrefix("3.1.3-python3.12", "x"); v != "3.1.3" {
		t.Errorf("versionPrefix %q", v)
	}
	if v := versionPrefix("", "5.0.6"); v != "5.0.6" {
		t.Errorf("versionPrefix default %q", v)
	}
	if code := dispatch([]string{"/usr/local/bin/nosuchtool"}); code != 127 {
		t.Errorf("unknown tool exit %d", code)
	}
	if code := dispatch([]string{"standin"}); code != 2 {
		t.Errorf("bare standin exit %d", code)
	}
}

func TestRecordStart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	for i := 0; i < 2; i++ {
		if err := recordStart(dir, "test"); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, "starts.log"))
	if n := strings.Count(string(b), "test started"); n != 2 {
		t.Errorf("starts.log has %d lines: %q", n, b)
	}
}

func TestZookeeperReplies(t *testing.T) {
	if got := zkReply("srvr", false); !strings.Contains(got, "Mode: standalone\n") || !strings.HasPrefix(got, "Zookeeper version: 3.8.4-standin\n") {
		t.Errorf("srvr: %q", got)
	}
	if got := zkReply("srvr", true); strings.Contains(got, "Mode") {
		t.Errorf("unhealthy srvr: %q", got)
	}
	if got := zkReply("ruok", false); got != "ruok is not executed because it is not in the whitelist.\n" {
		t.Errorf("ruok: %q", got)
	}
}

func TestParseCurlArgs(t *testing.T) {
	a, err := parseCurlArgs([]string{"-fsS", "-o", "/dev/null", "-w", "%{http_code}", "localhost:8081/subjects"})
	if err != nil || !a.fail || !a.silent || !a.showError || a.output != "/dev/null" || a.writeOut != "%{http_code}" ||
		a.url != "http://localhost:8081/subjects" || a.method != "GET" {
		t.Errorf("%+v %v", a, err)
	}
	a, err = parseCurlArgs([]string{"--fail", "-X", "POST", "-H", "Content-Type: application/json", "--data", `{"schema":"\"string\""}`, "http://sr:8081/subjects/x/versions", "--max-time=3"})
	if err != nil || a.method != "POST" || len(a.headers) != 1 || a.data == nil || a.maxTime != 3*time.Second {
		t.Errorf("%+v %v", a, err)
	}
	if a, _ := parseCurlArgs([]string{"-d", "x=1", "http://h/"}); a.method != "POST" {
		t.Errorf("-d method %q", a.method)
	}
	for _, bad := range [][]string{{}, {"-Z", "http://h"}, {"--bogus", "x", "http://h"}, {"-o"}, {"http://a", "http://b"}} {
		if _, err := parseCurlArgs(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	if got := curlWriteOut(`%{http_code}\n`, 200, "u"); got != "200\n" {
		t.Errorf("writeOut %q", got)
	}
}

func TestRunCurl(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/sick" {
			w.WriteHeader(503)
		}
		io.WriteString(w, r.Method+" ok")
	}))
	defer srv.Close()
	var out, errb strings.Builder
	a, _ := parseCurlArgs([]string{"-fsS", srv.URL + "/x"})
	if code := runCurl(a, &out, &errb); code != 0 || out.String() != "GET ok" {
		t.Errorf("ok: %d %q %q", code, out.String(), errb.String())
	}
	out.Reset()
	a, _ = parseCurlArgs([]string{"-fsS", srv.URL + "/sick"})
	if code := runCurl(a, &out, &errb); code != 22 || !strings.Contains(errb.String(), "returned error: 503") {
		t.Errorf("503: %d %q", code, errb.String())
	}
	out.Reset()
	a, _ = parseCurlArgs([]string{"-s", "-o", "/dev/null", "-w", "%{http_code}", srv.URL + "/sick"})
	if code := runCurl(a, &out, &errb); code != 0 || out.String() != "503" {
		t.Errorf("-w: %d %q", code, out.String())
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close()
	errb.Reset()
	a, _ = parseCurlArgs([]string{"-sS", "http://" + dead + "/"})
	if code := runCurl(a, &out, &errb); code != 7 || !strings.Contains(errb.String(), "curl: (7) Failed to connect") {
		t.Errorf("refused: %d %q", code, errb.String())
	}
	// --unix-socket: the Docker engine's API, as a clean-up task calls it.
	sock := filepath.Join(t.TempDir(), "docker.sock")
	uln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	usrv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(204)
		io.WriteString(w, r.Method+" "+r.URL.RequestURI())
	})}
	go usrv.Serve(uln)
	defer usrv.Close()
	out.Reset()
	a, _ = parseCurlArgs([]string{"-fsS", "--unix-socket", sock, "-X", "DELETE", "-w", "%{http_code}", "http://localhost/volumes/v1?force=true"})
	if code := runCurl(a, &out, &errb); code != 0 || out.String() != "204" {
		t.Errorf("--unix-socket: %d %q %q", code, out.String(), errb.String())
	}
}

func TestSchemaRegistry(t *testing.T) {
	srv := httptest.NewServer(withCommon(newSchemaRegistry().handler()))
	defer srv.Close()
	call := func(method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if ct := resp.Header.Get("Content-Type"); resp.StatusCode < 500 && ct != srContentType {
			t.Errorf("%s %s content type %q", method, path, ct)
		}
		return resp.StatusCode, strings.TrimSpace(string(b))
	}
	if c, b := call("GET", "/subjects", ""); c != 200 || b != "[]" {
		t.Errorf("empty subjects: %d %s", c, b)
	}
	schema := `{"schema": "{\"type\":\"record\",\"name\":\"T\",\"fields\":[{\"name\":\"a\",\"type\":\"string\"}]}"}`
	if c, b := call("POST", "/subjects/orders-value/versions", schema); c != 200 || b != `{"id":1}` {
		t.Errorf("register: %d %s", c, b)
	}
	if c, b := call("POST", "/subjects/orders-value/versions", schema); c != 200 || b != `{"id":1}` {
		t.Errorf("register again: %d %s", c, b)
	}
	if c, b := call("POST", "/subjects/other/versions", `{"schema":"\"string\""}`); c != 200 || b != `{"id":2}` {
		t.Errorf("register other: %d %s", c, b)
	}
	if c, b := call("POST", "/subjects/bad/versions", `{"schema":"not json"}`); c != 422 || !strings.Contains(b, "42201") {
		t.Errorf("invalid schema: %d %s", c, b)
	}
	if c, b := call("GET", "/subjects", ""); c != 200 || b != `["orders-value","other"]` {
		t.Errorf("subjects: %d %s", c, b)
	}
	c, b := call("GET", "/subjects/orders-value/versions/latest", "")
	var got srSchema
	json.Unmarshal([]byte(b), &got)
	if c != 200 || got.Subject != "orders-value" || got.Version != 1 || got.ID != 1 || !strings.Contains(got.Schema, `"record"`) {
		t.Errorf("latest: %d %s", c, b)
	}
	if c, b := call("GET", "/subjects/nope/versions/latest", ""); c != 404 || !strings.Contains(b, "40401") {
		t.Errorf("missing subject: %d %s", c, b)
	}
	if c, b := call("DELETE", "/subjects/orders-value", ""); c != 200 || b != "[1]" {
		t.Errorf("delete: %d %s", c, b)
	}
	if c, b := call("GET", "/subjects", ""); c != 200 || b != `["other"]` {
		t.Errorf("after delete: %d %s", c, b)
	}
	t.Setenv("STANDIN_UNHEALTHY", "1")
	if c, _ := call("GET", "/subjects", ""); c != 503 {
		t.Errorf("unhealthy: %d", c)
	}
}

func TestPrettyJSON(t *testing.T) {
	got := prettyJSON(jobj{
		{"url", "spark://m:7077"},
		{"workers", []any{jobj{{"id", "w1"}, {"cores", 2}, {"resources", jobj{}}}}},
		{"aliveworkers", 1},
		{"activeapps", []any{}},
		{"status", "ALIVE"},
	})
	want := `{
  "url" : "spark://m:7077",
  "workers" : [ {
    "id" : "w1",
    "cores" : 2,
    "resources" : { }
  } ],
  "aliveworkers" : 1,
  "activeapps" : [ ],
  "status" : "ALIVE"
}`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(got), &v); err != nil {
		t.Errorf("not JSON: %v", err)
	}
}

func TestSparkParsing(t *testing.T) {
	for in, want := range map[string]int{"1g": 1024, "512m": 512, "2048": 2048, "1G": 1024, "1536mb": 1536, "1t": 1 << 20} {
		if got, err := parseSparkMemory(in); err != nil || got != want {
			t.Errorf("parseSparkMemory(%q) = %d, %v", in, got, err)
		}
	}
	if _, err := parseSparkMemory("lots"); err == nil {
		t.Error("bad memory accepted")
	}
	if got, err := parseSparkMasterURL("spark://spark-master:7077"); err != nil || got[0] != "spark-master:7077" {
		t.Errorf("master url %q %v", got, err)
	}
	if _, err := parseSparkMasterURL("http://x:7077"); err == nil {
		t.Error("non-spark URL accepted")
	}
	o, err := parseSparkOpts([]string{"--webui-port", "8082", "--cores=2", "spark://m:7077"})
	if err != nil || o.webuiPort != 8082 || o.cores != 2 || o.masterURL != "spark://m:7077" {
		t.Errorf("opts %+v %v", o, err)
	}
}

func TestSparkMaster(t *testing.T) {
	m := newSparkMasterState("spark://m:7077", "http://m:8080")
	now := time.Unix(1700000000, 0)
	if r := m.handleLine("REGISTER w1 10.0.0.5 2 1024 40000 http://10.0.0.5:8081", now); r != "REGISTERED http://m:8080" {
		t.Fatalf("register: %q", r)
	}
	if r := m.handleLine("HEARTBEAT w1", now.Add(20*time.Second)); r != "OK" {
		t.Errorf("heartbeat: %q", r)
	}
	if r := m.handleLine("HEARTBEAT w2", now); r != "UNKNOWN" {
		t.Errorf("unknown worker: %q", r)
	}
	if r := m.handleLine("REGISTER w1", now); !strings.HasPrefix(r, "ERROR") {
		t.Errorf("short register: %q", r)
	}
	var v struct {
		Workers []struct {
			ID, Host, State, Webuiaddress string
			Cores, Memory, Port           int
		}
		Aliveworkers, Cores, Memory int
		Status                      string
		Activeapps                  []any
	}
	js := m.json(now.Add(45 * time.Second))
	if !strings.Contains(js, `"status" : "ALIVE"`) {
		t.Errorf("pretty print: %s", js)
	}
	if err := json.Unmarshal([]byte(js), &v); err != nil {
		t.Fatal(err)
	}
	if v.Aliveworkers != 1 || v.Cores != 2 || v.Memory != 1024 || v.Workers[0].State != "ALIVE" || v.Workers[0].Port != 40000 || v.Activeapps == nil {
		t.Errorf("json: %+v", v)
	}
	json.Unmarshal([]byte(m.json(now.Add(51*time.Second))), &v)
	if v.Aliveworkers != 0 {
		t.Errorf("worker not expired: %+v", v)
	}
}

func TestAirflowParsing(t *testing.T) {
	d, err := parseSQLAlchemyConn("postgresql+psycopg2://airflow:p%40ss@postgres/airflow")
	if err != nil || d.User != "airflow" || d.Password != "p@ss" || d.Host != "postgres" || d.Port != 5432 || d.DB != "airflow" {
		t.Errorf("%+v %v", d, err)
	}
	d, err = parseSQLAlchemyConn("postgresql://u:p@db:6543/x")
	if err != nil || d.Addr() != "db:6543" {
		t.Errorf("%+v %v", d, err)
	}
	if _, err := parseSQLAlchemyConn("mysql://u:p@db/x"); err == nil {
		t.Error("mysql accepted")
	}
	if got := redactConn("postgresql+psycopg2://airflow:secret@postgres/airflow"); strings.Contains(got, "secret") {
		t.Errorf("redact %q", got)
	}
	a, err := parseJobsCheckArgs([]string{"--job-type", "DagProcessorJob", "--hostname", "abc"})
	if err != nil || a.jobType != "DagProcessorJob" || a.hostname != "abc" {
		t.Errorf("%+v %v", a, err)
	}
	if _, err := parseJobsCheckArgs([]string{"--job-type", "Nope"}); err == nil {
		t.Error("bad job type accepted")
	}
	if _, err := parseJobsCheckArgs([]string{"--hostname"}); err == nil {
		t.Error("missing value accepted")
	}
}

func TestJobAlive(t *testing.T) {
	f := filepath.Join(t.TempDir(), "hb")
	now := time.Unix(1700000000, 0)
	if jobAlive(f, now, 30*time.Second) {
		t.Error("missing file alive")
	}
	os.WriteFile(f, []byte(strconv.FormatInt(now.Unix()-10, 10)+"\n"), 0o644)
	if !jobAlive(f, now, 30*time.Second) {
		t.Error("fresh heartbeat dead")
	}
	if jobAlive(f, now.Add(25*time.Second), 30*time.Second) {
		t.Error("stale heartbeat alive")
	}
}

func TestAirflowHealthBody(t *testing.T) {
	b, _ := json.Marshal(airflowHealth("2025-01-01T00:00:00.000000+00:00"))
	var v map[string]map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"metadatabase", "scheduler", "dag_processor", "triggerer"} {
		if v[c]["status"] != "healthy" {
			t.Errorf("%s not healthy: %s", c, b)
		}
	}
	if v["triggerer"]["latest_triggerer_heartbeat"] != "2025-01-01T00:00:00.000000+00:00" {
		t.Errorf("triggerer heartbeat: %s", b)
	}
}
