package checks

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSmokeOnRealSpark starts a real Spark 3.5.8 standalone master and worker (pyspark's
// spark-class, as the stack's images run them), submits the pipeline's own streaming job to it
// the way the spark-stream service does, and runs the Spark and pipeline smoke checks: the
// job RUNNING on the master, and a marked record going from real Kafka through the real job
// into real Cassandra.
func TestSmokeOnRealSpark(t *testing.T) {
	srv := realServers(t)
	py := os.Getenv("REALSTACK_PYTHON")
	if py == "" {
		t.Fatal("REALSTACK_PYTHON is not set: run under testdata/realstack/with-stack.sh")
	}
	out, err := exec.Command(py, "-c", "import os, pyspark; print(os.path.dirname(pyspark.__file__))").Output()
	if err != nil {
		t.Fatalf("finding pyspark: %v", err)
	}
	sparkHome := strings.TrimSpace(string(out))
	cache := filepath.Dir(filepath.Dir(filepath.Dir(py)))
	realstack, _ := filepath.Abs(filepath.Join("..", "testdata", "realstack"))
	job, _ := filepath.Abs(filepath.Join("..", "embedded", "pipeline", "spark", "stream_users.py"))
	pkgs, err := os.ReadFile(filepath.Join(realstack, "spark-packages.txt"))
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	port := func() int {
		l, _ := net.Listen("tcp", "127.0.0.1:0")
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port
	}
	rpc, ui := port(), port()
	master := fmt.Sprintf("spark://127.0.0.1:%d", rpc)
	env := append(os.Environ(), "SPARK_HOME="+sparkHome, "SPARK_LOCAL_IP=127.0.0.1", "PYSPARK_PYTHON="+py,
		"PYSPARK_DRIVER_PYTHON="+py, "SPARK_WORKER_DIR="+filepath.Join(tmp, "work"))
	start := func(name string, args ...string) {
		log, _ := os.Create(filepath.Join(tmp, name+".log"))
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Env, cmd.Stdout, cmd.Stderr = env, log, log
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting %s: %v", name, err)
		}
		t.Cleanup(func() {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			_ = cmd.Wait()
			if t.Failed() {
				b, _ := os.ReadFile(filepath.Join(tmp, name+".log"))
				t.Logf("%s log (tail):\n%s", name, tail(string(b), 3000))
			}
		})
	}
	class := filepath.Join(sparkHome, "bin", "spark-class")
	start("master", class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", fmt.Sprint(rpc), "--webui-port", fmt.Sprint(ui))
	start("worker", class, "org.apache.spark.deploy.worker.Worker", "--cores", "2", "--memory", "1g", "--webui-port", fmt.Sprint(port()), master)

	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	target := &SmokeTarget{
		Kafka:         srv["REALSTACK_KAFKA_BOOTSTRAP"],
		Cassandra:     srv["REALSTACK_CASSANDRA_HOST"] + ":" + srv["REALSTACK_CASSANDRA_PORT"],
		CassandraUser: srv["REALSTACK_CASSANDRA_USER"], CassandraPassword: srv["REALSTACK_CASSANDRA_PASSWORD"],
		SparkMasterURL: fmt.Sprintf("http://127.0.0.1:%d", ui), SparkWorkers: 1, SparkWorkerCores: 2, SparkWorkerMemMiB: 1024,
		Topic: "users_created", Keyspace: "spark_streams", Table: "created_users", PipelineTimeout: 3 * time.Minute,
	}
	waitFor(t, ctx, "the worker to register", func() bool { return smokeSpark(ctx, &Env{Smoke: target}).Status == Pass })

	// Without the job the pipeline check blames the right hop.
	target.SparkApp = "dataeco-stream-users"
	if r := smokeSpark(ctx, &Env{Smoke: target}); r.Status != Fail || !strings.Contains(r.Message, "not RUNNING") {
		t.Errorf("spark without the job: %s %q", r.Status, r.Message)
	}
	wrong := *target
	wrong.SparkWorkers = 2
	if r := smokeSpark(ctx, &Env{Smoke: &wrong}); r.Status != Fail || !strings.Contains(r.Message, "1 of 2 workers") {
		t.Errorf("spark with a worker missing: %s %q", r.Status, r.Message)
	}

	preparePipeline(t, ctx, target)

	// The job, submitted as the spark-stream service submits it.
	submit := filepath.Join(filepath.Dir(py), "spark-submit")
	env = append(env, "KAFKA_BOOTSTRAP="+target.Kafka, "KAFKA_TOPIC="+target.Topic,
		"CASSANDRA_HOST="+srv["REALSTACK_CASSANDRA_HOST"], "CASSANDRA_PORT="+srv["REALSTACK_CASSANDRA_PORT"],
		"CASSANDRA_USER="+target.CassandraUser, "CASSANDRA_PASSWORD="+target.CassandraPassword,
		"CHECKPOINT_DIR="+filepath.Join(tmp, "checkpoint"), "STARTING_OFFSETS=earliest")
	start("spark-submit", submit, "--master", master, "--name", "dataeco-stream-users",
		"--packages", strings.Join(strings.Fields(string(pkgs)), ","),
		"--conf", "spark.jars.ivy="+filepath.Join(cache, "ivy"),
		"--conf", "spark.jars.ivySettings="+filepath.Join(realstack, "ivysettings.xml"),
		"--driver-memory", "512m", "--conf", "spark.executor.memory=512m", "--conf", "spark.cores.max=1",
		"--conf", "spark.ui.enabled=false", job)
	waitFor(t, ctx, "the streaming job to run", func() bool { return smokeSpark(ctx, &Env{Smoke: target}).Status == Pass })

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

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
