package installer

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
	}{
		{"never healthy", map[string]string{"STANDIN_UNHEALTHY": "1"}, "25s",
			[]string{"zookeeper was not ready within 25s", "last healthcheck: exit 1", "log lines:"},
			[]string{"[!] Containers", "healthcheck has failed", "last healthcheck: exit 1"}, 0},
		{"out of memory", map[string]string{"STANDIN_EAT_MEMORY": "1"}, "2m",
			[]string{"zookeeper was killed for running out of memory (mem_limit 512m)", "OOM-killed true"},
			[]string{"[x] Containers: zookeeper: it was killed for running out of memory"}, ExitFailure},
		{"restart loop", map[string]string{"STANDIN_EXIT_CODE": "3"}, "2m",
			[]string{"zookeeper is restart-looping", "last exit code 3", "keeps crashing"},
			[]string{"[x] Containers: zookeeper: it keeps crashing"}, ExitFailure},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := fmt.Sprintf("variant%d", i)
			pushVariant(t, registry, prefix, "confluentinc/cp-zookeeper:7.9.9", tt.env)
			pushVariant(t, registry, prefix, "confluentinc/cp-server:7.9.9", nil)
			project := fmt.Sprintf("dataeco-fail%d", i)
			removeProject(t, c, project)
			t.Cleanup(func() { removeProject(t, c, project) })
			dir := filepath.Join(t.TempDir(), "install")
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			args := []string{"install", "--yes", "--dir", dir, "--project", project, "--components", "kafka",
				"--registry", registry + "/" + prefix, "--timeout", tt.timeout}
			for j, p := range PortSpecs() {
				args = append(args, "--"+p.Flag, fmt.Sprint(41000+10*i+j))
			}
			start := time.Now()
			r := runCLI(t, ctx, args...)
			if r.code != ExitFailure {
				t.Fatalf("exit %d, want 1", r.code)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q", w)
				}
			}
			if !strings.Contains(r.stderr, "hint: see `dataeco logs zookeeper`") {
				t.Errorf("no hint naming the next command")
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
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	dir := filepath.Join(t.TempDir(), "install")
	r := runCLI(t, context.Background(), "install", "--yes", "--dir", dir, "--project", "dataeco-ports",
		"--components", "kafka", "--kafka-port", fmt.Sprint(port), "--zookeeper-port", fmt.Sprint(port+1), "--kafka-jmx-port", fmt.Sprint(port+2))
	if r.code != ExitFailure {
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
}
