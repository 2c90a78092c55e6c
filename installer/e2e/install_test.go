package e2e

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/dataeco/dataeco/checks"
	"github.com/dataeco/dataeco/installer"
	"github.com/dataeco/dataeco/installer/model"
)

// e2eInstallArgs installs the whole stack with every port moved out of the way of anything a
// developer may run, under its own project name. The ports (default + 20000, 22181 to 29101)
// stay below the kernel's range for outgoing connections' local ports (32768-60999 unless
// changed): with the real stack of testdata/realstack running alongside, Spark, Kafka and
// Cassandra clients hold hundreds of such ports, and one of them once took 39092.
func e2eInstallArgs(dir, project, registry string) []string {
	args := []string{"install", "--yes", "--dir", dir, "--project", project, "--registry", registry,
		"--spark-workers", "2", "--timeout", "3m", "--no-smoke"}
	for _, p := range model.Ports() {
		args = append(args, "--"+p.Flag, fmt.Sprint(p.Default+20000))
	}
	return args
}

// fixedPortArgs publishes every port at base, base+1, ... for the tests that install on the
// shared engine with ports of their own. Bases lie between 13000 and 18499, one per test and
// at least 20 apart (`grep -n 'fixedPortArgs\|const base' installer/e2e/*.go` lists them):
// below the kernel's range for outgoing connections' local ports (see e2eInstallArgs), clear
// of TestIntegrationPortTaken's 10000-12001, of spreadPorts' 19000-21999, of e2eInstallArgs'
// 22181-29101 and of the ports --any-port moves those to in TestIntegrationInstallLifecycle
// (29000-32767).
func fixedPortArgs(base int) []string {
	var args []string
	for i, p := range model.Ports() {
		args = append(args, "--"+p.Flag, fmt.Sprint(base+i))
	}
	return args
}

type containerFacts struct {
	ID, StartedAt, State string
}

func projectContainers(t *testing.T, c client.APIClient, project string) map[string]containerFacts {
	t.Helper()
	ctx := context.Background()
	list, err := c.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: projectFilter(project)})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]containerFacts{}
	for _, ct := range list.Items {
		ins, err := c.ContainerInspect(ctx, ct.ID, client.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		out[ct.Labels["com.docker.compose.service"]] = containerFacts{ID: ct.ID, StartedAt: ins.Container.State.StartedAt, State: string(ins.Container.State.Status)}
	}
	return out
}

func mustSucceed(t *testing.T, r runResult, what string) {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("%s exited %d\nstderr:\n%s", what, r.code, r.stderr)
	}
}

// execIn runs a shell command in a service's container through the docker CLI.
func execIn(t *testing.T, project, service, script string) (string, error) {
	t.Helper()
	out, err := exec.Command("docker", "exec", project+"-"+service+"-1", "sh", "-c", script).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func TestIntegrationInstallLifecycle(t *testing.T) {
	registry := standinRegistry(t)
	c := dockerAPI(t)
	project := "dataeco-e2e"
	freshProject(t, c, project)
	removeImagesUnder(registry) // pulled by earlier tests: this one checks that install pulls
	dir := filepath.Join(t.TempDir(), "install")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	volumesBefore := allVolumes(t, c)

	// 1. A first install pulls every image from the registry and brings every service up.
	r := runCLI(t, ctx, e2eInstallArgs(dir, project, registry)...)
	mustSucceed(t, r, "install")
	if !strings.Contains(r.stdout, "dataeco is ready") {
		t.Errorf("install printed no summary on stdout:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "pulled "+registry+"/library/cassandra") {
		t.Errorf("install did not report pulling images from the registry:\n%s", r.stderr)
	}
	if strings.Contains(r.stderr, "\x1b[") {
		t.Error("progress without a terminal contains escape codes")
	}

	// 2. status --json lists every service; long-running ones healthy, one-shot jobs done.
	r = runCLI(t, ctx, "status", "--json", "--dir", dir)
	assertStackHealthy(t, r, []string{"zookeeper", "broker", "kafka-init", "schema-registry", "control-center", "postgres", "airflow-init",
		"airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "spark-master", "spark-worker-1",
		"spark-worker-2", "cassandra", "cassandra-init", "spark-stream"})
	assertListed(t, ctx, project, dir, "running")

	// The smoke checks that the stand-ins can answer for real: a Kafka round trip (the broker
	// stand-in speaks the Kafka protocol), a schema stored and read back, the Control Center
	// UI, and Spark's workers with the streaming job registered. CQL, Airflow's API and the
	// pipeline itself are proven against the real software (testdata/realstack).
	r = runCLI(t, ctx, "smoke", "--json", "--dir", dir)
	var smoke struct {
		Checks []struct {
			ID, Status, Message string
		} `json:"checks"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &smoke); err != nil {
		t.Fatalf("smoke --json: %v\n%s", err, r.stdout)
	}
	for _, c := range smoke.Checks {
		switch c.ID {
		case "smoke-kafka", "smoke-schema-registry", "smoke-control-center", "smoke-spark":
			if c.Status != "pass" {
				t.Errorf("%s: %s %s", c.ID, c.Status, c.Message)
			}
		}
	}

	// Published ports listen on 127.0.0.1 only.
	assertLoopbackPorts(t, ctx, c, project)

	// docker-compose 1.29, run by hand in the install dir, reads the stack dataeco made (it
	// parses every container's com.docker.compose.version label).
	ps := exec.CommandContext(ctx, "docker-compose", "ps", "--services", "--filter", "status=running")
	ps.Dir = dir
	if out, err := ps.CombinedOutput(); err != nil || !strings.Contains(string(out), "spark-stream") {
		t.Errorf("docker-compose ps in the install dir: %v\n%s", err, out)
	}

	// Engine 20.10 runs no start_interval: install recorded what it found, and the file (which
	// docker-compose 1.29 just read) carries none.
	if _, err := os.Stat(filepath.Join(dir, model.EngineFile)); err != nil {
		t.Errorf("install wrote no %s: %v", model.EngineFile, err)
	}
	if in, err := model.ReadInputs(dir); err != nil || in.HealthStartInterval {
		t.Errorf("%s on Engine 20.10: start_interval %v, %v", model.EngineFile, in.HealthStartInterval, err)
	}

	// The install dir holds private credentials and a compose file without them.
	if fi, err := os.Stat(filepath.Join(dir, ".env")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf(".env: %v, mode %v", err, fi.Mode())
	}
	secrets, err := model.LoadSecrets(dir)
	if err != nil {
		t.Fatal(err)
	}
	// No generated secret appears in anything dataeco prints, except where asked for.
	installOut := r.stdout + r.stderr
	printed := map[string]string{"install": installOut}
	for _, cmd := range [][]string{{"config"}, {"status"}, {"status", "--json"}, {"logs", "--tail", "all"}, {"doctor"}} {
		r = runCLI(t, ctx, append(cmd, "--dir", dir)...)
		printed[strings.Join(cmd, " ")] = r.stdout + r.stderr
	}
	for what, out := range printed {
		for _, v := range secrets.Values() {
			if strings.Contains(out, v) {
				t.Errorf("%s prints a generated secret", what)
			}
		}
	}
	r = runCLI(t, ctx, "config", "--show-secrets", "--dir", dir)
	if !strings.Contains(r.stdout, secrets[model.KeyPostgresPassword]) {
		t.Errorf("config --show-secrets does not fill in the secrets")
	}
	r = runCLI(t, ctx, "credentials", "--json", "--dir", dir)
	if !strings.Contains(r.stdout, secrets[model.KeyCassandraPassword]) {
		t.Errorf("credentials does not print the Cassandra password")
	}

	// Cassandra runs with authentication on: the generated user works, the default does not.
	if out, err := execIn(t, project, "cassandra", `cqlsh -u "$DATAECO_CASSANDRA_USER" -p "$DATAECO_CASSANDRA_PASSWORD" -e 'SELECT release_version FROM system.local'`); err != nil {
		t.Errorf("generated Cassandra user cannot log in: %v\n%s", err, out)
	}
	if out, err := execIn(t, project, "cassandra", `cqlsh -u cassandra -p cassandra -e 'SELECT release_version FROM system.local'`); err == nil {
		t.Errorf("cassandra/cassandra still logs in:\n%s", out)
	}

	// doctor on a healthy install: every check passes, no drift, JSON as documented, and a
	// support bundle without a single generated password in it.
	bundle := filepath.Join(t.TempDir(), "bundle.tar.gz")
	r = runCLI(t, ctx, "doctor", "--json", "--dir", dir, "--bundle", bundle)
	mustSucceed(t, r, "doctor")
	var rep installer.DoctorReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("doctor --json: %v", err)
	}
	for _, res := range rep.Checks {
		if res.Status == "fail" || (res.Status == "warn" && res.ID != "images") {
			t.Errorf("doctor on a healthy install: %s %s: %s", res.ID, res.Status, res.Message)
		}
	}
	if !rep.Installed || rep.Schema != 1 || len(rep.Checks) != len(checks.Prerequisites())+len(checks.StackChecks()) {
		t.Errorf("doctor report: installed=%v schema=%d checks=%d", rep.Installed, rep.Schema, len(rep.Checks))
	}
	assertBundleRedacted(t, bundle, secrets.Values(), []string{"doctor.json", "docker-compose.yml", "answers.yaml", "logs/" + project + "-cassandra-1.log", "containers/" + project + "-postgres-1.json"})

	// No well-known password works against the running stack: PostgreSQL refuses
	// airflow/airflow over the network and takes the generated one.
	pgTry := func(pw string) error {
		_, err := execIn(t, project, "postgres", "PGPASSWORD='"+pw+"' psql -h postgres -U airflow -d airflow -tAc 'SELECT 1'")
		return err
	}
	if err := pgTry("airflow"); err == nil {
		t.Error("PostgreSQL accepts airflow/airflow")
	}
	if err := pgTry(secrets[model.KeyPostgresPassword]); err != nil {
		t.Errorf("PostgreSQL refuses the generated password: %v", err)
	}

	// 3. A second install with the same answers recreates and restarts nothing, not even the
	// one-shot jobs that already succeeded (Compose alone would run them again).
	before := projectContainers(t, c, project)
	r = runCLI(t, ctx, e2eInstallArgs(dir, project, registry)...)
	mustSucceed(t, r, "second install")
	after := projectContainers(t, c, project)
	for name, b := range before {
		a := after[name]
		if a.ID != b.ID {
			t.Errorf("second install recreated %s", name)
		}
		if a.StartedAt != b.StartedAt {
			t.Errorf("second install restarted %s (%s → %s)", name, b.StartedAt, a.StartedAt)
		}
	}
	if strings.Contains(r.stderr, "pulled ") {
		t.Errorf("second install pulled images again:\n%s", r.stderr)
	}
	if !strings.Contains(r.stderr, "Already done, not run again: airflow-init, cassandra-init, kafka-init") {
		t.Errorf("second install does not say which jobs it left alone:\n%s", r.stderr)
	}

	// Another install (another project, from another directory) on the same ports is
	// refused by the ports check, which names the install holding them and how to stop it.
	other := project + "-other"
	r = runCLI(t, ctx, e2eInstallArgs(filepath.Join(t.TempDir(), "other"), other, registry)...)
	if r.code == 0 || !strings.Contains(r.stderr, "of the dataeco install in "+dir+" (project "+project+")") ||
		!strings.Contains(r.stderr, "dataeco stop --dir "+dir) {
		t.Errorf("an install on the ports of another: exit %d\n%s", r.code, r.stderr)
	}
	if n, nets, v := leftovers(t, c, other); n+nets+v != 0 {
		t.Errorf("the refused install left %d containers, %d networks, %d volumes", n, nets, v)
	}
	// With --any-port it moves each taken port to a free one, says so, saves them, and runs
	// beside the first; status --all lists both. (Its answers start as a copy of the first's,
	// ports and all, as when an install dir is copied; Kafka alone keeps it light.)
	freshProject(t, c, other)
	otherDir := filepath.Join(t.TempDir(), "other-any-port")
	copied, err := model.LoadAnswers(dir)
	if err != nil {
		t.Fatal(err)
	}
	copied.Project, copied.Components = other, []string{}
	raw, err := copied.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(otherDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(otherDir, model.AnswersFile), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	r = runCLI(t, ctx, "install", "--yes", "--dir", otherDir, "--registry", registry, "--timeout", "3m", "--no-smoke", "--any-port")
	mustSucceed(t, r, "install --any-port beside another install")
	moved, err := model.LoadAnswers(otherDir)
	if err != nil || moved.Ports["kafka"] == copied.Ports["kafka"] || moved.Ports["kafka"] >= 32768 ||
		!strings.Contains(r.stderr, fmt.Sprintf("--any-port: Kafka (host listener) on %d, not %d (taken by container %s-broker-1", moved.Ports["kafka"], copied.Ports["kafka"], project)) {
		t.Errorf("--any-port: kafka port %d (was %d), err %v\n%s", moved.Ports["kafka"], copied.Ports["kafka"], err, r.stderr)
	}
	assertListed(t, ctx, other, otherDir, "running")
	assertListed(t, ctx, project, dir, "running")
	mustSucceed(t, runCLI(t, ctx, "uninstall", "--purge", "--yes", "--dir", otherDir), "uninstall the install beside")

	// A changed answer recreates only the services it affects.
	args := append(e2eInstallArgs(dir, project, registry), "--spark-worker-memory", "768m")
	mustSucceed(t, runCLI(t, ctx, args...), "install with a changed answer")
	changed := projectContainers(t, c, project)
	for name, b := range after {
		// The workers offer the memory, and the streaming job sizes its executors from it.
		affected := strings.HasPrefix(name, "spark-worker-") || name == "spark-stream"
		if recreated := changed[name].ID != b.ID; recreated != affected {
			t.Errorf("changing --spark-worker-memory: %s recreated=%v, want %v", name, recreated, affected)
		}
	}
	if saved, err := model.LoadAnswers(dir); err != nil || saved.SparkWorkerMemory != 768 {
		t.Errorf("the changed answer was not saved: %v %v", saved, err)
	}

	// 4. Data written to volumes survives stop/start and down/install.
	markers := map[string]string{
		"cassandra": "/var/lib/cassandra/e2e-marker",
		"postgres":  "/var/lib/postgresql/data/e2e-marker",
		"broker":    "/var/lib/kafka/data/e2e-marker",
		"zookeeper": "/var/lib/zookeeper/data/e2e-marker",
	}
	for svc, path := range markers {
		if out, err := execIn(t, project, svc, "echo survived > "+path); err != nil {
			t.Fatalf("writing a marker into %s: %v %s", svc, err, out)
		}
	}
	checkMarkers := func(when string) {
		t.Helper()
		for svc, path := range markers {
			out, err := execIn(t, project, svc, "cat "+path)
			if err != nil || out != "survived" {
				t.Errorf("after %s, %s lost its data: %v %q", when, svc, err, out)
			}
		}
	}
	mustSucceed(t, runCLI(t, ctx, "stop", "--dir", dir), "stop")
	for name, f := range projectContainers(t, c, project) {
		if f.State == "running" {
			t.Errorf("after stop, %s is still running", name)
		}
	}
	assertListed(t, ctx, project, dir, "stopped")
	mustSucceed(t, runCLI(t, ctx, "start", "--dir", dir), "start")
	checkMarkers("stop/start")

	mustSucceed(t, runCLI(t, ctx, "down", "--dir", dir), "down")
	if n, _, v := leftovers(t, c, project); n != 0 || v == 0 {
		t.Errorf("after down: %d containers (want 0), %d volumes (want kept)", n, v)
	}
	mustSucceed(t, runCLI(t, ctx, e2eInstallArgs(dir, project, registry)...), "install after down")
	checkMarkers("down/install")

	// 5. uninstall --purge without a terminal refuses without --yes, then removes everything.
	r = runCLI(t, ctx, "uninstall", "--purge", "--dir", dir)
	if r.code != installer.ExitUsage || !strings.Contains(r.stderr, "--yes") {
		t.Errorf("uninstall --purge without --yes: exit %d, stderr %q", r.code, r.stderr)
	}
	mustSucceed(t, runCLI(t, ctx, "uninstall", "--purge", "--yes", "--dir", dir), "uninstall --purge")
	if n, nets, v := leftovers(t, c, project); n+nets+v != 0 {
		t.Errorf("uninstall --purge left %d containers, %d networks, %d volumes", n, nets, v)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("uninstall --purge left the install dir: %v", err)
	}
	// Nothing dangling either: no anonymous volume outlived its container.
	for name := range allVolumes(t, c) {
		if !volumesBefore[name] {
			t.Errorf("volume %s was left behind", name)
		}
	}
}

// assertListed checks that `status --all` lists the project, among whatever other installs
// the engine runs, with its install dir and state.
func assertListed(t *testing.T, ctx context.Context, project, dir, state string) {
	t.Helper()
	r := runCLI(t, ctx, "status", "--all", "--json")
	mustSucceed(t, r, "status --all")
	var all struct {
		Installs []struct {
			Project, Dir, State       string
			Containers, Running, Done int
		} `json:"installs"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &all); err != nil {
		t.Fatalf("status --all --json: %v\n%s", err, r.stdout)
	}
	for _, in := range all.Installs {
		if in.Project != project {
			continue
		}
		if in.Dir != dir || in.State != state {
			t.Errorf("status --all lists %s in %q, %s; want %q, %s", project, in.Dir, in.State, dir, state)
		}
		return
	}
	t.Errorf("status --all does not list %s:\n%s", project, r.stdout)
}

func allVolumes(t *testing.T, c client.APIClient) map[string]bool {
	t.Helper()
	vols, err := c.VolumeList(context.Background(), client.VolumeListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, v := range vols.Items {
		out[v.Name] = true
	}
	return out
}

// assertBundleRedacted opens a doctor bundle, checks it has the wanted files and that no
// secret appears in any of them.
func assertBundleRedacted(t *testing.T, path string, secrets []string, want []string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	found := map[string]bool{}
	redactions := 0
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(h.Name, "dataeco-bundle/")
		found[name] = true
		for _, s := range secrets {
			if strings.Contains(string(b), s) {
				t.Errorf("bundle file %s contains a generated secret", name)
			}
		}
		redactions += strings.Count(string(b), "[redacted]")
	}
	for _, w := range want {
		if !found[w] {
			t.Errorf("bundle lacks %s (has %v)", w, found)
		}
	}
	if redactions == 0 {
		t.Error("bundle shows no redaction although containers carry passwords in their environment")
	}
}

// assertLoopbackPorts checks that every port the project's containers publish listens on
// 127.0.0.1 only.
func assertLoopbackPorts(t *testing.T, ctx context.Context, c client.APIClient, project string) {
	t.Helper()
	list, err := c.ContainerList(ctx, client.ContainerListOptions{Filters: projectFilter(project)})
	if err != nil {
		t.Fatal(err)
	}
	for _, ct := range list.Items {
		for _, p := range ct.Ports {
			if p.PublicPort != 0 && p.IP.String() != "127.0.0.1" {
				t.Errorf("%s publishes %d on %s, want 127.0.0.1", ct.Names[0], p.PublicPort, p.IP)
			}
		}
	}
}
