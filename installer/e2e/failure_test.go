package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dataeco/dataeco/installer"
	"github.com/dataeco/dataeco/installer/model"
)

// TestIntegrationFailureDiagnosis installs a Kafka-only stack whose ZooKeeper misbehaves in
// each of the ways users meet, and checks that install fails fast, exits 1 and says why.
func TestIntegrationFailureDiagnosis(t *testing.T) {
	registry := standinRegistry(t)
	c := dockerAPI(t)
	tests := []struct {
		name       string
		env        map[string]string
		timeout    string
		want       []string
		doctor     []string
		doctorCode int
		keep       bool
	}{
		{"never healthy", map[string]string{"STANDIN_UNHEALTHY": "1"}, "25s",
			[]string{"zookeeper was not ready within 25s", "last healthcheck: exit 1", "log lines:"},
			[]string{"[!] Containers", "healthcheck has failed", "last healthcheck: exit 1"}, 0, true},
		{"out of memory", map[string]string{"STANDIN_EAT_MEMORY": "1"}, "2m",
			[]string{"zookeeper was killed for running out of memory (mem_limit 512m)", "OOM-killed true"},
			[]string{"[x] Containers: zookeeper: it was killed for running out of memory"}, installer.ExitFailure, true},
		{"restart loop", map[string]string{"STANDIN_EXIT_CODE": "3"}, "2m",
			[]string{"zookeeper is restart-looping", "last exit code 3", "keeps crashing"},
			[]string{"[x] Containers: zookeeper: it keeps crashing"}, installer.ExitFailure, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := fmt.Sprintf("variant%d", i)
			pushVariant(t, registry, prefix, imageOf(t, "zookeeper"), tt.env)
			pushVariant(t, registry, prefix, imageOf(t, "broker"), nil)
			project := fmt.Sprintf("dataeco-fail%d", i)
			freshProject(t, c, project)
			dir := filepath.Join(t.TempDir(), "install")
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			args := []string{"install", "--yes", "--dir", dir, "--project", project, "--components", "kafka",
				"--registry", registry + "/" + prefix, "--timeout", tt.timeout, "--no-smoke"}
			if tt.keep {
				args = append(args, "--keep-on-failure")
			}
			args = append(args, fixedPortArgs(13000+10*i)...)
			start := time.Now()
			r := runCLI(t, ctx, args...)
			if r.code != installer.ExitFailure {
				t.Fatalf("exit %d, want 1", r.code)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q", w)
				}
			}
			wantHint := "hint: the stack is stopped, data kept; `dataeco logs zookeeper`"
			if tt.keep {
				wantHint = "hint: left running for inspection (--keep-on-failure): `dataeco logs zookeeper`"
			}
			if !strings.Contains(r.stderr, wantHint) {
				t.Errorf("no hint %q", wantHint)
			}
			for name, f := range projectContainers(t, c, project) {
				running := f.State == "running" || f.State == "restarting"
				if !tt.keep && running || tt.keep && name == "zookeeper" && !running {
					t.Errorf("after the failure %s is %s (keep-on-failure %v)", name, f.State, tt.keep)
				}
			}
			t.Logf("failed after %s", time.Since(start).Round(time.Second))

			// The failed install is left as it is; doctor must find the same problem.
			d := runCLI(t, ctx, "doctor", "--dir", dir, "--check", "containers")
			for _, w := range append([]string{"Containers:", "zookeeper (" + project + "-zookeeper-1)", "last log lines:"}, tt.doctor...) {
				if !strings.Contains(d.stdout, w) {
					t.Errorf("doctor after a failed install lacks %q", w)
				}
			}
			if want := tt.doctorCode; d.code != want {
				t.Errorf("doctor exit %d, want %d", d.code, want)
			}
		})
	}
}

// TestIntegrationPortTaken: a port held by another process stops install before anything is
// written, naming the process and the flag that moves the port.
func TestIntegrationPortTaken(t *testing.T) {
	requireIntegration(t)
	// A port a user would pick, below the range the kernel hands to outgoing connections, so
	// the check blames the listener and suggests moving by 10000 (ports in that range get a
	// suggestion outside it; prereq_test covers that).
	var l net.Listener
	for tries := 0; l == nil; tries++ {
		if tries > 100 {
			t.Fatal("no free port between 10000 and 11999")
		}
		var err error
		l, err = net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", 10000+rand.IntN(2000)))
		if err != nil {
			l = nil
		}
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	dir := filepath.Join(t.TempDir(), "install")
	r := runCLI(t, context.Background(), "install", "--yes", "--dir", dir, "--project", "dataeco-ports",
		"--components", "kafka", "--kafka-port", fmt.Sprint(port), "--zookeeper-port", fmt.Sprint(port+1), "--kafka-jmx-port", fmt.Sprint(port+2))
	if r.code != installer.ExitFailure {
		t.Errorf("exit %d, want 1", r.code)
	}
	for _, want := range []string{fmt.Sprintf("port %d (broker) is taken by process", port), fmt.Sprintf("PID %d", os.Getpid()),
		fmt.Sprintf("--kafka-port %d", port+10000), "nothing was changed"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q", want)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("install wrote %s although a port was taken", dir)
	}

	// doctor on an install whose answers use that port names the process too.
	ans := model.DefaultAnswers(model.EngineResources{NCPU: 2, MemTotal: 8 << 30})
	ans.Project, ans.Components, ans.Ports["kafka"] = "dataeco-ports", []string{model.CompKafka}, port
	s := model.Secrets{}
	s.EnsureSecrets(ans.Project)
	b, _ := model.Render(&ans, "test", "", model.Inputs{})
	if err := model.WriteInstall(dir, &ans, s, b); err != nil {
		t.Fatal(err)
	}
	d := runCLI(t, context.Background(), "doctor", "--check", "ports", "--dir", dir)
	if d.code != installer.ExitFailure || !strings.Contains(d.stdout, fmt.Sprintf("PID %d", os.Getpid())) || !strings.Contains(d.stdout, "--kafka-port") {
		t.Errorf("doctor --check ports: exit %d\n%s", d.code, d.stdout)
	}
}

// TestIntegrationPortTakenAtStart: a program takes a port after the checks passed (here:
// the checks are skipped), so the engine cannot publish it. start fails naming the port and
// the doctor check that names the program; once it is gone, start succeeds.
func TestIntegrationPortTakenAtStart(t *testing.T) {
	registry := standinRegistry(t)
	c := dockerAPI(t)
	project := "dataeco-portstart"
	freshProject(t, c, project)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "install")
	const base = 17000
	mustSucceed(t, runCLI(t, ctx, append([]string{"install", "--yes", "--no-smoke", "--dir", dir, "--project", project,
		"--registry", registry, "--components", "kafka", "--timeout", "2m"}, fixedPortArgs(base)...)...), "install")
	mustSucceed(t, runCLI(t, ctx, "stop", "--dir", dir), "stop")

	port := 0
	for i, p := range model.Ports() {
		if p.Key == "kafka" {
			port = base + i
		}
	}
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, ctx, "start", "--dir", dir, "--skip-check", "ports", "--timeout", "1m")
	if r.code != installer.ExitFailure {
		t.Errorf("start with port %d taken: exit %d, want 1", port, r.code)
	}
	for _, want := range []string{fmt.Sprintf("could not publish port %d, which another program took after the checks ran", port),
		"`dataeco doctor --check ports`", "fix and run `dataeco start` to retry"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("start's stderr lacks %q", want)
		}
	}
	d := runCLI(t, ctx, "doctor", "--check", "ports", "--dir", dir)
	if d.code != installer.ExitFailure || !strings.Contains(d.stdout, fmt.Sprintf("port %d (broker) is taken by process", port)) ||
		!strings.Contains(d.stdout, fmt.Sprintf("PID %d", os.Getpid())) {
		t.Errorf("doctor --check ports: exit %d\n%s", d.code, d.stdout)
	}

	l.Close()
	mustSucceed(t, runCLI(t, ctx, "start", "--dir", dir), "start once the port is free again")
}

// TestIntegrationDockerDown: each way of not reaching Docker gets its own message and fix,
// exit 1, and nothing is written.
func TestIntegrationDockerDown(t *testing.T) {
	requireIntegration(t)
	bin := dataecoBinary(t)

	// A stopped daemon leaves its socket file behind with nobody listening.
	stale := filepath.Join(t.TempDir(), "docker.sock")
	l, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()

	tests := []struct {
		name string
		env  []string
		as   []string // command prefix, e.g. to run as another user
		want []string
	}{
		{"daemon stopped", []string{"DOCKER_HOST=unix://" + stale}, nil,
			[]string{"the Docker daemon is not running", "systemctl start docker"}},
		{"DOCKER_HOST points nowhere", []string{"DOCKER_HOST=tcp://127.0.0.1:9"}, nil,
			[]string{"no Docker engine answers at tcp://127.0.0.1:9", "unset DOCKER_HOST"}},
		{"permission denied on the socket", nil, []string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"},
			[]string{"permission denied on the Docker socket", "usermod -aG docker"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.as != nil {
				if _, err := exec.LookPath(tt.as[0]); err != nil || os.Geteuid() != 0 {
					if os.Getenv("CI") == "true" {
						t.Fatalf("needs root and %s", tt.as[0])
					}
					t.Skip("needs root and " + tt.as[0])
				}
			}
			// Not t.TempDir: its parent is private to root, and one case runs as nobody.
			base, err := os.MkdirTemp("", "dataeco-down-")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(base) })
			os.Chmod(base, 0o777)
			dir := filepath.Join(base, "install")
			for _, cmdArgs := range [][]string{{"install", "--yes", "--dir", dir}, {"doctor", "--dir", dir}} {
				argv := append(append(append([]string{}, tt.as...), bin), cmdArgs...)
				cmd := exec.Command(argv[0], argv[1:]...)
				cmd.Env = append(os.Environ(), "HOME="+base)
				cmd.Env = append(cmd.Env, tt.env...)
				var stdout, stderr strings.Builder
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				err := cmd.Run()
				code := 0
				if ee, ok := err.(*exec.ExitError); ok {
					code = ee.ExitCode()
				}
				out := stdout.String() + stderr.String()
				if code != installer.ExitFailure {
					t.Errorf("dataeco %s: exit %d, want 1\n%s", cmdArgs[0], code, out)
				}
				for _, w := range tt.want {
					if !strings.Contains(out, w) {
						t.Errorf("dataeco %s output lacks %q:\n%s", cmdArgs[0], w, out)
					}
				}
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("%s was written although Docker was unreachable", dir)
			}
		})
	}
}

// TestIntegrationSubnetTaken: a --subnet that overlaps a network the engine already has is
// refused before anything is written, naming that network and a free range; the engine would
// refuse it later, half-way through the start.
func TestIntegrationSubnetTaken(t *testing.T) {
	requireIntegration(t)
	const name = "dataeco-e2e-subnet-clash"
	_ = exec.Command("docker", "network", "rm", name).Run()
	if out, err := exec.Command("docker", "network", "create", "--subnet", "10.214.9.0/24", name).CombinedOutput(); err != nil {
		t.Fatalf("docker network create: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "network", "rm", name).Run() })
	dir := filepath.Join(t.TempDir(), "install")
	r := runCLI(t, context.Background(), "install", "--yes", "--dir", dir, "--project", "dataeco-subnet",
		"--components", "kafka", "--kafka-port", "17960", "--zookeeper-port", "17961", "--kafka-jmx-port", "17962",
		"--subnet", "10.214.9.128/25")
	if r.code != installer.ExitFailure {
		t.Errorf("exit %d, want 1", r.code)
	}
	for _, want := range []string{"10.214.9.128/25 overlaps the engine's network " + name + " (10.214.9.0/24)", "--subnet 10.", "--skip-check subnet", "nothing was changed"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("install wrote %s although the range was taken", dir)
	}
}
