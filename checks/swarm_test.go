package checks

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
)

// The containers check of a swarm install reads the services' tasks: every replica running
// and the job completed pass; a task the swarm could not run names its node and its error.
func TestSwarmServicesCheck(t *testing.T) {
	t.Parallel()
	now := time.Now()
	service := func(id, name string, running, desired uint64) swarm.Service {
		return swarm.Service{ID: id, Spec: swarm.ServiceSpec{Annotations: swarm.Annotations{Name: "dataeco_" + name}},
			ServiceStatus: &swarm.ServiceStatus{RunningTasks: running, DesiredTasks: desired}}
	}
	task := func(service string, slot int, node string, state swarm.TaskState, err string, age time.Duration) swarm.Task {
		return swarm.Task{ServiceID: service, Slot: slot, NodeID: node, Meta: swarm.Meta{CreatedAt: now.Add(-age)},
			Status: swarm.TaskStatus{State: state, Err: err}}
	}
	nodes := []swarm.Node{
		{ID: "n1", Description: swarm.NodeDescription{Hostname: "one"}, Status: swarm.NodeStatus{Addr: "10.0.0.1", State: swarm.NodeStateReady}},
		{ID: "n2", Description: swarm.NodeDescription{Hostname: "two"}, Status: swarm.NodeStatus{Addr: "10.0.0.2", State: swarm.NodeStateDown}},
	}
	stack := &Stack{Project: "dataeco", Swarm: true, Services: []StackService{{Name: "broker"}, {Name: "kafka-init", OneShot: true}, {Name: "spark-worker"}}}
	healthy := []swarm.Task{
		task("b", 1, "n1", swarm.TaskStateRunning, "", time.Minute),
		task("j", 1, "n1", swarm.TaskStateFailed, "task: non-zero exit (1)", 2*time.Minute),
		task("j", 1, "n1", swarm.TaskStateComplete, "", time.Minute),
		task("w", 1, "n1", swarm.TaskStateRunning, "", time.Minute),
		task("w", 2, "n1", swarm.TaskStateRunning, "", time.Minute),
	}
	for _, tc := range []struct {
		name     string
		services []swarm.Service
		tasks    []swarm.Task
		status   Status
		want     []string
	}{
		{"all running, the job completed after a retry",
			[]swarm.Service{service("b", "broker", 1, 1), service("j", "kafka-init", 0, 1), service("w", "spark-worker", 2, 2)},
			healthy, Pass, []string{"all 3 services"}},
		{"a worker the swarm cannot place",
			[]swarm.Service{service("b", "broker", 1, 1), service("j", "kafka-init", 0, 1), service("w", "spark-worker", 1, 2)},
			append(healthy[:4:4], task("w", 2, "n2", swarm.TaskStateRejected, "No such image: reg/spark:1", time.Second)),
			Fail, []string{"spark-worker: 1 of 2 tasks running", "slot 2 on two (10.0.0.2, down) rejected: No such image: reg/spark:1"}},
		{"the job failed",
			[]swarm.Service{service("b", "broker", 1, 1), service("j", "kafka-init", 0, 1), service("w", "spark-worker", 2, 2)},
			append(healthy[:1:1], task("j", 1, "n1", swarm.TaskStateFailed, "task: non-zero exit (1)", time.Second), healthy[3], healthy[4]),
			Fail, []string{"kafka-init failed on one (10.0.0.1, ready): task: non-zero exit (1)"}},
		{"after down",
			nil, nil, Warn, []string{"no swarm service for broker, kafka-init, spark-worker"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := &Env{Stack: stack, Engine: &Engine{API: &fakeEngine{services: tc.services, tasks: tc.tasks, nodes: nodes}}}
			r := checkContainers(context.Background(), env)
			if r.Status != tc.status {
				t.Errorf("status %s, want %s: %s", r.Status, tc.status, r.Message)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.Message, w) {
					t.Errorf("message lacks %q: %s", w, r.Message)
				}
			}
			if d := checkDrift(context.Background(), env); d.Status != Skip {
				t.Errorf("drift on a swarm install: %s %s", d.Status, d.Message)
			}
		})
	}
}

// On a swarm, the home node carries what is pinned to it, and the workers the swarm's nodes:
// a stack too big for one engine passes when the nodes hold it.
func TestSwarmResources(t *testing.T) {
	t.Parallel()
	node := func(gib int64, state swarm.NodeState) swarm.Node {
		return swarm.Node{Spec: swarm.NodeSpec{Availability: swarm.NodeAvailabilityActive},
			Description: swarm.NodeDescription{Resources: swarm.Resources{MemoryBytes: gib << 30, NanoCPUs: 4e9}},
			Status:      swarm.NodeStatus{State: state}}
	}
	plan := Plan{Swarm: true, Workers: 3, SparkCores: 2, Flags: Flags{WorkerCores: "--spark-worker-cores", Memory: []string{"--spark-worker-memory"}},
		Services: []ServiceNeed{
			{Service: "broker", MinMiB: 4096, LimitMiB: 5120},
			{Service: "spark-master", MinMiB: 1024, LimitMiB: 1024},
			{Service: "spark-worker-1", MinMiB: 2048, LimitMiB: 2048, Spread: true},
			{Service: "spark-worker-2", MinMiB: 2048, LimitMiB: 2048, Spread: true},
			{Service: "spark-worker-3", MinMiB: 2048, LimitMiB: 2048, Spread: true},
		}}
	for _, tc := range []struct {
		name   string
		home   int64 // GiB
		nodes  []swarm.Node
		status Status
		want   string
	}{
		{"more than one engine holds, spread over three", 8, []swarm.Node{node(8, swarm.NodeStateReady), node(8, swarm.NodeStateReady), node(8, swarm.NodeStateReady)},
			Pass, "the 3 Spark workers need 6.0 GiB across the swarm's 3 ready nodes, which have 24.0 GiB"},
		{"a node down does not count", 8, []swarm.Node{node(8, swarm.NodeStateReady), node(4, swarm.NodeStateDown)},
			Fail, "add nodes to the swarm"},
		{"the home node too small", 4, []swarm.Node{node(4, swarm.NodeStateReady), node(64, swarm.NodeStateReady)},
			Fail, "the services that run on it need at least 5.0 GiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := &Env{Plan: plan, Engine: &Engine{NCPU: 4, MemTotal: tc.home << 30, API: &fakeEngine{nodes: tc.nodes}}}
			r := checkResources(context.Background(), env)
			if r.Status != tc.status || !strings.Contains(r.Message+" "+r.Fix, tc.want) {
				t.Errorf("%s: %s (fix: %s); want %s with %q", r.Status, r.Message, r.Fix, tc.status, tc.want)
			}
		})
	}
}
