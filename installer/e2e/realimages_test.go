package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
	"github.com/dataeco/dataeco/embedded/pipeline"
	"github.com/dataeco/dataeco/installer/model"
	"github.com/twmb/franz-go/pkg/kadm"
)

// TestRealImages runs dataeco on images of the real software (testdata/realimages: ZooKeeper,
// Kafka, Cassandra, PostgreSQL, Airflow and Spark built here from Debian, Maven Central and
// PyPI; stand-ins only for Schema Registry and Control Center), served by a local registry
// under the official paths, with the rendered file unchanged:
//  1. install with every component: every service healthy, `dataeco smoke` passes, and the
//     DAG in real Airflow puts users into Cassandra through the real streaming job; the test
//     reaches Kafka, Cassandra and Airflow with what `eval "$(dataeco env --shell)"` exports;
//  2. with every package index and Maven repository unreachable from the containers (from
//     here to the end), the stack starts again and the pipeline works: the images dataeco
//     built hold what they need;
//  3. data survives stop/start, backup → uninstall --purge → restore (with the credentials),
//     and kill -9 of the broker, Cassandra and PostgreSQL: a topic's records, the table's rows
//     and the DAG's runs are all there after; reset kafka empties the topics only (the table's
//     rows kept), reset cassandra the table only (a topic's records kept), and the pipeline's
//     smoke check passes again after them, and after reset spark and reset airflow;
//  4. doctor reports it healthy, and its bundle holds no generated password;
//  5. installed again off loopback (--listen 0.0.0.0), the real broker's host listener wants
//     the generated SASL user and the real Spark master the generated secret: smoke and the
//     pipeline pass with them, and from another machine (a network namespace) a Kafka client
//     and a real spark-submit get in with what `dataeco env` gives, and only with it.
//
// It needs the real images, built by testdata/realimages/build.sh (cached by digest), so CI
// runs it on its own, after the real-stack processes of testdata/realstack have stopped:
// `go test ./installer/e2e -run TestRealImages`. Elsewhere it runs when DATAECO_REAL_IMAGES=1.
func TestRealImages(t *testing.T) {
	if os.Getenv("DATAECO_REAL_IMAGES") != "1" {
		t.Skip("set DATAECO_REAL_IMAGES=1 (CI does, in a step of its own) to build the real images and run them")
	}
	requireIntegration(t)
	c := dockerAPI(t)
	registry := realImagesRegistry(t)
	project := "dataeco-realimages"
	freshProject(t, c, project)
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Minute)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "install")
	const base = 16500
	install := append([]string{"install", "--yes", "--no-smoke", "--dir", dir, "--project", project, "--registry", registry,
		"--timeout", "10m"}, fixedPortArgs(base)...)

	// Each step's time goes to the log (CI prints these lines), to see where a slow run went.
	last := time.Now()
	lap := func(what string) {
		t.Helper()
		t.Logf("real images: %s took %s", what, time.Since(last).Round(time.Second))
		last = time.Now()
	}

	// 1. Install, smoke, the DAG's users in Cassandra.
	mustSucceed(t, runCLI(t, ctx, install...), "install")
	lap("install")
	realSmoke(t, ctx, project, dir, "smoke")
	env := realEnv(t, ctx, dir)
	rows := waitRows(t, ctx, env, 1, 5*time.Minute) // the DAG runs every minute
	runs := successfulRuns(t, ctx, env)
	if runs == 0 {
		t.Fatal("no successful run of user_automation, though users reached Cassandra")
	}
	kafka := env["KAFKA_BOOTSTRAP_SERVERS"]
	produceRecords(t, kafka, "survivor", "kept", 5, true)
	lap("smoke and the DAG's users in Cassandra")

	// Data survives: the test's records, the DAG's users and runs.
	survives := func(what string) {
		t.Helper()
		if got := consumeRecords(t, kafka, "survivor", 5); len(got) != 5 {
			t.Errorf("after %s the topic holds %d records of 5", what, len(got))
		}
		if got := countRows(t, ctx, env); got < rows {
			t.Errorf("after %s the table holds %d rows, %d before", what, got, rows)
		}
		if got := successfulRuns(t, ctx, env); got < runs {
			t.Errorf("after %s Airflow has %d successful runs, %d before", what, got, runs)
		}
	}
	// 2 and 3. With no package index and no Maven repository reachable from the containers, the
	// stack starts again and the pipeline works (the images dataeco built hold what they need);
	// the rest of the test runs that way too, as on a train.
	offline(t, project)
	mustSucceed(t, runCLI(t, ctx, "stop", "--dir", dir), "stop")
	mustSucceed(t, runCLI(t, ctx, "start", "--dir", dir, "--timeout", "10m"), "start with no package index reachable")
	survives("stop and start")
	realSmoke(t, ctx, project, dir, "smoke offline")
	lap("offline stop, start and smoke")
	// A move to another machine, played here: backup, everything removed, restore. The data
	// and the credentials come back (down and install are covered on the stand-ins).
	archive := filepath.Join(t.TempDir(), "backup.tar.gz")
	secrets := readSecrets(t, dir)
	mustSucceed(t, runCLI(t, ctx, "backup", "--dir", dir, "--timeout", "10m", archive), "backup")
	mustSucceed(t, runCLI(t, ctx, "uninstall", "--purge", "--yes", "--dir", dir), "uninstall --purge")
	mustSucceed(t, runCLI(t, ctx, "restore", "--dir", dir, "--timeout", "10m", archive), "restore")
	if got := readSecrets(t, dir); !slices.Equal(got.Values(), secrets.Values()) {
		t.Error("restore did not bring back the install's credentials")
	}
	survives("backup, uninstall --purge and restore")
	lap("backup, uninstall --purge and restore")
	for _, svc := range []string{"broker", "cassandra", "postgres"} {
		if out, err := exec.Command("docker", "kill", "-s", "KILL", project+"-"+svc+"-1").CombinedOutput(); err != nil {
			t.Fatalf("kill -9 %s: %v\n%s", svc, err, out)
		}
	}
	// The streaming job, started again meanwhile, fails without Kafka and Cassandra, and again
	// at each restart until `start` brings them back: that start must wait for the job while
	// its dependencies come back, not call it a restart loop (as it once did in CI).
	stream := project + "-spark-stream-1"
	if out, err := exec.Command("docker", "restart", stream).CombinedOutput(); err != nil {
		t.Fatalf("docker restart %s: %v\n%s", stream, err, out)
	}
	waitRestarts(t, stream, 1, 3*time.Minute)
	mustSucceed(t, runCLI(t, ctx, "start", "--dir", dir, "--timeout", "10m"), "start after kill -9")
	survives("kill -9 of the broker, Cassandra and PostgreSQL")
	realSmoke(t, ctx, project, dir, "smoke after the restarts")
	lap("kill -9, start and smoke")

	// reset kafka: the test's topic is gone, the pipeline's is made again, Cassandra's rows
	// stay. reset cassandra: the users written so far are gone, the topic (written again)
	// keeps its records. Then the pipeline works again through both: the smoke check's marked
	// user goes from Kafka to the table cassandra-init made again.
	kept := countRows(t, ctx, env)
	mustSucceed(t, runCLI(t, ctx, "reset", "--yes", "--dir", dir, "--timeout", "10m", "kafka"), "reset kafka")
	cl := kafkaTestClient(t, kafka)
	topics, err := kadm.NewClient(cl).ListTopics(ctx)
	cl.Close()
	if err != nil || topics.Has("survivor") || !topics.Has(pipeline.Topic) {
		t.Errorf("after reset kafka the topics are %v (%v)", topics.Names(), err)
	}
	if got := countRows(t, ctx, env); got < kept {
		t.Errorf("reset kafka lost Cassandra's rows: %d, %d before", got, kept)
	}
	produceRecords(t, kafka, "survivor", "kept", 5, true)
	old := oneUserID(t, ctx, env, "")
	if old == "" {
		t.Fatal("created_users is empty before reset cassandra")
	}
	mustSucceed(t, runCLI(t, ctx, "reset", "--yes", "--dir", dir, "--timeout", "10m", "cassandra"), "reset cassandra")
	if oneUserID(t, ctx, env, old) != "" {
		t.Errorf("user %s is still in created_users after reset cassandra", old)
	}
	if got := consumeRecords(t, kafka, "survivor", 5); len(got) != 5 {
		t.Errorf("after reset cassandra the topic holds %d records of 5", len(got))
	}
	realSmoke(t, ctx, project, dir, "smoke after reset kafka and reset cassandra")
	lap("reset kafka, reset cassandra and smoke")
	// reset spark (the job's checkpoints) and reset airflow (its database): the job and the
	// DAG start from nothing, and the pipeline works again.
	mustSucceed(t, runCLI(t, ctx, "reset", "--yes", "--dir", dir, "--timeout", "10m", "spark"), "reset spark")
	mustSucceed(t, runCLI(t, ctx, "reset", "--yes", "--dir", dir, "--timeout", "10m", "airflow"), "reset airflow")
	realSmoke(t, ctx, project, dir, "smoke after reset spark and reset airflow")
	lap("reset spark, reset airflow and smoke")

	// 4. doctor, and its bundle.
	bundle := filepath.Join(t.TempDir(), "bundle.tar.gz")
	mustSucceed(t, runCLI(t, ctx, "doctor", "--dir", dir, "--bundle", bundle), "doctor on the real stack")
	raw, err := exec.Command("sh", "-c", "tar -xzOf "+bundle).Output()
	if err != nil {
		t.Fatal(err)
	}
	// The generated passwords and keys (not the project or user names, which are no secret).
	for i, v := range readSecrets(t, dir).Values() {
		if strings.Contains(string(raw), v) {
			t.Errorf("the support bundle holds generated secret #%d", i+1)
		}
	}
	lap("doctor")

	// 5. Off loopback, on the real software: the broker's host listener takes only the SASL
	// user, the Spark master only drivers (and workers) with the generated secret. The
	// pipeline, whose streaming job now authenticates to the master, and the smoke checks work
	// with the generated credentials; another machine gets in with what `dataeco env` gives
	// and only with it.
	ns, hostIP := otherMachine(t)
	mustSucceed(t, runCLI(t, ctx, append(install, "--listen", "0.0.0.0", "--advertise", hostIP)...), "install off loopback")
	realSmoke(t, ctx, project, dir, "smoke off loopback")
	env = realEnv(t, ctx, dir)
	kafka = env["KAFKA_BOOTSTRAP_SERVERS"]
	if out, err := fromOtherMachine(t, ns, map[string]string{"kafka": kafka}); err == nil {
		t.Errorf("another machine used the real broker without SASL:\n%s", out)
	}
	if out, err := fromOtherMachine(t, ns, map[string]string{"kafka": kafka, "user": env["KAFKA_SASL_USERNAME"], "password": env["KAFKA_SASL_PASSWORD"]}); err != nil {
		t.Errorf("another machine with the SASL user of dataeco env: %v\n%s", err, out)
	}
	lap("install off loopback, smoke and Kafka from another machine")
	// The streaming job holds the worker's cores; stopped, they run the test's applications.
	if out, err := exec.Command("docker", "stop", project+"-spark-stream-1").CombinedOutput(); err != nil {
		t.Fatalf("docker stop spark-stream: %v\n%s", err, out)
	}
	ui := fmt.Sprintf("http://127.0.0.1:%d/json/", base+6) // the Spark UI stays on loopback
	if out, err := realSparkSubmit(t, ctx, ns, hostIP, env["SPARK_MASTER_URL"], "e2e-no-secret", "", "Failed to connect to master"); err == nil || strings.Contains(out, "DATAECO_COUNT=") {
		t.Errorf("a spark-submit without the secret ran on the real master:\n%s", out)
	}
	if sparkAppKnown(t, ui, "e2e-no-secret") {
		t.Error("the real master registered an application that had no secret")
	}
	if out, err := realSparkSubmit(t, ctx, ns, hostIP, env["SPARK_MASTER_URL"], "e2e-with-secret", env["SPARK_SUBMIT_OPTS"], ""); err != nil || !strings.Contains(out, "DATAECO_COUNT=1000") {
		t.Errorf("a spark-submit with SPARK_SUBMIT_OPTS of dataeco env: %v\n%s", err, out)
	}
	mustSucceed(t, runCLI(t, ctx, "start", "--dir", dir, "--timeout", "10m"), "start after the Spark applications")
	lap("spark-submit from another machine, with and without the secret")
}

// realSparkSubmit runs the real spark-submit of testdata/realstack's venv on the other
// machine against the stack's master, as a user would after `eval "$(dataeco env --shell
// --show-secrets)"`: opts is SPARK_SUBMIT_OPTS. The application counts 1000 rows on the
// workers, whose executors connect back to the driver there, and prints the count. When the
// output shows giveUp, the driver is stopped there (an error): a refused driver otherwise
// retries for a minute.
func realSparkSubmit(t *testing.T, ctx context.Context, ns, hostIP, master, name, opts, giveUp string) (string, error) {
	t.Helper()
	cache := os.Getenv("REALSTACK_CACHE")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache", "dataeco-realstack")
	}
	venv := filepath.Join(cache, "venv", "bin")
	if _, err := os.Stat(filepath.Join(venv, "spark-submit")); err != nil {
		t.Fatalf("the real spark-submit of testdata/realstack (testdata/realstack/setup.sh makes it): %v", err)
	}
	app := filepath.Join(t.TempDir(), "count.py")
	script := "from pyspark.sql import SparkSession\n" +
		"spark = SparkSession.builder.getOrCreate()\n" +
		"print('DATAECO_COUNT=%d' % spark.range(1000).count(), flush=True)\n" +
		"spark.stop()\n"
	if err := os.WriteFile(app, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	nsIP := strings.TrimSuffix(hostIP, ".1") + ".2"
	// Refused, the driver gives up registering after three tries of 20 s; it may then hang
	// on its first job, which the deadline ends.
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(cctx, "ip", "netns", "exec", ns, filepath.Join(venv, "spark-submit"), "--master", master, "--name", name,
		"--conf", "spark.driver.host="+nsIP, "--conf", "spark.driver.bindAddress="+nsIP, "--conf", "spark.cores.max=1",
		"--executor-memory", "512m", "--driver-memory", "512m", app)
	cmd.Env = append(os.Environ(), "PYSPARK_PYTHON="+filepath.Join(venv, "python"), "SPARK_SUBMIT_OPTS="+opts)
	// The driver JVM runs the application's Python as a child: both go, as a process group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	sc := bufio.NewScanner(pipe)
	for sc.Scan() {
		out.WriteString(sc.Text() + "\n")
		if giveUp != "" && strings.Contains(sc.Text(), giveUp) {
			_ = cmd.Cancel()
			break
		}
	}
	_, _ = io.Copy(io.Discard, pipe)
	err = cmd.Wait()
	return out.String(), err
}

// sparkAppKnown says whether the master lists an application of that name, running or done.
func sparkAppKnown(t *testing.T, ui, name string) bool {
	t.Helper()
	resp, err := http.Get(ui)
	if err != nil {
		t.Fatalf("the Spark master's UI: %v", err)
	}
	defer resp.Body.Close()
	var m struct {
		Active    []struct{ Name string } `json:"activeapps"`
		Completed []struct{ Name string } `json:"completedapps"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("the Spark master's UI: %v", err)
	}
	for _, a := range append(m.Active, m.Completed...) {
		if a.Name == name {
			return true
		}
	}
	return false
}

// realSmoke runs `dataeco smoke` and, when it fails, shows what a developer reading CI's log
// needs and cannot ask for afterwards: the project's containers and the last lines of the
// logs each failed check points at ("see `dataeco logs airflow-scheduler …`").
func realSmoke(t *testing.T, ctx context.Context, project, dir, what string) {
	t.Helper()
	r := runCLI(t, ctx, "smoke", "--dir", dir, "--pipeline-timeout", "5m")
	if r.code == 0 {
		return
	}
	ps, _ := exec.Command("docker", "ps", "-a", "--filter", "label=com.docker.compose.project="+project,
		"--format", "{{.Names}}\t{{.Status}}").CombinedOutput()
	t.Logf("%s failed; the containers:\n%s", what, ps)
	seen := map[string]bool{}
	for _, m := range regexp.MustCompile("`dataeco logs ([a-z0-9 -]+)`").FindAllStringSubmatch(r.stdout+r.stderr, -1) {
		for _, svc := range strings.Fields(m[1]) {
			if seen[svc] {
				continue
			}
			seen[svc] = true
			out, _ := exec.Command("docker", "logs", "--timestamps", "--tail", "40", project+"-"+svc+"-1").CombinedOutput()
			t.Logf("the last lines of %s's log:\n%s", svc, out)
		}
	}
	t.Fatalf("%s exited %d\nstdout:\n%s\nstderr:\n%s", what, r.code, r.stdout, r.stderr)
}

// waitRestarts waits until the container has restarted n more times.
func waitRestarts(t *testing.T, name string, n int, within time.Duration) {
	t.Helper()
	count := func() int {
		out, err := exec.Command("docker", "inspect", "-f", "{{.RestartCount}}", name).Output()
		if err != nil {
			t.Fatalf("docker inspect %s: %v", name, err)
		}
		c, _ := strconv.Atoi(strings.TrimSpace(string(out)))
		return c
	}
	from, deadline := count(), time.Now().Add(within)
	for count() < from+n {
		if time.Now().After(deadline) {
			t.Fatalf("%s restarted %d times in %s, want %d", name, count()-from, within, n)
		}
		time.Sleep(2 * time.Second)
	}
}

// realImagesRegistry starts a registry of its own, keeping its storage in the real images'
// cache so a warm run pushes nothing new, and builds and pushes the real images.
func realImagesRegistry(t *testing.T) string {
	t.Helper()
	cache := os.Getenv("REALIMAGES_CACHE")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache", "dataeco-realimages")
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	storage := filepath.Join(cache, "registry")
	cfg := filepath.Join(t.TempDir(), "registry.yml")
	writeFile(t, cfg, fmt.Sprintf("version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n", storage, addr))
	reg := exec.Command("docker-registry", "serve", cfg)
	if err := reg.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = reg.Process.Kill(); _ = reg.Wait(); removeImagesUnder(addr) })
	deadline := time.Now().Add(20 * time.Second)
	for {
		if resp, err := http.Get("http://" + addr + "/v2/"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("docker-registry did not answer on %s", addr)
		}
		time.Sleep(200 * time.Millisecond)
	}
	start := time.Now()
	build := exec.Command("bash", filepath.Join("..", "..", "testdata", "realimages", "build.sh"), addr)
	build.Env = append(os.Environ(), "DATAECO="+dataecoBinary(t))
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the real images: %v\n%s", err, out)
	}
	t.Logf("real images built and pushed in %s", time.Since(start).Round(time.Second))
	return addr
}

// realEnv is what `eval "$(dataeco env --shell --show-secrets)"` exports: how the test
// reaches the stack, as a user's code would. Each value must match `env --json`'s, so the
// shell quoting carries passwords unchanged.
func realEnv(t *testing.T, ctx context.Context, dir string) map[string]string {
	t.Helper()
	r := runCLI(t, ctx, "env", "--json", "--show-secrets", "--dir", dir)
	mustSucceed(t, r, "env")
	var want map[string]string
	if err := json.Unmarshal([]byte(r.stdout), &want); err != nil {
		t.Fatal(err)
	}
	sh := exec.CommandContext(ctx, "sh", "-c", `eval "$("$DATAECO" env --shell --show-secrets --dir "$DIR")" && env -0`)
	sh.Env = append(os.Environ(), "DATAECO="+dataecoBinary(t), "DIR="+dir)
	out, err := sh.Output()
	if err != nil {
		t.Fatalf("sourcing env --shell: %v", err)
	}
	got := map[string]string{}
	for _, kv := range strings.Split(string(out), "\x00") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			if _, ours := want[k]; ours {
				got[k] = v
			}
		}
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("env --shell exports %s=%q, env --json says %q", k, got[k], v)
		}
	}
	return got
}

// cqlSession logs in to Cassandra with what `dataeco env` exports.
func cqlSession(t *testing.T, env map[string]string) *gocql.Session {
	t.Helper()
	port, _ := strconv.Atoi(env["CASSANDRA_PORT"])
	cluster := gocql.NewCluster(env["CASSANDRA_HOST"])
	cluster.Port = port
	cluster.Authenticator = gocql.PasswordAuthenticator{Username: env["CASSANDRA_USER"], Password: env["CASSANDRA_PASSWORD"]}
	cluster.Timeout, cluster.ConnectTimeout = 20*time.Second, 20*time.Second
	s, err := cluster.CreateSession()
	if err != nil {
		t.Fatalf("logging in to Cassandra with env's values: %v", err)
	}
	return s
}

func countRows(t *testing.T, ctx context.Context, env map[string]string) int {
	t.Helper()
	s := cqlSession(t, env)
	defer s.Close()
	var n int
	if err := s.Query("SELECT COUNT(*) FROM "+env["CASSANDRA_KEYSPACE"]+".created_users").ScanContext(ctx, &n); err != nil {
		t.Fatalf("counting rows: %v", err)
	}
	return n
}

// oneUserID is the id of a row of created_users (the one with id want, when given), "" when
// there is none.
func oneUserID(t *testing.T, ctx context.Context, env map[string]string, want string) string {
	t.Helper()
	s := cqlSession(t, env)
	defer s.Close()
	q := s.Query("SELECT id FROM " + env["CASSANDRA_KEYSPACE"] + ".created_users LIMIT 1")
	if want != "" {
		q = s.Query("SELECT id FROM "+env["CASSANDRA_KEYSPACE"]+".created_users WHERE id = ?", want)
	}
	var id gocql.UUID
	err := q.ScanContext(ctx, &id)
	if errors.Is(err, gocql.ErrNotFound) {
		return ""
	}
	if err != nil {
		t.Fatalf("reading a user: %v", err)
	}
	return id.String()
}

// waitRows waits until the table holds at least want rows and returns how many it holds.
func waitRows(t *testing.T, ctx context.Context, env map[string]string, want int, within time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		n := countRows(t, ctx, env)
		if n >= want {
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d rows in created_users after %s, want %d", n, within, want)
		}
		time.Sleep(5 * time.Second)
	}
}

// successfulRuns counts user_automation's successful runs, through Airflow's REST API as the
// generated admin.
func successfulRuns(t *testing.T, ctx context.Context, env map[string]string) int {
	t.Helper()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	airflowCall(t, ctx, http.MethodPost, env["AIRFLOW_URL"]+"/auth/token", "", map[string]string{"username": env["AIRFLOW_USER"], "password": env["AIRFLOW_PASSWORD"]}, &tok)
	var runs struct {
		TotalEntries int `json:"total_entries"`
	}
	airflowCall(t, ctx, http.MethodGet, env["AIRFLOW_URL"]+"/api/v2/dags/user_automation/dagRuns?state=success&limit=1", tok.AccessToken, nil, &runs)
	return runs.TotalEntries
}

func airflowCall(t *testing.T, ctx context.Context, method, url, token string, body, out any) {
	t.Helper()
	var r *strings.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = strings.NewReader(string(b))
	} else {
		r = strings.NewReader("")
	}
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s: HTTP %d", method, url, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
}

// offline cuts the project's containers off from everything outside their own network, as
// on a train: the engine's DOCKER-USER chain rejects what they send elsewhere, until the
// test ends. Published ports keep working: that traffic comes in, it is not sent out.
func offline(t *testing.T, project string) {
	t.Helper()
	out, err := exec.Command("docker", "network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}}{{end}}", project+"_default").Output()
	if err != nil {
		t.Fatalf("the project's network: %v", err)
	}
	subnet := strings.TrimSpace(string(out))
	rule := []string{"DOCKER-USER", "-s", subnet, "!", "-d", subnet, "-m", "conntrack", "--ctstate", "NEW", "-j", "REJECT"}
	if out, err := exec.Command("iptables", append([]string{"-I"}, rule...)...).CombinedOutput(); err != nil {
		t.Fatalf("iptables: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("iptables", append([]string{"-D"}, rule...)...).Run() })
	// Proof that it holds: a container of the stack cannot reach PyPI.
	if out, err := execIn(t, project, "airflow-apiserver", "curl -sS -m 10 -o /dev/null https://pypi.org/simple/"); err == nil {
		t.Fatalf("the containers still reach PyPI:\n%s", out)
	}
}

func readSecrets(t *testing.T, dir string) model.Secrets {
	t.Helper()
	s, err := model.LoadSecrets(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
