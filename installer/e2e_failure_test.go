package installer

import (
	"context"
	"fmt"
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
		name    string
		env     map[string]string
		timeout string
		want    []string
	}{
		{"never healthy", map[string]string{"STANDIN_UNHEALTHY": "1"}, "25s",
			[]string{"zookeeper was not ready within 25s", "last healthcheck: exit 1", "log lines:"}},
		{"out of memory", map[string]string{"STANDIN_EAT_MEMORY": "1"}, "2m",
			[]string{"zookeeper was killed for running out of memory (mem_limit 512m)", "OOM-killed true"}},
		{"restart loop", map[string]string{"STANDIN_EXIT_CODE": "3"}, "2m",
			[]string{"zookeeper is restart-looping", "last exit code 3", "keeps crashing"}},
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
		})
	}
}
