package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dataeco/dataeco/installer"
	"github.com/dataeco/dataeco/installer/model"
)

// TestIntegrationBuiltImages: install builds the Airflow and Spark images FROM the pinned ones
// (stand-ins here) on the real engine, once: a second install builds nothing; the user's own
// package is inside the running Airflow containers; the streaming job runs from the built
// Spark image without --packages (the stand-in job fails without the connectors, as the real
// one does). A requirement that cannot be installed fails the install, naming the package,
// and leaves the install dir and the running stack as they were. The built images travel in
// an `images save` bundle, and after `images load` an install builds and pulls nothing.
func TestIntegrationBuiltImages(t *testing.T) {
	registry := standinRegistry(t)
	c := dockerAPI(t)
	project := "dataeco-build"
	freshProject(t, c, project)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "install")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	// Images another test built (any install with Airflow or Spark builds one) would be
	// reused, and this test wants to see them built.
	if out, err := exec.Command("sh", "-c", "docker images -q dataeco/airflow; docker images -q dataeco/spark").Output(); err == nil {
		for _, id := range strings.Fields(string(out)) {
			_ = exec.Command("docker", "image", "rm", "-f", id).Run()
		}
	}
	writeFile(t, filepath.Join(dir, model.RequirementsFile), "# mine\ndataeco-extra==1.0\n")
	args := append([]string{"install", "--yes", "--no-smoke", "--dir", dir, "--project", project, "--registry", registry,
		"--components", "kafka,airflow,spark,cassandra", "--timeout", "3m"}, fixedPortArgs(17500)...)

	r := runCLI(t, ctx, args...)
	mustSucceed(t, r, "install")
	built := regexp.MustCompile(`built (dataeco/(airflow|spark):\S+)`).FindAllStringSubmatch(r.stderr, -1)
	if len(built) != 2 {
		t.Fatalf("want the Airflow and Spark images built once each:\n%s", r.stderr)
	}
	t.Cleanup(func() {
		for _, b := range built {
			_ = exec.Command("docker", "image", "rm", "-f", b[1]).Run()
		}
	})
	if out, err := execIn(t, project, "airflow-apiserver", "pip show dataeco-extra"); err != nil || !strings.Contains(out, "Name: dataeco-extra") {
		t.Errorf("the user's requirement is not in the running Airflow container: %v\n%s", err, out)
	}
	for _, f := range []string{"build/airflow/Dockerfile", "build/spark/spark-packages.txt", model.SparkPackagesFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("the install dir lacks %s: %v", f, err)
		}
	}
	compose := readFile(t, filepath.Join(dir, model.ComposeFile))
	if strings.Contains(compose, "--packages") || strings.Contains(compose, "_PIP_ADDITIONAL_REQUIREMENTS") {
		t.Error("the compose file still fetches packages at start")
	}

	// Again: nothing is built, nothing recreated.
	before := projectContainers(t, c, project)
	r = runCLI(t, ctx, args...)
	mustSucceed(t, r, "install again")
	if strings.Contains(r.stderr, "building dataeco/") {
		t.Errorf("a second install built again:\n%s", r.stderr)
	}
	assertSameContainers(t, before, projectContainers(t, c, project))

	// A package pip cannot find: the install fails before anything changes.
	writeFile(t, filepath.Join(dir, model.RequirementsFile), "dataeco-extra==1.0\ndataeco-missing-pkg==2.0\n")
	r = runCLI(t, ctx, args...)
	if r.code != installer.ExitFailure || !strings.Contains(r.stderr, "No matching distribution found for dataeco-missing-pkg") ||
		!strings.Contains(r.stderr, "fix requirements.txt") || !strings.Contains(r.stderr, "the running stack was not changed") {
		t.Errorf("a missing package: exit %d\n%s", r.code, r.stderr)
	}
	assertSameContainers(t, before, projectContainers(t, c, project))
	if got := readFile(t, filepath.Join(dir, model.ComposeFile)); got != compose {
		t.Error("a failed build rewrote the compose file")
	}
	// Images another test built (any install with Airflow or Spark builds one) would be
	// reused, and this test wants to see them built.
	if out, err := exec.Command("sh", "-c", "docker images -q dataeco/airflow; docker images -q dataeco/spark").Output(); err == nil {
		for _, id := range strings.Fields(string(out)) {
			_ = exec.Command("docker", "image", "rm", "-f", id).Run()
		}
	}
	writeFile(t, filepath.Join(dir, model.RequirementsFile), "# mine\ndataeco-extra==1.0\n")

	// The bundle carries the built images: loaded into an engine without them, install
	// builds nothing and pulls nothing.
	bundle := filepath.Join(t.TempDir(), "images.tar")
	mustSucceed(t, runCLI(t, ctx, "images", "save", "--dir", dir, bundle), "images save")
	mustSucceed(t, runCLI(t, ctx, "down", "--dir", dir), "down")
	r = runCLI(t, ctx, "images", "--json", "--dir", dir)
	mustSucceed(t, r, "images --json")
	for _, ref := range strings.Fields(strings.NewReplacer(`"`, " ", ",", " ").Replace(r.stdout)) {
		if strings.HasPrefix(ref, "dataeco/") || strings.HasPrefix(ref, registry+"/") {
			_ = exec.Command("docker", "image", "rm", "-f", ref).Run()
		}
	}
	mustSucceed(t, runCLI(t, ctx, "images", "load", bundle), "images load")
	r = runCLI(t, ctx, args...)
	mustSucceed(t, r, "install after images load")
	if strings.Contains(r.stderr, "building ") || strings.Contains(r.stderr, "pulled ") {
		t.Errorf("install built or pulled after images load:\n%s", r.stderr)
	}
}

func assertSameContainers(t *testing.T, before, after map[string]containerFacts) {
	t.Helper()
	for svc, b := range before {
		if a := after[svc]; a.ID != b.ID || a.StartedAt != b.StartedAt {
			t.Errorf("%s was recreated or restarted", svc)
		}
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
