package checks

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// realTarget is the smoke target for the whole real stack testdata/realstack started: Kafka,
// Cassandra, the Spark master with one worker running the pipeline's own streaming job, and
// Airflow with the pipeline's DAG.
func realTarget(t testing.TB, srv map[string]string) *SmokeTarget {
	t.Helper()
	for _, k := range []string{"REALSTACK_KAFKA_BOOTSTRAP", "REALSTACK_CASSANDRA_PORT", "REALSTACK_SPARK_UI", "REALSTACK_AIRFLOW_URL"} {
		if srv[k] == "" {
			t.Fatalf("%s is not in the real stack's env file: is testdata/realstack/stack.py up to date?", k)
		}
	}
	cores, _ := strconv.Atoi(srv["REALSTACK_SPARK_WORKER_CORES"])
	mem, _ := strconv.Atoi(srv["REALSTACK_SPARK_WORKER_MEMORY_MIB"])
	return &SmokeTarget{
		Kafka:         srv["REALSTACK_KAFKA_BOOTSTRAP"],
		Cassandra:     srv["REALSTACK_CASSANDRA_HOST"] + ":" + srv["REALSTACK_CASSANDRA_PORT"],
		CassandraUser: srv["REALSTACK_CASSANDRA_USER"], CassandraPassword: srv["REALSTACK_CASSANDRA_PASSWORD"],
		SparkMasterURL: srv["REALSTACK_SPARK_UI"], SparkWorkers: 1, SparkWorkerCores: cores, SparkWorkerMemMiB: mem,
		SparkApp:   srv["REALSTACK_SPARK_APP"],
		AirflowURL: srv["REALSTACK_AIRFLOW_URL"], AirflowUser: srv["REALSTACK_AIRFLOW_USER"], AirflowPassword: srv["REALSTACK_AIRFLOW_PASSWORD"],
		Topic: "users_created", Keyspace: "spark_streams", Table: "created_users", PipelineTimeout: 3 * time.Minute,
	}
}

// TestSmokeOnRealSpark runs the Spark and pipeline smoke checks against a real Spark 3.5.8
// standalone master and worker (pyspark's spark-class, as the stack's images run them) with
// the pipeline's own streaming job submitted the way the spark-stream service does: the job
// RUNNING on the master, and a marked record going from real Kafka through the real job into
// real Cassandra.
func TestSmokeOnRealSpark(t *testing.T) {
	target := realTarget(t, realServers(t))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	if r := smokeSpark(ctx, &Env{Smoke: target}); r.Status != Pass {
		t.Fatalf("spark with its worker and the job: %s %q", r.Status, r.Message)
	}
	for _, tc := range []struct {
		name   string
		mutate func(*SmokeTarget)
		has    string
	}{
		{"the job is not running", func(t *SmokeTarget) { t.SparkApp = "dataeco-no-such-job" }, "dataeco-no-such-job is not RUNNING"},
		{"a worker is missing", func(t *SmokeTarget) { t.SparkWorkers = 2 }, "1 of 2 workers"},
		{"workers smaller than configured", func(t *SmokeTarget) { t.SparkWorkerCores = 64 }, "cores"},
		{"the master is down", func(t *SmokeTarget) { t.SparkMasterURL = "http://127.0.0.1:1" }, "127.0.0.1:1"},
	} {
		wrong := *target
		tc.mutate(&wrong)
		if r := smokeSpark(ctx, &Env{Smoke: &wrong}); r.Status != Fail || !strings.Contains(r.Message, tc.has) || r.Fix == "" {
			t.Errorf("spark, %s: %s %q (fix %q), want a failure containing %q", tc.name, r.Status, r.Message, r.Fix, tc.has)
		}
	}

	r := smokePipeline(ctx, &Env{Smoke: target})
	if r.Status != Pass {
		t.Fatalf("pipeline through real Kafka, Spark and Cassandra: %s %q", r.Status, r.Message)
	}
	t.Logf("pipeline on the real software: %s (latency %s ms)", r.Message, r.Details["latency_ms"])
}

func waitFor(t *testing.T, ctx context.Context, what string, ok func() bool) {
	t.Helper()
	for !ok() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(2 * time.Second):
		}
	}
}

// BenchmarkRealPipelineLatency measures the pipeline smoke check's end-to-end latency on the
// real stack (a marked user produced → its row read back), one sample per iteration:
//
//	testdata/realstack/with-stack.sh go test -run '^$' -bench RealPipelineLatency -benchtime 10x ./checks
//
// It prints the median and the spread; the figures are in docs/performance.md.
func BenchmarkRealPipelineLatency(b *testing.B) {
	target := realTarget(b, realServers(b))
	ctx := context.Background()
	var samples []float64
	for b.Loop() {
		r := smokePipeline(ctx, &Env{Smoke: target})
		if r.Status != Pass {
			b.Fatalf("%s %q", r.Status, r.Message)
		}
		ms, _ := strconv.ParseFloat(r.Details["latency_ms"], 64)
		samples = append(samples, ms)
	}
	slices.Sort(samples)
	b.ReportMetric(samples[len(samples)/2], "median-ms")
	b.ReportMetric(samples[0], "min-ms")
	b.ReportMetric(samples[len(samples)-1], "max-ms")
}
