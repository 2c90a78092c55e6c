package engine

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/dataeco/dataeco/installer/model"
)

// The stack file dataeco renders for a swarm passes the docker CLI's own loader (its schema
// validation included) and says what a swarm install means: one replicated worker service
// spread over the nodes, stateful services and published ports pinned to the home node,
// host-mode ports, no loopback-only port, jobs as swarm jobs, mounted files as configs.
func TestSwarmStackFile(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		components []string
		expose     []string
	}{
		{"everything", model.Components(), nil},
		{"kafka and spark, UI exposed", []string{model.CompKafka, model.CompSpark}, []string{"spark-ui"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := model.DefaultAnswers(model.EngineResources{NCPU: 8, MemTotal: 16 << 30})
			a.Components, a.Swarm, a.Listen, a.Registry, a.SparkWorkers, a.Expose = tc.components, true, "0.0.0.0", "registry.test:5000", 3, tc.expose
			dir := t.TempDir()
			def, err := model.Renderer{Version: "test"}.Define(context.Background(), dir, &a, model.Secrets{})
			if err != nil {
				t.Fatal(err)
			}
			if err := model.WriteInstall(dir, def.Answers, def.Secrets, def.Compose); err != nil {
				t.Fatal(err)
			}
			file, err := model.SwarmFile(def.Project, def.Answers, "home-node-id", def.Builds)
			if err != nil {
				t.Fatal(err)
			}
			sw, err := LoadSwarm(nil, Output{W: &strings.Builder{}}, def.Project.Name, file, dir, nil, model.SwarmJobLabel)
			if err != nil {
				t.Fatalf("the docker CLI's loader refuses the stack file: %v\n%s", err, file)
			}
			if testing.Verbose() && tc.expose != nil {
				t.Logf("%s", file)
			}
			byName := map[string]int{}
			for i, s := range sw.Config.Services {
				byName[s.Name] = i
			}
			worker, ok := byName["spark-worker"]
			if !ok {
				t.Fatalf("no spark-worker service: %v", sw.Services())
			}
			w := sw.Config.Services[worker]
			if w.Deploy.Replicas == nil || *w.Deploy.Replicas != 3 || len(w.Deploy.Placement.Constraints) != 0 ||
				len(w.Deploy.Placement.Preferences) != 1 || w.Hostname != "spark-worker-{{.Task.Slot}}" {
				t.Errorf("spark-worker is not 3 replicas spread over the nodes: %+v, hostname %q", w.Deploy, w.Hostname)
			}
			if _, ok := byName["spark-worker-2"]; ok {
				t.Errorf("the workers are still one service each: %v", sw.Services())
			}
			for _, s := range sw.Config.Services {
				pinned := slices.Contains(s.Deploy.Placement.Constraints, "node.id == home-node-id")
				stateful := len(s.Volumes) > 0 || len(s.Ports) > 0
				if pinned != stateful {
					t.Errorf("%s: pinned to the home node %v, keeps data or publishes ports %v", s.Name, pinned, stateful)
				}
				if s.Deploy.EndpointMode != "dnsrr" {
					t.Errorf("%s: endpoint mode %q, want dnsrr (no IPVS needed)", s.Name, s.Deploy.EndpointMode)
				}
				for _, p := range s.Ports {
					if p.Mode != "host" {
						t.Errorf("%s publishes %d in %q mode, want host", s.Name, p.Published, p.Mode)
					}
					if p.Target == 8080 && s.Name == "spark-master" && !slices.Contains(tc.expose, "spark-ui") {
						t.Errorf("the Spark UI is published though kept on loopback")
					}
				}
				if s.Deploy.Resources.Limits == nil || s.Deploy.Resources.Limits.MemoryBytes == 0 {
					t.Errorf("%s has no memory limit", s.Name)
				}
				if row, _ := model.Lookup(s.Name); row.Job != sw.isJob(s.Deploy.Labels) || s.Deploy.Mode != "" {
					t.Errorf("%s: job %v, labels %v, mode %q (a swarm job's tasks outlive its service)", s.Name, row.Job, s.Deploy.Labels, s.Deploy.Mode)
				}
				if row, _ := model.Lookup(s.Name); row.Job && (s.Deploy.RestartPolicy == nil || s.Deploy.RestartPolicy.Condition != "on-failure") {
					t.Errorf("%s is restarted after it succeeds: %+v", s.Name, s.Deploy.RestartPolicy)
				}
				for _, v := range s.Volumes {
					if v.Type != "volume" {
						t.Errorf("%s mounts %s from %s: a node other than this one has no such path", s.Name, v.Target, v.Source)
					}
				}
				if strings.HasSuffix(s.Image, "spark:") || strings.HasPrefix(s.Image, "dataeco/") {
					t.Errorf("%s runs %s, which the nodes cannot pull", s.Name, s.Image)
				}
			}
			if slices.Contains(tc.components, model.CompSpark) {
				stream, ok := byName["spark-stream"]
				if slices.Contains(tc.components, model.CompCassandra) && (!ok || len(sw.Config.Services[stream].Configs) == 0) {
					t.Errorf("the streaming job gets its script from no config")
				}
			}
		})
	}
}

// SwarmDeps keeps the compose file's start order, with the workers as one service.
func TestSwarmDeps(t *testing.T) {
	t.Parallel()
	p := loadDefault(t, func(a *model.Answers) { a.SparkWorkers = 2 })
	deps := model.SwarmDeps(p)
	if got := deps["spark-worker"]; len(got) != 1 || got[0].Service != "spark-master" {
		t.Errorf("spark-worker waits for %v, want spark-master", got)
	}
	if _, ok := deps["spark-worker-2"]; ok {
		t.Error("a worker instance has start conditions of its own")
	}
	if got := deps["airflow-apiserver"]; !slices.Contains(got, model.SwarmDep{Service: "airflow-init", Completed: true}) {
		t.Errorf("airflow-apiserver does not wait for airflow-init to complete: %v", got)
	}
}

// A log line the engine sends with details names its task; the writer prefixes it with the
// task's service and slot, and keeps only the tasks asked for.
func TestTaskLineWriter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		only []string
		want string
	}{
		{"every task", nil, "spark-worker.1 | one\nspark-worker.2 | two\nspark-worker | plain\n"},
		{"the second", []string{"spark-worker.2"}, "spark-worker.2 | two\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out strings.Builder
			w := &taskLineWriter{out: &out, mu: &sync.Mutex{}, service: "spark-worker", only: tc.only,
				slots: map[string]string{"t1": "spark-worker.1", "t2": "spark-worker.2"}}
			for _, chunk := range []string{
				"com.docker.swarm.node.id=n1,com.docker.swarm.service.id=s,com.docker.swarm.task.id=t1 one\n",
				"com.docker.swarm.node.id=n2,com.docker.swarm.service.id=s,com.docker.swarm.task.id=t2 two\n",
				"plain\n",
			} {
				if _, err := w.Write([]byte(chunk)); err != nil {
					t.Fatal(err)
				}
			}
			if out.String() != tc.want {
				t.Errorf("got\n%s\nwant\n%s", out.String(), tc.want)
			}
		})
	}
}
