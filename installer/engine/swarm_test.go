package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/dataeco/dataeco/installer/model"
	composetypes "github.com/docker/cli/cli/compose/types"
)

// The stack file dataeco renders for a swarm passes the docker CLI's own loader (its schema
// validation included) and says what a swarm install means: one replicated worker service
// spread over the nodes, stateful services and published ports pinned to the home node,
// host-mode ports, no loopback-only port, one-shot jobs as swarm jobs where the managers
// remove a job's tasks with it (services of one replica before), mounted files as configs.
func TestSwarmStackFile(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		components []string
		expose     []string
		brokers    int
		jobs       bool
	}{
		{"everything", model.Components(), nil, 1, false},
		{"everything, swarm jobs", model.Components(), nil, 1, true},
		{"kafka and spark, UI exposed", []string{model.CompKafka, model.CompSpark}, []string{"spark-ui"}, 1, true},
		{"three brokers and three Cassandra nodes", model.Components(), nil, 3, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := model.DefaultAnswers(model.EngineResources{NCPU: 8, MemTotal: 16 << 30})
			a.Components, a.Swarm, a.Listen, a.Registry, a.SparkWorkers, a.Expose = tc.components, true, "0.0.0.0", "registry.test:5000", 3, tc.expose
			a.KafkaBrokers, a.CassandraNodes = tc.brokers, tc.brokers
			in := model.Inputs{SwarmHome: "home-node-id", SwarmJobs: tc.jobs}
			nodes := []model.SwarmNode{{ID: "home-node-id", Hostname: "a", Addr: "10.0.0.11", Usable: true},
				{ID: "node-c", Hostname: "c", Addr: "10.0.0.13", Usable: true}, {ID: "node-b", Hostname: "b", Addr: "10.0.0.12", Usable: true}}
			if err := model.PlaceMembers(&a, &in, nodes); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			def, err := model.Renderer{Version: "test"}.DefineWith(context.Background(), dir, &a, model.Secrets{}, in)
			if err != nil {
				t.Fatal(err)
			}
			if err := model.WriteInstall(dir, def.Answers, def.Secrets, def.Compose); err != nil {
				t.Fatal(err)
			}
			file, err := model.SwarmFile(def.Project, def.Answers, in, def.Builds)
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
			// Each broker on its own node, with its own volume, advertising that node's address.
			for i, want := range []struct{ name, node, addr, volume string }{
				{"broker", "home-node-id", "localhost", "kafka-data"}, {"broker-2", "node-b", "10.0.0.12", "kafka-data-2"}, {"broker-3", "node-c", "10.0.0.13", "kafka-data-3"},
			}[:tc.brokers] {
				b := sw.Config.Services[byName[want.name]]
				adv := b.Environment["KAFKA_ADVERTISED_LISTENERS"]
				if !slices.Equal(b.Deploy.Placement.Constraints, []string{"node.id == " + want.node}) || len(b.Volumes) != 1 || b.Volumes[0].Source != want.volume ||
					b.Environment["KAFKA_BROKER_ID"] == nil || *b.Environment["KAFKA_BROKER_ID"] != fmt.Sprint(i+1) ||
					adv == nil || (i > 0 && !strings.Contains(*adv, "//"+want.addr+":9092")) {
					t.Errorf("%s: placement %v, volumes %+v, environment %v", want.name, b.Deploy.Placement.Constraints, b.Volumes, b.Environment)
				}
				if rf := b.Environment["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"]; rf == nil || *rf != fmt.Sprint(min(3, tc.brokers)) {
					t.Errorf("%s: offsets topic replication factor %v with %d brokers", want.name, rf, tc.brokers)
				}
			}
			if tc.brokers > 1 {
				// uninstall --purge reaches these through a task on their nodes.
				elsewhere := model.VolumesElsewhere(def.Answers, in)
				if b := elsewhere["node-b"]; len(elsewhere) != 2 || b == nil || !slices.Equal(b.Volumes, []string{"kafka-data-2", "cassandra-data-2"}) ||
					!strings.HasPrefix(b.Image, "registry.test:5000/") {
					t.Errorf("volumes on other nodes: %+v", elsewhere)
				}
				for _, v := range elsewhere["node-c"].Volumes {
					if !slices.ContainsFunc(sw.Config.Services, func(s composetypes.ServiceConfig) bool {
						return len(s.Volumes) == 1 && s.Volumes[0].Source == v && slices.Contains(s.Deploy.Placement.Constraints, "node.id == node-c")
					}) {
						t.Errorf("volume %s, to purge on node-c, is no volume of a service there", v)
					}
				}
				// Cassandra's nodes: each on its node with its volume, joining after the one
				// before, only the first publishing CQL.
				deps := model.SwarmDeps(def.Project)
				for i, want := range []struct{ name, node, volume, after string }{
					{"cassandra", "home-node-id", "cassandra-data", ""}, {"cassandra-2", "node-b", "cassandra-data-2", "cassandra"}, {"cassandra-3", "node-c", "cassandra-data-3", "cassandra-2"},
				} {
					c := sw.Config.Services[byName[want.name]]
					if !slices.Equal(c.Deploy.Placement.Constraints, []string{"node.id == " + want.node}) || len(c.Volumes) != 1 || c.Volumes[0].Source != want.volume ||
						(i > 0) != (len(c.Ports) == 0) || c.Environment["CASSANDRA_SEEDS"] == nil || *c.Environment["CASSANDRA_SEEDS"] != "cassandra" {
						t.Errorf("%s: placement %v, volumes %+v, ports %v, environment %v", want.name, c.Deploy.Placement.Constraints, c.Volumes, c.Ports, c.Environment)
					}
					if want.after != "" && !slices.Contains(deps[want.name], model.SwarmDep{Service: want.after}) {
						t.Errorf("%s starts without waiting for %s: %v", want.name, want.after, deps[want.name])
					}
				}
				if in := deps["cassandra-init"]; len(in) != 3 {
					t.Errorf("cassandra-init waits for %v, not the three nodes", in)
				}
				boot := sw.Config.Services[byName["schema-registry"]].Environment["SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS"]
				if boot == nil || *boot != "broker:29092,broker-2:29092,broker-3:29092" {
					t.Errorf("Schema Registry bootstraps from %v", boot)
				}
			}
			for _, s := range sw.Config.Services {
				node := "home-node-id"
				if p, ok := in.SwarmPlaces[s.Name]; ok {
					node = p.Node
				}
				pinned := slices.Contains(s.Deploy.Placement.Constraints, "node.id == "+node)
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
				mode := ""
				if row, _ := model.Lookup(s.Name); row.Job && tc.jobs {
					mode = "replicated-job"
				}
				if row, _ := model.Lookup(s.Name); row.Job != sw.isJob(s.Deploy.Labels) || s.Deploy.Mode != mode ||
					s.Deploy.Replicas == nil || !row.Replicated && *s.Deploy.Replicas != 1 {
					t.Errorf("%s: job %v, labels %v, mode %q, replicas %v; want mode %q", s.Name, row.Job, s.Deploy.Labels, s.Deploy.Mode, s.Deploy.Replicas, mode)
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

// One-shot jobs are swarm jobs only when every manager removes a job's tasks with it: a
// manager still on an older engine may lead the swarm.
func TestSwarmJobs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		nodes []SwarmNode
		want  bool
	}{
		{"no node", nil, false},
		{"one manager on 26", []SwarmNode{{Manager: true, Engine: "26.1.5+dfsg1"}}, true},
		{"manager on 24.0.0", []SwarmNode{{Manager: true, Engine: "24.0.0"}}, true},
		{"manager on 23", []SwarmNode{{Manager: true, Engine: "23.0.6"}}, false},
		{"workers on 20.10, manager on 26", []SwarmNode{{Manager: true, Engine: "26.1.5"}, {Engine: "20.10.24+dfsg1"}}, true},
		{"a second manager on 20.10", []SwarmNode{{Manager: true, Engine: "26.1.5"}, {Manager: true, Engine: "20.10.24"}}, false},
	} {
		if got := SwarmJobs(tc.nodes); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
