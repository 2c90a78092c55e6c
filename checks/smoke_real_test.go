package checks

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// realServers reads the env file testdata/realstack writes when it has started real Kafka
// 3.9 and Cassandra 5.0 (with PasswordAuthenticator) as local processes. .ci/test starts
// them and points DATAECO_REALSTACK_ENV at the file; under CI=true a missing file fails.
func realServers(t testing.TB) map[string]string {
	t.Helper()
	path := os.Getenv("DATAECO_REALSTACK_ENV")
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("DATAECO_REALSTACK_ENV is not set: .ci/test starts testdata/realstack before the Go tests")
		}
		t.Skip("no real servers: run testdata/realstack/stack.py start and set DATAECO_REALSTACK_ENV")
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("real servers: %v", err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "export "), "=")
		if ok {
			env[k] = strings.Trim(v, `'"`)
		}
	}
	return env
}

// TestSmokeOnRealServers runs the smoke checks against real Kafka and Cassandra: they pass
// with the right credentials, and fail with the right message when a server is down, the
// credentials are wrong, or the pipeline is cut.
func TestSmokeOnRealServers(t *testing.T) {
	srv := realServers(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// The stack's streaming job reads users_created; a topic of this test's own is one nothing
	// consumes, so a cut pipeline stays cut.
	topic := "smoke_cut_" + newUUID()[:8]
	target := func() *SmokeTarget {
		return &SmokeTarget{
			Kafka:         srv["REALSTACK_KAFKA_BOOTSTRAP"],
			Cassandra:     srv["REALSTACK_CASSANDRA_HOST"] + ":" + srv["REALSTACK_CASSANDRA_PORT"],
			CassandraUser: srv["REALSTACK_CASSANDRA_USER"], CassandraPassword: srv["REALSTACK_CASSANDRA_PASSWORD"],
			Topic: topic, Keyspace: "spark_streams", Table: "created_users", PipelineTimeout: 5 * time.Second,
		}
	}
	preparePipeline(t, ctx, target())

	tests := []struct {
		name   string
		check  func(context.Context, *Env) Result
		mutate func(*SmokeTarget)
		want   Status
		has    string
	}{
		{"kafka round trip", smokeKafka, nil, Pass, "a record went through a temporary topic and back"},
		{"kafka down", smokeKafka, func(t *SmokeTarget) { t.Kafka = "127.0.0.1:1" }, Fail, "no metadata from 127.0.0.1:1"},
		{"cassandra with the generated user", smokeCassandra, nil, Pass, "spark_streams.created_users present"},
		{"cassandra wrong password", smokeCassandra, func(t *SmokeTarget) { t.CassandraPassword = "wrong" }, Fail, "logging in as"},
		{"cassandra default superuser refused", smokeCassandra, func(t *SmokeTarget) { t.CassandraUser, t.CassandraPassword = "cassandra", "cassandra" }, Fail, "logging in as cassandra"},
		{"cassandra down", smokeCassandra, func(t *SmokeTarget) { t.Cassandra = "127.0.0.1:1" }, Fail, "127.0.0.1:1"},
		{"cassandra without the table", smokeCassandra, func(t *SmokeTarget) { t.Table = "no_such_table" }, Fail, "spark_streams.no_such_table is missing"},
		{"pipeline cut: no streaming job", smokePipeline, func(t *SmokeTarget) {
			t.SparkMasterURL, t.SparkApp, t.SparkWorkers = "http://127.0.0.1:1", "dataeco-stream-users", 1
		}, Fail, "not consumed"},
		{"pipeline cut: nothing to produce to", smokePipeline, func(t *SmokeTarget) {
			t.Kafka, t.SparkApp = "127.0.0.1:1", "dataeco-stream-users"
		}, Fail, "not produced"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg := target()
			if tt.mutate != nil {
				tt.mutate(tg)
			}
			r := tt.check(ctx, &Env{Smoke: tg})
			if r.Status != tt.want || !strings.Contains(r.Message, tt.has) {
				t.Errorf("got %s %q, want %s containing %q", r.Status, r.Message, tt.want, tt.has)
			}
			if r.Status == Fail && r.Fix == "" {
				t.Error("a failure without a fix")
			}
		})
	}

	// "Not written": the record is produced and a job is said to run, but nothing writes the
	// row. A stand-in master that lists the job RUNNING makes the last hop the one to blame.
	t.Run("pipeline cut: not written", func(t *testing.T) {
		tg := target()
		tg.SparkMasterURL, tg.SparkApp, tg.SparkWorkers = fakeMaster(t), "dataeco-stream-users", 1
		r := smokePipeline(ctx, &Env{Smoke: tg})
		if r.Status != Fail || !strings.Contains(r.Message, "not written") {
			t.Errorf("got %s %q", r.Status, r.Message)
		}
	})

	// And a record that does arrive is found, timed, and removed.
	t.Run("pipeline row found", func(t *testing.T) {
		tg := target()
		tg.SparkMasterURL, tg.SparkApp, tg.SparkWorkers, tg.PipelineTimeout = fakeMaster(t), "dataeco-stream-users", 1, 30*time.Second
		stop := copyTopicToTable(t, ctx, tg)
		defer stop()
		r := smokePipeline(ctx, &Env{Smoke: tg})
		if r.Status != Pass || r.Details["latency_ms"] == "" {
			t.Errorf("got %s %q", r.Status, r.Message)
		}
	})
}

// preparePipeline does what kafka-init and cassandra-init do in the stack: the topic, and the
// schema from the embedded file itself.
func preparePipeline(t *testing.T, ctx context.Context, tg *SmokeTarget) {
	t.Helper()
	schema, err := os.ReadFile(filepath.Join("..", "embedded", "pipeline", "cql", "schema.cql"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := cassandraSession(tg)
	if err != nil {
		t.Fatalf("logging in to the real Cassandra: %v", err)
	}
	defer s.Close()
	for _, stmt := range strings.Split(string(schema), ";") {
		if stmt = stripComments(stmt); stmt != "" {
			if err := s.Query(stmt).ExecContext(ctx); err != nil {
				t.Fatalf("applying schema.cql: %v\n%s", err, stmt)
			}
		}
	}
	cl, err := kafkaClient(tg)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, tg.Topic); err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		t.Fatalf("creating %s: %v", tg.Topic, err)
	}
}

func stripComments(stmt string) string {
	var keep []string
	for _, line := range strings.Split(stmt, "\n") {
		if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "--") && !strings.HasPrefix(l, "//") {
			keep = append(keep, line)
		}
	}
	return strings.TrimSpace(strings.Join(keep, "\n"))
}

// fakeMaster serves a Spark master's /json/ that lists one worker and the streaming job as
// RUNNING, for the tests that need the job "up" without running Spark here (the job itself is
// tested on real Spark in testdata/realstack).
func fakeMaster(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"status" : "ALIVE", "workers" : [ {"id" : "worker-1", "state" : "ALIVE", "cores" : 0, "memory" : 0} ],
			"activeapps" : [ {"name" : "dataeco-stream-users", "state" : "RUNNING"} ]}`)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// copyTopicToTable relays users_created into the table, standing in for the Spark job so the
// pipeline check's detection, timing and clean-up are exercised on the real servers.
func copyTopicToTable(t *testing.T, ctx context.Context, tg *SmokeTarget) func() {
	t.Helper()
	cl, err := kafkaClient(tg, kgo.ConsumeTopics(tg.Topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()))
	if err != nil {
		t.Fatal(err)
	}
	s, err := cassandraSession(tg)
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for rctx.Err() == nil {
			for _, rec := range cl.PollFetches(rctx).Records() {
				var u map[string]string
				if json.Unmarshal(rec.Value, &u) != nil {
					continue
				}
				id, err := gocql.ParseUUID(u["id"])
				if err != nil {
					continue
				}
				_ = s.Query(fmt.Sprintf("INSERT INTO %s.%s (id, first_name) VALUES (?, ?)", tg.Keyspace, tg.Table), id, u["first_name"]).Exec()
			}
		}
	}()
	// Let the consumer join before the check produces.
	time.Sleep(2 * time.Second)
	return func() { cancel(); <-done; cl.Close(); s.Close() }
}
