package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dataeco/dataeco/installer"
	"github.com/twmb/franz-go/pkg/kadm"
)

// TestIntegrationRestartAndReset: restart of one service leaves the others' containers alone;
// reset wipes one component's data and brings it back empty while the other component keeps
// its own: a role the test adds to Cassandra goes with `reset cassandra` and stays through
// `reset kafka`, a topic the test fills goes with `reset kafka` and stays through `reset
// cassandra`. (The stand-ins store both for real: kfake's log, Cassandra's roles file.)
// Schema Registry, which depends on the broker, is restarted in place by `reset kafka`.
func TestIntegrationRestartAndReset(t *testing.T) {
	registry := standinRegistry(t)
	c := dockerAPI(t)
	project := "dataeco-daytwo"
	freshProject(t, c, project)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "install")
	const base = 17300
	mustSucceed(t, runCLI(t, ctx, append([]string{"install", "--yes", "--no-smoke", "--dir", dir, "--project", project,
		"--registry", registry, "--components", "kafka,schema-registry,cassandra", "--timeout", "3m"}, fixedPortArgs(base)...)...), "install")
	kafka := fmt.Sprintf("127.0.0.1:%d", base)

	// restart one service: only it restarts.
	before := projectContainers(t, c, project)
	r := runCLI(t, ctx, "restart", "--dir", dir, "broker")
	mustSucceed(t, r, "restart broker")
	after := projectContainers(t, c, project)
	if after["broker"].ID != before["broker"].ID || after["broker"].StartedAt == before["broker"].StartedAt || after["broker"].State != "running" {
		t.Errorf("broker was not restarted in place: %+v -> %+v", before["broker"], after["broker"])
	}
	delete(before, "broker")
	assertSameContainers(t, before, after)
	if r := runCLI(t, ctx, "restart", "--dir", dir, "flink"); r.code != installer.ExitUsage || !strings.Contains(r.stderr, "components: kafka, schema-registry, cassandra") {
		t.Errorf("restart of an unknown name: exit %d\n%s", r.code, r.stderr)
	}

	// Data in both components.
	produceRecords(t, kafka, "daytwo", "kept", 3, true)
	addRole := func() {
		t.Helper()
		if out, err := execIn(t, project, "cassandra", `cqlsh -u "$DATAECO_CASSANDRA_USER" -p "$DATAECO_CASSANDRA_PASSWORD" -e "CREATE ROLE daytwo WITH PASSWORD = 'x' AND LOGIN = true"`); err != nil {
			t.Fatalf("adding a role: %v\n%s", err, out)
		}
	}
	hasRole := func() bool {
		t.Helper()
		out, err := execIn(t, project, "cassandra", `cqlsh -u "$DATAECO_CASSANDRA_USER" -p "$DATAECO_CASSANDRA_PASSWORD" -e "LIST ROLES"`)
		if err != nil {
			t.Fatalf("listing roles: %v\n%s", err, out)
		}
		return strings.Contains(out, "daytwo")
	}
	addRole()

	// Without a terminal and without --yes, reset refuses and names what it would delete.
	r = runCLI(t, ctx, "reset", "--dir", dir, "cassandra")
	if r.code != installer.ExitUsage || !strings.Contains(r.stderr, project+"_cassandra-data") || !strings.Contains(r.stderr, "--yes") {
		t.Errorf("reset without --yes: exit %d\n%s", r.code, r.stderr)
	}
	if !hasRole() {
		t.Fatal("a refused reset deleted data")
	}

	// reset cassandra: its data goes (the generated user and keyspace come back); Kafka's stays.
	before = projectContainers(t, c, project)
	mustSucceed(t, runCLI(t, ctx, "reset", "--yes", "--dir", dir, "cassandra"), "reset cassandra")
	after = projectContainers(t, c, project)
	if hasRole() {
		t.Error("reset cassandra kept the role the test added")
	}
	if after["cassandra"].ID == before["cassandra"].ID {
		t.Error("cassandra was not recreated")
	}
	for _, svc := range []string{"zookeeper", "broker"} {
		if after[svc] != before[svc] {
			t.Errorf("%s was touched by reset cassandra", svc)
		}
	}
	if got := consumeRecords(t, kafka, "daytwo", 3); len(got) != 3 {
		t.Errorf("reset cassandra lost Kafka's records: %v", got)
	}
	if out, err := execIn(t, project, "cassandra", `cqlsh -u "$DATAECO_CASSANDRA_USER" -p "$DATAECO_CASSANDRA_PASSWORD" -e "SELECT table_name FROM system_schema.tables WHERE keyspace_name = 'spark_streams'"`); err != nil || !strings.Contains(out, "created_users") {
		t.Errorf("the pipeline's table is not back after reset cassandra: %v\n%s", err, out)
	}

	// reset kafka: the test's topic goes, the pipeline's comes back; Cassandra's data stays.
	// Schema Registry depends on the broker: it is stopped for the reset and started again
	// in place after, not left failing against a broker that went away.
	addRole()
	before = projectContainers(t, c, project)
	mustSucceed(t, runCLI(t, ctx, "reset", "--yes", "--dir", dir, "kafka"), "reset kafka")
	after = projectContainers(t, c, project)
	if sr := after["schema-registry"]; sr.ID != before["schema-registry"].ID || sr.StartedAt == before["schema-registry"].StartedAt || sr.State != "running" {
		t.Errorf("schema-registry was not restarted in place by reset kafka: %+v -> %+v", before["schema-registry"], sr)
	}
	if !hasRole() {
		t.Error("reset kafka lost Cassandra's data")
	}
	cl := kafkaTestClient(t, kafka)
	defer cl.Close()
	topics, err := kadm.NewClient(cl).ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if topics.Has("daytwo") || !topics.Has("users_created") {
		t.Errorf("after reset kafka the topics are %v", topics.Names())
	}
	// (The stand-in Cassandra speaks no CQL, so smoke is not for it: the stack is healthy.)
	assertStackHealthy(t, runCLI(t, ctx, "status", "--json", "--dir", dir), []string{"zookeeper", "broker", "kafka-init", "schema-registry", "cassandra", "cassandra-init"})
}

// TestIntegrationResetAirflowAndSpark: reset airflow empties PostgreSQL's database and the
// logs (the admin comes back: airflow-init runs again), reset spark the streaming job's
// checkpoints; each leaves the other's data, and Kafka's and Cassandra's, alone.
func TestIntegrationResetAirflowAndSpark(t *testing.T) {
	registry := standinRegistry(t)
	c := dockerAPI(t)
	project := "dataeco-reset2"
	freshProject(t, c, project)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "install")
	mustSucceed(t, runCLI(t, ctx, append([]string{"install", "--yes", "--no-smoke", "--dir", dir, "--project", project,
		"--registry", registry, "--components", "kafka,airflow,spark,cassandra", "--timeout", "3m"}, fixedPortArgs(17600)...)...), "install")
	markers := map[string]string{ // service → a file on one of its volumes
		"postgres":          "/var/lib/postgresql/data/e2e-marker",
		"spark-stream":      "/checkpoints/e2e-marker",
		"cassandra":         "/var/lib/cassandra/e2e-marker",
		"broker":            "/var/lib/kafka/data/e2e-marker",
		"airflow-apiserver": "/opt/airflow/logs/e2e-marker", // the logs volume
	}
	for svc, path := range markers {
		if out, err := execIn(t, project, svc, "echo kept > "+path); err != nil {
			t.Fatalf("writing a marker into %s: %v %s", svc, err, out)
		}
	}
	check := func(after string, gone ...string) {
		t.Helper()
		for svc, path := range markers {
			out, err := execIn(t, project, svc, "cat "+path)
			kept := err == nil && out == "kept"
			if want := !slices.Contains(gone, svc); kept != want {
				t.Errorf("after %s, %s's marker kept=%v, want %v (%v %q)", after, svc, kept, want, err, out)
			}
		}
	}
	mustSucceed(t, runCLI(t, ctx, "reset", "--yes", "--dir", dir, "airflow"), "reset airflow")
	check("reset airflow", "postgres", "airflow-apiserver")
	assertStackHealthy(t, runCLI(t, ctx, "status", "--json", "--dir", dir), []string{"postgres", "airflow-init", "airflow-apiserver", "spark-stream"})
	for svc, path := range markers { // the markers again, for the next reset
		_, _ = execIn(t, project, svc, "echo kept > "+path)
	}
	mustSucceed(t, runCLI(t, ctx, "reset", "--yes", "--dir", dir, "spark"), "reset spark")
	check("reset spark", "spark-stream")
	assertStackHealthy(t, runCLI(t, ctx, "status", "--json", "--dir", dir), []string{"spark-master", "spark-stream", "postgres"})
}
