package checks_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
	"github.com/dataeco/dataeco/checks"
	"github.com/dataeco/dataeco/installer"
	"github.com/dataeco/dataeco/installer/model"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestPipelineOnRealStack is the pipeline end to end on the real software testdata/realstack
// runs (Airflow 3.3 on PostgreSQL, Kafka 3.9, Spark 3.5.8 standalone, Cassandra 5.0): a run of
// the pipeline's own DAG, triggered through Airflow's REST API as the generated admin, puts
// users on users_created; the pipeline's own streaming job writes every one of them, every
// column, into spark_streams.created_users; and `dataeco smoke`, pointed at these servers by
// an install dir, passes for every component they provide.
func TestPipelineOnRealStack(t *testing.T) {
	srv := checks.RealServers(t)
	for _, k := range []string{"REALSTACK_AIRFLOW_URL", "REALSTACK_SPARK_UI", "REALSTACK_KAFKA_BOOTSTRAP", "REALSTACK_CASSANDRA_PORT"} {
		if srv[k] == "" {
			t.Fatalf("%s is not in the real stack's env file: is testdata/realstack/stack.py up to date?", k)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	const topic = "users_created"

	kc, err := kgo.NewClient(kgo.SeedBrokers(srv["REALSTACK_KAFKA_BOOTSTRAP"]))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	ends := func() kadm.ListedOffsets {
		o, err := kadm.NewClient(kc).ListEndOffsets(ctx, topic)
		if err != nil || o.Error() != nil {
			t.Fatalf("end offsets of %s: %v %v", topic, err, o.Error())
		}
		return o
	}
	before := ends()

	// Airflow: log in as the generated admin, unpause the DAG (the real stack starts it
	// paused, so records come only when a test asks), trigger one run, wait for it.
	af := &airflowAPI{t: t, ctx: ctx, base: srv["REALSTACK_AIRFLOW_URL"]}
	af.login(srv["REALSTACK_AIRFLOW_USER"], srv["REALSTACK_AIRFLOW_PASSWORD"])
	af.call(http.MethodPatch, "/api/v2/dags/user_automation", map[string]any{"is_paused": false}, nil)
	t.Cleanup(func() {
		// The test's context is gone by now; pausing again must not depend on it.
		again := *af
		again.ctx = context.Background()
		again.call(http.MethodPatch, "/api/v2/dags/user_automation", map[string]any{"is_paused": true}, nil)
	})
	runID := fmt.Sprintf("dataeco-test-%d", time.Now().UnixNano())
	af.call(http.MethodPost, "/api/v2/dags/user_automation/dagRuns", map[string]any{"dag_run_id": runID, "logical_date": nil}, nil)
	var run struct {
		State   string    `json:"state"`
		EndDate time.Time `json:"end_date"`
	}
	for run.State != "success" {
		af.call(http.MethodGet, "/api/v2/dags/user_automation/dagRuns/"+runID, nil, &run)
		if run.State == "failed" {
			t.Fatalf("the DAG run failed; task log:\n%s", af.text("/api/v2/dags/user_automation/dagRuns/"+runID+"/taskInstances/stream_users/logs/1?full_content=true"))
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the DAG run is still %s", run.State)
		case <-time.After(2 * time.Second):
		}
	}

	// What the run put on the topic: everything after the old end offsets but the smoke
	// checks' marked records (a concurrent `smoke` may have written one).
	type user map[string]string
	var users []user
	after := ends()
	parts := map[string]map[int32]kgo.Offset{topic: {}}
	want := 0
	before.Each(func(o kadm.ListedOffset) {
		parts[topic][o.Partition] = kgo.NewOffset().At(o.Offset)
		if a, ok := after.Lookup(topic, o.Partition); ok {
			want += int(a.Offset - o.Offset)
		}
	})
	cc, err := kgo.NewClient(kgo.SeedBrokers(srv["REALSTACK_KAFKA_BOOTSTRAP"]), kgo.ConsumePartitions(parts))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	for seen := 0; seen < want; {
		fetches := cc.PollFetches(ctx)
		if err := fetches.Err0(); err != nil {
			t.Fatalf("reading %s: %v", topic, err)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			seen++
			var u user
			if err := json.Unmarshal(r.Value, &u); err != nil {
				t.Errorf("a record that is not a JSON user: %s", r.Value)
				return
			}
			if u["last_name"] != "smoke" {
				users = append(users, u)
			}
		})
	}
	if len(users) < 5 {
		t.Fatalf("the DAG run produced %d users, want at least the default 5", len(users))
	}

	// Every one of them in Cassandra, every column as produced.
	cluster := gocql.NewCluster(srv["REALSTACK_CASSANDRA_HOST"])
	cluster.Port, _ = strconv.Atoi(srv["REALSTACK_CASSANDRA_PORT"])
	cluster.Authenticator = gocql.PasswordAuthenticator{Username: srv["REALSTACK_CASSANDRA_USER"], Password: srv["REALSTACK_CASSANDRA_PASSWORD"]}
	cluster.Timeout = 10 * time.Second
	session, err := cluster.CreateSession()
	if err != nil {
		t.Fatal(err)
	}
	defer session.Close()
	columns := []string{"first_name", "last_name", "gender", "address", "post_code", "email", "username", "dob", "registered_date", "phone", "picture"}
	deadline := time.Now().Add(3 * time.Minute)
	for _, u := range users {
		id, err := gocql.ParseUUID(u["id"])
		if err != nil {
			t.Fatalf("id %q is not a UUID string: %v", u["id"], err)
		}
		for {
			row := map[string]any{}
			err := session.Query("SELECT "+strings.Join(columns, ", ")+" FROM spark_streams.created_users WHERE id = ?", id).MapScanContext(ctx, row)
			if err == nil {
				for _, c := range columns {
					if got := fmt.Sprint(row[c]); got != u[c] {
						t.Errorf("user %s: %s = %q in Cassandra, %q on the topic", u["id"], c, got, u[c])
					}
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("user %s (%s %s) never reached Cassandra: %v", u["id"], u["first_name"], u["last_name"], err)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	// Unpausing may also start a scheduled run; its users are the DAG's as well.
	t.Logf("the DAG produced %d users; the last reached spark_streams.created_users %.1fs after the run ended (Airflow's end_date)",
		len(users), time.Since(run.EndDate).Seconds())

	// `dataeco smoke` on an install dir that points at these servers.
	dir := installDirFor(t, srv)
	streams, _, out, errOut := installer.TestStreams()
	app := &installer.App{Streams: streams, Getenv: func(string) string { return "" }}
	if code := installer.Main(ctx, app, []string{"dataeco", "smoke", "--dir", dir, "--json", "--pipeline-timeout", "3m"}); code != 0 {
		t.Fatalf("dataeco smoke exited %d\n%s\n%s", code, out, errOut)
	}
	var report struct {
		Checks []checks.Result `json:"checks"`
	}
	if err := json.Unmarshal(out.Bytes(), &report); err != nil {
		t.Fatalf("dataeco smoke --json: %v\n%s", err, out)
	}
	wantStatus := map[string]checks.Status{
		checks.IDSmokeKafka: checks.Pass, checks.IDSmokeCassandra: checks.Pass, checks.IDSmokeSpark: checks.Pass,
		checks.IDSmokeAirflow: checks.Pass, checks.IDSmokePipeline: checks.Pass,
		// Not part of this install (no Schema Registry server is installable here; see
		// testdata/realstack/README.md), so skipped, not failed.
		checks.IDSmokeSchemaRegistry: checks.Skip, checks.IDSmokeControlCenter: checks.Skip,
	}
	var table bytes.Buffer
	for _, r := range report.Checks {
		fmt.Fprintf(&table, "%-22s %-4s %5.1fs  %s\n", r.ID, strings.ToUpper(string(r.Status)), float64(r.DurationMS)/1000, r.Message)
		if w, ok := wantStatus[r.ID]; !ok || r.Status != w {
			t.Errorf("%s: %s %q, want %s", r.ID, r.Status, r.Message, w)
		}
		delete(wantStatus, r.ID)
	}
	if len(wantStatus) > 0 {
		t.Errorf("checks missing from the report: %v", wantStatus)
	}
	t.Logf("dataeco smoke on the real stack:\n%s", table.String())
}

// installDirFor writes what `dataeco install` would leave behind for a stack at these
// servers' addresses: the answers (components, ports, the worker's size) and the 0600 .env.
func installDirFor(t *testing.T, srv map[string]string) string {
	t.Helper()
	port := func(hostport string) int {
		i := strings.LastIndex(hostport, ":")
		p, err := strconv.Atoi(hostport[i+1:])
		if err != nil {
			t.Fatalf("no port in %q", hostport)
		}
		return p
	}
	ans := model.DefaultAnswers(model.EngineResources{NCPU: 4, MemTotal: 16 << 30})
	ans.Components = []string{model.CompKafka, model.CompAirflow, model.CompSpark, model.CompCassandra}
	ans.Ports["kafka"] = port(srv["REALSTACK_KAFKA_BOOTSTRAP"])
	ans.Ports["cassandra"] = port(srv["REALSTACK_CASSANDRA_PORT"])
	ans.Ports["spark_ui"] = port(srv["REALSTACK_SPARK_UI"])
	ans.Ports["spark_master"] = port(srv["REALSTACK_SPARK_MASTER"])
	ans.Ports["airflow"] = port(srv["REALSTACK_AIRFLOW_URL"])
	ans.SparkWorkerCores, _ = strconv.Atoi(srv["REALSTACK_SPARK_WORKER_CORES"])
	mem, _ := strconv.Atoi(srv["REALSTACK_SPARK_WORKER_MEMORY_MIB"])
	ans.SparkWorkerMemory = model.Size(mem)
	b, err := ans.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "install")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	sec := model.Secrets{
		"DATAECO_CASSANDRA_USER": srv["REALSTACK_CASSANDRA_USER"], "DATAECO_CASSANDRA_PASSWORD": srv["REALSTACK_CASSANDRA_PASSWORD"],
		"DATAECO_AIRFLOW_ADMIN_USER": srv["REALSTACK_AIRFLOW_USER"], "DATAECO_AIRFLOW_ADMIN_PASSWORD": srv["REALSTACK_AIRFLOW_PASSWORD"],
	}
	for name, data := range map[string][]byte{"answers.yaml": b, ".env": sec.Marshal()} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// airflowAPI is the few calls of Airflow's REST API the test makes, as one logged-in user.
type airflowAPI struct {
	t     *testing.T
	ctx   context.Context
	base  string
	token string
}

func (a *airflowAPI) login(user, password string) {
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	a.call(http.MethodPost, "/auth/token", map[string]string{"username": user, "password": password}, &tok)
	a.token = tok.AccessToken
}

func (a *airflowAPI) do(method, path string, body any) ([]byte, int) {
	a.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(a.ctx, method, a.base+path, r)
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	resp, err := (&http.Client{Transport: &http.Transport{Proxy: nil}}).Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return b, resp.StatusCode
}

func (a *airflowAPI) call(method, path string, body, out any) {
	a.t.Helper()
	b, code := a.do(method, path, body)
	if code >= 300 {
		a.t.Fatalf("%s %s: HTTP %d %s", method, path, code, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			a.t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
}

func (a *airflowAPI) text(path string) string {
	b, _ := a.do(http.MethodGet, path, nil)
	return string(b)
}
