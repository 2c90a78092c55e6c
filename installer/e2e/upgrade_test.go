package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dataeco/dataeco/installer/model"
)

// previousRelease is the last commit before the work on versions and upgrades (and before
// the images dataeco builds): its install dirs are of answers format 1, and it pins
// PostgreSQL 17.10 where this one pins 17.11.
const previousRelease = "d4dd3c0fcb28a4652e7762e88bc9507327a512e1"

// TestIntegrationUpgradeFromPreviousRelease: the previous release, built from this
// repository's history, installs a stack and data goes into it; this dataeco's install then
// takes the install dir over: the answers are brought to the current format and it says so,
// the services whose images change are named (PostgreSQL 17.10 to 17.11, Airflow to the image
// dataeco builds), and Kafka's records and Cassandra's data are still there. The previous
// release then refuses the upgraded dir, with nothing changed.
func TestIntegrationUpgradeFromPreviousRelease(t *testing.T) {
	registry := standinRegistry(t)
	c := dockerAPI(t)
	project := "dataeco-upgrade"
	freshProject(t, c, project)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	prev := buildRelease(t, ctx, previousRelease)
	pushAs(t, registry, imageOf(t, "postgres"), "postgres:17.10-bookworm") // its pin
	dir := filepath.Join(t.TempDir(), "install")
	runPrev := func(args ...string) (string, error) {
		out, err := exec.CommandContext(ctx, prev, args...).CombinedOutput()
		t.Logf("previous release: dataeco %s → %v\n%s", strings.Join(args, " "), err, out)
		return string(out), err
	}
	const base = 18400
	if _, err := runPrev(append([]string{"install", "--yes", "--no-smoke", "--dir", dir, "--project", project, "--registry", registry,
		"--components", "kafka,airflow,cassandra", "--timeout", "3m"}, fixedPortArgs(base)...)...); err != nil {
		t.Fatalf("install with the previous release: %v", err)
	}
	kafka := "127.0.0.1:18400" // fixedPortArgs: the Kafka port comes first
	produceRecords(t, kafka, "upgrade", "kept", 3, true)
	if out, err := execIn(t, project, "cassandra", `cqlsh -u "$DATAECO_CASSANDRA_USER" -p "$DATAECO_CASSANDRA_PASSWORD" -e "CREATE ROLE upgrade WITH PASSWORD = 'x' AND LOGIN = true"`); err != nil {
		t.Fatalf("adding a role: %v\n%s", err, out)
	}
	if b, err := os.ReadFile(filepath.Join(dir, model.AnswersFile)); err != nil || !strings.Contains(string(b), "version: 1\n") {
		t.Fatalf("the previous release did not write format 1: %v\n%s", err, b)
	}

	r := runCLI(t, ctx, "install", "--yes", "--no-smoke", "--dir", dir, "--timeout", "3m")
	mustSucceed(t, r, "install over the previous release's")
	pg := func(tag string) string { return model.RewriteImage(registry, "postgres:"+tag) }
	for _, want := range []string{
		"This install dir comes from an earlier dataeco: answers.yaml is brought from format 1 to 2",
		"  postgres: " + pg("17.10-bookworm") + " -> " + pg("17.11-bookworm") + "\n",
		"  airflow-scheduler: " + model.RewriteImage(registry, imageOf(t, "airflow-scheduler")) + " -> ",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("the upgrade does not say %q:\n%s", want, r.stderr)
		}
	}
	if got := consumeRecords(t, kafka, "upgrade", 3); len(got) != 3 {
		t.Errorf("after the upgrade the topic holds %d records of 3", len(got))
	}
	if out, err := execIn(t, project, "cassandra", `cqlsh -u "$DATAECO_CASSANDRA_USER" -p "$DATAECO_CASSANDRA_PASSWORD" -e "LIST ROLES"`); err != nil || !strings.Contains(out, "upgrade") {
		t.Errorf("after the upgrade Cassandra lost the role: %v\n%s", err, out)
	}
	assertStackHealthy(t, runCLI(t, ctx, "status", "--json", "--dir", dir), []string{"zookeeper", "broker", "postgres", "airflow-apiserver", "cassandra"})
	answers, err := os.ReadFile(filepath.Join(dir, model.AnswersFile))
	if err != nil || !strings.Contains(string(answers), "version: 2\n") {
		t.Fatalf("the upgraded answers: %v\n%s", err, answers)
	}

	// The previous release refuses the upgraded dir before touching anything.
	before := projectContainers(t, c, project)
	if out, err := runPrev("install", "--yes", "--no-smoke", "--dir", dir); err == nil || !strings.Contains(out, "version 2") {
		t.Errorf("the previous release ran the upgraded install dir: %v\n%s", err, out)
	}
	assertSameContainers(t, before, projectContainers(t, c, project))
	if b, err := os.ReadFile(filepath.Join(dir, model.AnswersFile)); err != nil || string(b) != string(answers) {
		t.Errorf("the previous release changed the answers: %v", err)
	}
}

// buildRelease builds dataeco at commit from this repository's history (git archive, then go
// build with the Go module proxy), for tests that need an earlier release's binary.
func buildRelease(t *testing.T, ctx context.Context, commit string) string {
	t.Helper()
	src := t.TempDir()
	archive := exec.CommandContext(ctx, "sh", "-c", `git -C ../.. archive --format=tar "$1" | tar -x -C "$2"`, "sh", commit, src)
	if out, err := archive.CombinedOutput(); err != nil {
		t.Fatalf("git archive %s (the test needs the repository's history; a shallow clone lacks it): %v\n%s", commit, err, out)
	}
	bin := filepath.Join(t.TempDir(), "dataeco-"+commit[:7])
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	build.Dir = src
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", commit, err, out)
	}
	return bin
}
