package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dataeco/dataeco/installer"
	"github.com/dataeco/dataeco/installer/model"
)

// TestIntegrationOverrideFile: the user's docker-compose.override.yml in the install dir adds
// a service (with a healthcheck of its own) and mounts a host folder into the broker. install
// merges it and never rewrites it; status, logs, doctor (its drift check included) and config
// see the added service; a re-install changes nothing.
func TestIntegrationOverrideFile(t *testing.T) {
	registry := standinRegistry(t)
	c := dockerAPI(t)
	project := "dataeco-addons"
	freshProject(t, c, project)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "install")
	install := append([]string{"install", "--yes", "--no-smoke", "--dir", dir, "--project", project, "--registry", registry,
		"--components", "kafka", "--timeout", "3m"}, fixedPortArgs(18200)...)
	mustSucceed(t, runCLI(t, ctx, install...), "install")

	// The added service runs a stand-in image's busybox; the mount brings a host file in.
	if err := os.MkdirAll(filepath.Join(dir, "extra-data"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "extra-data", "marker"), []byte("from the host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	override := []byte(`# mine: dataeco never rewrites this file
services:
  extra:
    image: ` + registry + "/" + imageOf(t, "zookeeper") + `
    entrypoint: ["/bin/sh", "-c"]
    command: ["echo extra says hello; exec sleep 100000"]
    healthcheck:
      test: ["CMD", "true"]
      interval: 2s
    depends_on:
      broker:
        condition: service_healthy
  broker:
    volumes:
      - ./extra-data:/extra:ro
`)
	overridePath := filepath.Join(dir, model.OverrideFile)
	if err := os.WriteFile(overridePath, override, 0o644); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, ctx, install...)
	mustSucceed(t, r, "install with an override file")
	if !strings.Contains(r.stderr, "Merging your "+overridePath) {
		t.Errorf("install does not say it merged the override:\n%s", r.stderr)
	}
	if b, err := os.ReadFile(overridePath); err != nil || string(b) != string(override) {
		t.Errorf("install rewrote the override file: %v\n%s", err, b)
	}
	if out, err := execIn(t, project, "broker", "cat /extra/marker"); err != nil || out != "from the host" {
		t.Errorf("the broker does not see the mounted folder: %v %q", err, out)
	}
	assertStackHealthy(t, runCLI(t, ctx, "status", "--json", "--dir", dir), []string{"zookeeper", "broker", "kafka-init", "extra"})
	if r := runCLI(t, ctx, "logs", "--dir", dir, "extra"); r.code != 0 || !strings.Contains(r.stdout, "extra says hello") {
		t.Errorf("logs extra: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, ctx, "config", "--dir", dir)
	if !strings.Contains(r.stdout, "extra:") || !strings.Contains(r.stdout, "/extra") {
		t.Errorf("config does not show the merged file:\n%s", r.stdout)
	}
	for _, secret := range readSecrets(t, dir).Values() {
		if strings.Contains(r.stdout, secret) {
			t.Error("config shows a secret from .env")
		}
	}
	r = runCLI(t, ctx, "doctor", "--json", "--dir", dir)
	var rep installer.DoctorReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("doctor --json: %v\n%s", err, r.stderr)
	}
	for _, res := range rep.Checks {
		if res.ID == "drift" || res.ID == "containers" {
			if res.Status != "pass" {
				t.Errorf("doctor with an override: %s %s: %s", res.ID, res.Status, res.Message)
			}
		}
	}

	// A re-install leaves every container as it was, the added one included.
	before := projectContainers(t, c, project)
	mustSucceed(t, runCLI(t, ctx, install...), "re-install with the override")
	assertSameContainers(t, before, projectContainers(t, c, project))
}
