package engine

import (
	"slices"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
)

// TestMet: each depends_on condition against what the launcher knows of the dependency. A
// dependency is never met before its own start has returned in this launch, whatever its
// container says (it may be last run's).
func TestMet(t *testing.T) {
	t.Parallel()
	running := depState{started: true, running: true}
	healthy := depState{started: true, running: true, healthy: true}
	for _, tt := range []struct {
		name      string
		condition string
		hasCheck  bool
		state     depState
		want      bool
	}{
		{"healthy, not started in this launch", types.ServiceConditionHealthy, true, depState{running: true, healthy: true}, false},
		{"healthy, running, check not passed", types.ServiceConditionHealthy, true, running, false},
		{"healthy, check passed", types.ServiceConditionHealthy, true, healthy, true},
		{"healthy, passed but no longer running", types.ServiceConditionHealthy, true, depState{started: true, healthy: true, exited: true}, false},
		{"healthy, no healthcheck, running", types.ServiceConditionHealthy, false, running, true},
		{"completed, still running", types.ServiceConditionCompletedSuccessfully, false, running, false},
		{"completed, exit 0", types.ServiceConditionCompletedSuccessfully, false, depState{started: true, exited: true}, true},
		{"completed, exit 2", types.ServiceConditionCompletedSuccessfully, false, depState{started: true, exited: true, code: 2}, false},
		{"started", types.ServiceConditionStarted, false, depState{started: true}, true},
		{"started, not yet", types.ServiceConditionStarted, false, depState{}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := met(tt.condition, tt.hasCheck, tt.state); got != tt.want {
				t.Errorf("met = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestLauncherReady: a service waits for every dependency of the rendered file, and a missing
// optional one is not waited for.
func TestLauncherReady(t *testing.T) {
	t.Parallel()
	p := loadDefault(t, nil)
	l := &launcher{project: p}
	healthy := depState{started: true, running: true, healthy: true}
	done := depState{started: true, exited: true}
	if l.ready("broker", map[string]depState{}) {
		t.Error("broker ready before ZooKeeper started")
	}
	if !l.ready("broker", map[string]depState{"zookeeper": healthy}) {
		t.Error("broker not ready with ZooKeeper healthy")
	}
	if !l.ready("zookeeper", nil) {
		t.Error("ZooKeeper, which depends on nothing, not ready")
	}
	// spark-stream: the broker and Spark's master healthy, the topic and keyspace jobs done.
	deps := map[string]depState{}
	for dep, cfg := range p.Services["spark-stream"].DependsOn {
		if cfg.Condition == types.ServiceConditionCompletedSuccessfully {
			deps[dep] = done
		} else {
			deps[dep] = healthy
		}
	}
	if !l.ready("spark-stream", deps) {
		t.Errorf("spark-stream not ready with %v", deps)
	}
	for dep := range deps {
		partial := map[string]depState{}
		for k, v := range deps {
			if k != dep {
				partial[k] = v
			}
		}
		if l.ready("spark-stream", partial) {
			t.Errorf("spark-stream ready without %s", dep)
		}
	}

	q := alone(p, "spark-stream")
	q.Services["spark-stream"] = withDep(q.Services["spark-stream"], "gone", types.ServiceDependency{Condition: types.ServiceConditionHealthy, Required: false})
	if !(&launcher{project: q}).ready("spark-stream", nil) {
		t.Error("an optional dependency outside the project is waited for")
	}
	q.Services["spark-stream"] = withDep(q.Services["spark-stream"], "gone", types.ServiceDependency{Condition: types.ServiceConditionHealthy, Required: true})
	if (&launcher{project: q}).ready("spark-stream", nil) {
		t.Error("a required dependency outside the project is not waited for")
	}
}

// TestLauncherAwaited: only a service that something still to start waits for, healthy, is
// worth probing.
func TestLauncherAwaited(t *testing.T) {
	t.Parallel()
	l := &launcher{project: loadDefault(t, nil)}
	for _, tt := range []struct {
		name    string
		pending []string
		want    bool
	}{
		{"zookeeper", []string{"broker"}, true},
		{"zookeeper", nil, false},                       // everything started
		{"broker", []string{"kafka-init"}, true},        // the topic job waits for a healthy broker
		{"kafka-init", []string{"spark-stream"}, false}, // waited for, but to complete, not healthy
		{"airflow-apiserver", []string{"spark-stream"}, false},
		{"cassandra", []string{"airflow-scheduler"}, false},
	} {
		pending := map[string]bool{}
		for _, p := range tt.pending {
			pending[p] = true
		}
		if got := l.awaited(tt.name, pending); got != tt.want {
			t.Errorf("awaited(%s, pending %v) = %v, want %v", tt.name, tt.pending, got, tt.want)
		}
	}
}

func withDep(s types.ServiceConfig, name string, d types.ServiceDependency) types.ServiceConfig {
	s.DependsOn = types.DependsOnConfig{name: d}
	return s
}

// TestAlone: Compose's Start gets one service and no dependencies to wait for, and the
// project the launcher holds is left as it was.
func TestAlone(t *testing.T) {
	t.Parallel()
	p := loadDefault(t, nil)
	q := alone(p, "broker")
	if names := q.ServiceNames(); !slices.Equal(names, []string{"broker"}) {
		t.Errorf("services %v, want [broker]", names)
	}
	if len(q.Services["broker"].DependsOn) != 0 {
		t.Errorf("broker still depends on %v", q.Services["broker"].DependsOn)
	}
	if len(p.Services["broker"].DependsOn) == 0 || len(p.Services) < 2 {
		t.Error("alone changed the launcher's project")
	}
	if q.Name != p.Name {
		t.Errorf("project %q, want %q", q.Name, p.Name)
	}
}

// TestProbeCommand: the healthcheck's test as the engine would run it.
func TestProbeCommand(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		hc   *types.HealthCheckConfig
		want []string
	}{
		{"none", nil, nil},
		{"disabled", &types.HealthCheckConfig{Test: []string{"CMD", "true"}, Disable: true}, nil},
		{"NONE", &types.HealthCheckConfig{Test: []string{"NONE"}}, nil},
		{"CMD", &types.HealthCheckConfig{Test: []string{"CMD", "cub", "kafka-ready", "1"}}, []string{"cub", "kafka-ready", "1"}},
		{"CMD-SHELL", &types.HealthCheckConfig{Test: []string{"CMD-SHELL", "echo srvr | nc localhost 2181"}}, []string{"/bin/sh", "-c", "echo srvr | nc localhost 2181"}},
		{"CMD-SHELL without a command", &types.HealthCheckConfig{Test: []string{"CMD-SHELL"}}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := probeCommand(tt.hc); !slices.Equal(got, tt.want) {
				t.Errorf("probeCommand = %q, want %q", got, tt.want)
			}
		})
	}
	// Every healthcheck of the rendered file runs as a probe.
	for name, svc := range loadDefault(t, nil).Services {
		if svc.HealthCheck != nil && !svc.HealthCheck.Disable && probeCommand(svc.HealthCheck) == nil {
			t.Errorf("%s: healthcheck %q gives no probe", name, svc.HealthCheck.Test)
		}
	}
}

// TestProbeGap: cheap checks are probed often, costly ones no more than half the time, and
// never less often than the engine checks.
func TestProbeGap(t *testing.T) {
	t.Parallel()
	const minGap, interval = 250 * time.Millisecond, 10 * time.Second
	for _, tt := range []struct {
		took, want time.Duration
	}{
		{5 * time.Millisecond, minGap},
		{50 * time.Millisecond, minGap}, // 4 × 50 ms is less
		{2 * time.Second, 8 * time.Second},
		{3 * time.Second, interval},
		{30 * time.Second, interval},
	} {
		if got := probeGap(tt.took, minGap, interval); got != tt.want {
			t.Errorf("probeGap(%s) = %s, want %s", tt.took, got, tt.want)
		}
	}
}

// TestProbePassed: a pass counts for the run it was seen in only.
func TestProbePassed(t *testing.T) {
	t.Parallel()
	p := newProber(nil)
	p.passed["c1"] = "2026-12-02T10:00:00Z"
	if !p.Passed("c1", "2026-12-02T10:00:00Z") {
		t.Error("a pass in this run is not seen")
	}
	if p.Passed("c1", "2026-12-02T10:05:00Z") {
		t.Error("a pass of the last run counts after a restart")
	}
	var none *prober
	if none.Passed("c1", "x") || none.Passes() != nil {
		t.Error("a nil prober passes something")
	}
}
