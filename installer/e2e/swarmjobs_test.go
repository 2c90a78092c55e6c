//go:build linux

package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// newerDockerd is a Docker Engine newer than the machine's (Debian 12's 20.10, the seed's
// minimum): Debian 13's dockerd, which .ci/test unpacks with testdata/engines/fetch.sh and
// names in DATAECO_E2E_NEWER_DOCKERD.
func newerDockerd(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("DATAECO_E2E_NEWER_DOCKERD")
	if bin == "" {
		msg := "DATAECO_E2E_NEWER_DOCKERD is not set: `export DATAECO_E2E_NEWER_DOCKERD=$(testdata/engines/fetch.sh)`"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + " (CI=true: .ci/test must provide it)")
		}
		t.Skip(msg)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("DATAECO_E2E_NEWER_DOCKERD: %v", err)
	}
	return bin
}

// TestIntegrationSwarmJobs follows a one-node swarm through an engine upgrade: on Engine
// 20.10, whose manager keeps a swarm job's tasks after its service is removed, kafka-init is
// a service of one replica; once the node runs a newer engine, install makes it a swarm job
// (created anew: swarm changes no service's mode in place), which runs once, is not run again
// by an install that changes nothing, and leaves no task or container behind on uninstall.
func TestIntegrationSwarmJobs(t *testing.T) {
	t.Parallel()
	newer := newerDockerd(t)
	registry := standinRegistry(t)
	node := startSwarm(t, registry, 1, 1)[0]
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	const project, base = "dataeco-swjobs", 18560
	dir := filepath.Join(t.TempDir(), "install")
	args := append([]string{"install", "--yes", "--dir", dir, "--project", project, "--registry", registry, "--swarm",
		"--components", "kafka", "--listen", "0.0.0.0", "--allow-unauthenticated", "--timeout", "3m", "--no-smoke"}, fixedPortArgs(base)...)
	mode := func() string {
		t.Helper()
		out, err := node.docker("service", "inspect", "--format", "{{json .Spec.Mode}}", project+"_kafka-init")
		if err != nil {
			t.Fatalf("docker service inspect kafka-init: %v\n%s", err, out)
		}
		return strings.TrimSpace(out)
	}
	facts := func() string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, "engine.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}

	mustSucceed(t, node.dataeco(t, ctx, args...), "install --swarm on Engine 20.10")
	if m := mode(); strings.Contains(m, "Job") || !strings.Contains(m, "Replicated") {
		t.Errorf("on Engine 20.10 kafka-init runs in mode %s, want a replicated service", m)
	}
	if f := facts(); strings.Contains(f, "swarm_jobs") {
		t.Errorf("engine.yaml on Engine 20.10 says swarm jobs:\n%s", f)
	}

	// The node's engine is upgraded in place: the same data root, swarm state and volumes.
	if err := node.stop(); err != nil {
		t.Fatal(err)
	}
	node.bin = newer
	node.start()
	if v, err := node.docker("version", "--format", "{{.Server.Version}}"); err != nil || strings.HasPrefix(v, "20.") {
		t.Fatalf("after the upgrade the engine is %q (%v)", v, err)
	}
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(time.Second) {
		out, err := node.docker("node", "ls", "--format", "{{.Status}} {{.ManagerStatus}}")
		if err == nil && strings.HasPrefix(strings.TrimSpace(out), "Ready Leader") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the upgraded node is not a ready leader after 2 minutes: %v %s", err, out)
		}
	}

	r := node.dataeco(t, ctx, args...)
	mustSucceed(t, r, "install --swarm after the engine upgrade")
	if !strings.Contains(r.stderr, "one-shot jobs become swarm jobs") {
		t.Errorf("install after the upgrade does not say the jobs become swarm jobs:\n%s", r.stderr)
	}
	if m := mode(); !strings.Contains(m, "ReplicatedJob") {
		t.Errorf("after the upgrade kafka-init runs in mode %s, want a replicated job", m)
	}
	if f := facts(); !strings.Contains(f, "swarm_jobs: true") {
		t.Errorf("engine.yaml after the upgrade:\n%s", f)
	}
	svcs := swarmServices(t, ctx, node, dir)
	if s := svcs["kafka-init"]; s.Mode != "job" || s.Done != 1 {
		t.Errorf("kafka-init did not complete as a swarm job: %+v", s)
	}
	if s := svcs["broker"]; s.Running != 1 {
		t.Errorf("the broker does not run after the upgrade: %+v", s)
	}
	smokePasses(t, ctx, node, dir, "smoke-kafka")

	// Nothing changed: the job does not run again.
	runs := func() string {
		t.Helper()
		out, err := node.docker("service", "ps", "-q", project+"_kafka-init")
		if err != nil {
			t.Fatalf("docker service ps: %v\n%s", err, out)
		}
		iter, err := node.docker("service", "inspect", "--format", "{{json .JobStatus}}", project+"_kafka-init")
		if err != nil {
			t.Fatalf("docker service inspect: %v\n%s", err, iter)
		}
		return strings.Join(strings.Fields(out), ",") + " iteration " + strings.TrimSpace(iter)
	}
	before := runs()
	mustSucceed(t, node.dataeco(t, ctx, args...), "install --swarm again")
	if after := runs(); after != before {
		t.Errorf("an install that changes nothing ran kafka-init again: %s, before %s", after, before)
	}

	// Uninstall leaves no task (the manager's record) and no container (the node's).
	mustSucceed(t, node.dataeco(t, ctx, "uninstall", "--purge", "--yes", "--dir", dir), "uninstall --purge")
	label := "label=com.docker.stack.namespace=" + project
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Second) {
		tasks, err1 := node.docker("node", "ps", "-q", "self")
		ctrs, err2 := node.docker("ps", "-aq", "--filter", label)
		if err1 == nil && err2 == nil && strings.TrimSpace(tasks) == "" && strings.TrimSpace(ctrs) == "" {
			break
		}
		if time.Now().After(deadline) {
			all, _ := node.docker("node", "ps", "self")
			t.Fatalf("a minute after uninstall the node still has tasks or containers: %v %v\n%s\ncontainers: %s", err1, err2, all, ctrs)
		}
	}
}
