package model

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/dataeco/dataeco/installer/hint"
)

var update = flag.Bool("update-golden", false, "rewrite golden files")

func testAnswers(mutate func(*Answers)) *Answers {
	a := DefaultAnswers(EngineResources{NCPU: 8, MemTotal: 16 << 30})
	if mutate != nil {
		mutate(&a)
	}
	return &a
}

func testSecrets() Secrets {
	s := Secrets{}
	for k := range secretGenerators() {
		s[k] = "test-" + strings.ToLower(k)
	}
	s[KeyProjectName] = "dataeco"
	return s
}

// golden compares got with testdata/<name>.golden; -update rewrites it.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run go test -update-golden): %v", err)
	}
	if string(want) != string(got) {
		t.Errorf("%s differs from golden file; run `go test ./installer/model -run %s -update-golden` and review the diff\n--- got:\n%s", path, t.Name(), got)
	}
}

func renderCases() map[string]*Answers {
	return map[string]*Answers{
		"defaults": testAnswers(nil),
		"minimal": testAnswers(func(a *Answers) {
			a.Components = []string{CompKafka, CompSpark, CompCassandra}
			a.KafkaHeap, a.CassandraHeap, a.SparkWorkerMemory = 512, 512, 512
		}),
		"remapped": testAnswers(func(a *Answers) {
			a.Listen = "0.0.0.0"
			a.Registry = "mirror.example:5000"
			a.SparkWorkers = 3
			a.SparkWorkerCores = 2
			a.Ports["kafka"] = 19092
			a.Ports["airflow"] = 18080
		}),
		// On the network, with one admin port asked for by name: JMX is published, ZooKeeper not.
		"exposed": testAnswers(func(a *Answers) {
			a.Listen = "192.0.2.10"
			a.Expose = []string{"kafka-jmx"}
			a.AllowUnauthenticated = true
			a.Subnet = "10.123.0.0/24"
		}),
	}
}

func TestRenderGolden(t *testing.T) {
	t.Parallel()
	for name, a := range renderCases() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := Render(a, "test", "", Inputs{Hostname: "test-host"})
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "compose-"+name, got)
		})
	}
}

func TestRenderedLoadsWithComposeGo(t *testing.T) {
	t.Parallel()
	for name, a := range renderCases() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := renderLoaded(t, a)
			for _, s := range p.Services {
				if s.HealthCheck == nil && s.Restart != "no" {
					t.Errorf("service %s has no healthcheck", s.Name)
				}
				if s.Restart == "" {
					t.Errorf("service %s has no restart policy", s.Name)
				}
				if s.MemLimit == 0 {
					t.Errorf("service %s has no mem_limit", s.Name)
				}
				for _, port := range s.Ports {
					want := a.Listen
					for _, row := range Ports() {
						if a.Ports[row.Key] == atoi(port.Published) {
							want = row.HostIP(a)
						}
					}
					if port.HostIP != want {
						t.Errorf("service %s publishes %s on %q, want %q", s.Name, port.Published, port.HostIP, want)
					}
				}
				if a.Registry != "" && !strings.HasPrefix(s.Image, a.Registry+"/") && !strings.HasPrefix(s.Image, "dataeco/") {
					t.Errorf("service %s image %s not under registry %s", s.Name, s.Image, a.Registry)
				}
				if strings.HasSuffix(s.Image, ":latest") || !strings.Contains(s.Image, ":") {
					t.Errorf("service %s image %s is not pinned", s.Name, s.Image)
				}
			}
			var workers int
			for n := range p.Services {
				if strings.HasPrefix(n, "spark-worker-") {
					workers++
				}
			}
			if a.Has(CompSpark) && workers != a.SparkWorkers {
				t.Errorf("got %d spark workers, want %d", workers, a.SparkWorkers)
			}
		})
	}
}

// TestRenderedValidForCompose129 proves the rendered file is usable by hand with the
// seed's minimum Compose, by running the real docker-compose 1.29 on it.
func TestRenderedValidForCompose129(t *testing.T) {
	t.Parallel()
	bin := compose129(t)
	for name, a := range renderCases() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b, err := Render(a, "test", "", Inputs{})
			if err != nil {
				t.Fatal(err)
			}
			if out, err := composeConfig(t, bin, b); err != nil {
				t.Fatalf("docker-compose config -q: %v\n%s", err, out)
			}
		})
	}
}

// compose129 is the docker-compose (1.29, Debian's) the tests run; missing, the test skips,
// and fails under CI=true.
func compose129(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("docker-compose")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("docker-compose (1.29) is not installed; .ci/run installs it from Debian")
		}
		t.Skip("docker-compose not installed")
	}
	return bin
}

// composeConfig runs `bin config -q` on a rendered file in an install dir of its own.
func composeConfig(t *testing.T, bin string, rendered []byte) ([]byte, error) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ComposeFile), rendered, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, EnvFile), testSecrets().Marshal(), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-f", filepath.Join(dir, ComposeFile), "config", "-q")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "DOCKER_HOST=unix:///nonexistent.sock")
	return cmd.CombinedOutput()
}

// TestNoUserInputReachesAShell: every shell command line in the stack (CMD-SHELL healthchecks,
// sh -c entrypoints) is the same whatever the answers, so nothing a user types is ever
// interpreted by a shell.
func TestNoUserInputReachesAShell(t *testing.T) {
	t.Parallel()
	shellLines := func(a *Answers) map[string]string {
		p := renderLoaded(t, a)
		out := map[string]string{}
		for name, s := range p.Services {
			if s.HealthCheck != nil && len(s.HealthCheck.Test) > 0 && s.HealthCheck.Test[0] == "CMD-SHELL" {
				out[name+" healthcheck"] = strings.Join(s.HealthCheck.Test, " ")
			}
			if len(s.Entrypoint) > 1 && s.Entrypoint[0] == "/bin/sh" {
				out[name+" entrypoint"] = strings.Join(s.Entrypoint, " ")
			}
		}
		return out
	}
	// On loopback and off it (where Schema Registry and Control Center get login files
	// written by a shell at start).
	for _, listen := range []string{"127.0.0.1", "192.0.2.10"} {
		base := shellLines(testAnswers(func(a *Answers) { a.Listen = listen }))
		if len(base) < 5 {
			t.Fatalf("found only %d shell lines; the test looks in the wrong place", len(base))
		}
		other := shellLines(testAnswers(func(a *Answers) {
			a.Listen, a.Registry, a.Project = strings.Replace(listen, ".10", ".11", 1), "mirror.example:5000/hub", "other-project"
			a.Advertise = "somewhere.example"
			a.KafkaHeap, a.CassandraHeap, a.SparkWorkerMemory, a.SparkWorkerCores = 3072, 2048, 4096, 3
			for k, v := range a.Ports {
				a.Ports[k] = v + 1000
			}
		}))
		for k, v := range base {
			if other[k] != v {
				t.Errorf("%s depends on the answers:\n%s\n%s", k, v, other[k])
			}
		}
	}
}

// TestHostPortsStayOutside: the host ports a user picks must not change what listens inside
// a container. When the broker listened on the host port itself, `--kafka-port 29092` (a
// common choice) collided with its internal listener and the broker never started.
func TestHostPortsStayOutside(t *testing.T) {
	t.Parallel()
	inside := func(a *Answers) map[string]string {
		p := renderLoaded(t, a)
		out := map[string]string{}
		for name, s := range p.Services {
			var targets []string
			for _, port := range s.Ports {
				targets = append(targets, fmt.Sprint(port.Target))
			}
			out[name+" ports"] = strings.Join(targets, ",")
			if v := s.Environment["KAFKA_LISTENERS"]; v != nil {
				out[name+" listeners"] = *v
			}
		}
		return out
	}
	want := inside(testAnswers(nil))
	// Every host port moved onto a port some container listens on.
	clashes := map[string]int{"kafka": 29092, "kafka_jmx": 9092, "zookeeper": 9101, "schema_registry": 2181,
		"control_center": 8081, "airflow": 9021, "spark_ui": 7077, "spark_master": 8080, "cassandra": 7000}
	got := inside(testAnswers(func(a *Answers) {
		for k, v := range clashes {
			if _, ok := a.Ports[k]; !ok {
				t.Fatalf("no port %q in the answers", k)
			}
			a.Ports[k] = v
		}
	}))
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q with the default host ports, %q with others", k, v, got[k])
		}
	}
}

// renderLoaded renders a's compose file and loads it as Compose would.
func renderLoaded(t *testing.T, a *Answers) *types.Project {
	t.Helper()
	b, err := Render(a, "test", "", Inputs{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := LoadProject(context.Background(), "dataeco", t.TempDir(), b, testSecrets(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestOverrideFile: the user's docker-compose.override.yml adds a service and a mount the
// way Compose merges it; `config` shows the merge with the secrets still ${NAME}; a broken
// override is refused naming the file.
func TestOverrideFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	override := []byte(`services:
  kafka-ui:
    image: provectuslabs/kafka-ui:v0.7.2
    ports: ["127.0.0.1:8085:8080"]
    environment:
      KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS: broker:29092
    depends_on: [broker]
  spark-worker-1:
    volumes:
      - ./data:/opt/data:ro
`)
	def, err := Renderer{Version: "test"}.DefineWith(t.Context(), dir, testAnswers(nil), testSecrets(), Inputs{Override: override})
	if err != nil {
		t.Fatal(err)
	}
	ui, ok := def.Project.Services["kafka-ui"]
	if !ok || ui.Image != "provectuslabs/kafka-ui:v0.7.2" || len(ui.Ports) != 1 || ui.Ports[0].HostIP != "127.0.0.1" {
		t.Errorf("kafka-ui not added as written: %+v", ui)
	}
	var mounted bool
	for _, v := range def.Project.Services["spark-worker-1"].Volumes {
		if v.Target == "/opt/data" && v.Source == filepath.Join(dir, "data") && v.ReadOnly {
			mounted = true
		}
	}
	if !mounted {
		t.Errorf("spark-worker-1 volumes: %+v", def.Project.Services["spark-worker-1"].Volumes)
	}
	if !slices.Equal(def.Project.ComposeFiles, []string{filepath.Join(dir, ComposeFile), filepath.Join(dir, OverrideFile)}) {
		t.Errorf("compose files %v", def.Project.ComposeFiles)
	}
	merged, err := MergedCompose(t.Context(), def.Project.Name, dir, def.Compose, override)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"kafka-ui:", "/opt/data", "${DATAECO_CASSANDRA_PASSWORD"} {
		if !strings.Contains(string(merged), want) {
			t.Errorf("merged compose lacks %q", want)
		}
	}
	for _, v := range testSecrets() {
		if len(v) > 8 && strings.Contains(string(merged), v) {
			t.Errorf("merged compose shows a secret")
		}
	}
	if same, _ := MergedCompose(t.Context(), "dataeco", dir, def.Compose, nil); !bytes.Equal(same, def.Compose) {
		t.Error("without an override, config is not the rendered file itself")
	}
	_, err = Renderer{Version: "test"}.DefineWith(t.Context(), dir, testAnswers(nil), testSecrets(), Inputs{Override: []byte("services:\n  broker:\n    mem_limit: [1]\n")})
	if err == nil || !strings.Contains(err.Error(), OverrideFile) || !strings.Contains(hint.Of(err), "move it away") {
		t.Errorf("a broken override: %v (hint %q)", err, hint.Of(err))
	}
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
