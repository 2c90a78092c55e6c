package engine

import (
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
)

// TestJobVerdict: how a one-shot job's exited container reads depends on whether it ran
// since the snapshot. One that had ended before is last time's (Compose runs it again) until
// Compose is done; one that was running at the snapshot ended in this start.
func TestJobVerdict(t *testing.T) {
	t.Parallel()
	p := loadDefault(t, nil)
	svc := p.Services["cassandra-init"]
	const started = "2026-12-01T04:00:00Z"
	for _, tt := range []struct {
		name        string
		before      *pastRun // nil: made by this start
		exitCode    int
		composeDone bool
		final       bool
		state, fail string
	}{
		{"made by this start, exit 0", nil, 0, false, false, "completed", ""},
		{"made by this start, exit 3", nil, 3, false, false, "", "failed with exit code 3"},
		{"ended before, Compose still going", &pastRun{startedAt: started}, 3, false, false, "not started", ""},
		{"ended before, Compose done without running it", &pastRun{startedAt: started}, 0, true, false, "completed", ""},
		{"ended before, Compose gave up", &pastRun{startedAt: started}, 3, false, true, "", "failed with exit code 3"},
		{"running at the snapshot, ended since", &pastRun{startedAt: started, running: true}, 0, false, false, "completed", ""},
		{"running at the snapshot, failed since", &pastRun{startedAt: started, running: true}, 1, false, false, "", "failed with exit code 1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWaiter(nil, p, nil, nil)
			w.composeDone = tt.composeDone
			c := container.InspectResponse{ID: "c1", State: &container.State{Status: "exited", ExitCode: tt.exitCode, StartedAt: started}}
			if tt.before != nil {
				w.before["c1"] = *tt.before
			}
			state, fail := w.verdict("cassandra-init", svc, c, tt.final)
			if state != tt.state || fail != tt.fail {
				t.Errorf("verdict = %q, %q; want %q, %q", state, fail, tt.state, tt.fail)
			}
		})
	}
}

// TestLeftoverUnhealthy: a container running at the snapshot and unhealthy since before it
// (a dependency it lost, killed and now started again) is given its time to recover; one made
// by this start that turns unhealthy has failed.
func TestLeftoverUnhealthy(t *testing.T) {
	t.Parallel()
	p := loadDefault(t, nil)
	svc := p.Services["airflow-triggerer"]
	const started = "2026-12-01T04:00:00Z"
	for _, tt := range []struct {
		name   string
		before *pastRun
		want   string
	}{
		{"running and unhealthy before this start", &pastRun{startedAt: started, running: true, restarts: 1}, "started"},
		{"made by this start", nil, "unhealthy"},
	} {
		w := newWaiter(nil, p, nil, nil)
		if tt.before != nil {
			w.before["c1"] = *tt.before
		}
		c := container.InspectResponse{ID: "c1", State: &container.State{Status: "running", Running: true, StartedAt: started,
			Health: &container.Health{Status: "unhealthy"}}}
		c.RestartCount = 1
		if state, fail := w.verdict("airflow-triggerer", svc, c, false); state != tt.want || fail != "" {
			t.Errorf("%s: verdict = %q, %q; want %q", tt.name, state, fail, tt.want)
		}
	}
}

// TestCrashReadsUnhealthy: a container the restart policy is bringing back after a crash
// reads "unhealthy" (the engine's doing, not its check's); it is a restart loop once the
// count says so, never a failing healthcheck (CI's red TestIntegrationFailureDiagnosis/restart_loop,
// where the watcher's first look came after the first restart).
func TestCrashReadsUnhealthy(t *testing.T) {
	t.Parallel()
	p := loadDefault(t, nil)
	svc := p.Services["zookeeper"]
	w := newWaiter(nil, p, nil, nil)
	look := func(restarts int) (string, string) {
		c := container.InspectResponse{ID: "c1", State: &container.State{Status: "restarting", Restarting: true, ExitCode: 3,
			StartedAt: "2026-12-01T04:00:00Z", Health: &container.Health{Status: "unhealthy"}}}
		c.RestartCount = restarts
		return w.verdict("zookeeper", svc, c, false)
	}
	if state, fail := look(1); state != "restarting" || fail != "" {
		t.Errorf("first look, 1 restart: verdict = %q, %q; want restarting and no failure", state, fail)
	}
	if _, fail := look(3); !strings.Contains(fail, "restart-looping") {
		t.Errorf("two restarts later: failure %q, want a restart loop", fail)
	}
}

// TestRestartsWhileDependenciesComeBack: a service that restarts while a service it depends
// on is not ready (the Spark job, its broker killed under it) is waiting, not looping; only
// restarts after every dependency is ready count, unless Compose has given up. Dependencies
// count through the chain: cassandra-init done last time does not make Cassandra ready.
func TestRestartsWhileDependenciesComeBack(t *testing.T) {
	t.Parallel()
	p := loadDefault(t, nil)
	svc := p.Services["spark-stream"]
	const started = "2026-12-01T04:00:00Z"
	for _, tt := range []struct {
		name string
		// restarts: the container's count at each look; depsReady: whether every dependency
		// was ready before that look.
		restarts  []int
		depsReady []bool
		final     bool
		fail      bool
	}{
		{"loops with its dependencies ready", []int{0, 1, 2}, []bool{true, true, true}, false, true},
		{"restarts while they come back", []int{1, 2, 3}, []bool{false, false, false}, false, false},
		{"then starts cleanly", []int{2, 3, 3}, []bool{false, false, true}, false, false},
		{"then loops once they are back", []int{2, 3, 5}, []bool{false, true, true}, false, true},
		{"Compose gave up", []int{2}, []bool{false}, true, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWaiter(nil, p, nil, nil)
			w.before["c1"] = pastRun{startedAt: "2026-12-01T03:00:00Z", running: true}
			var fail string
			for i, n := range tt.restarts {
				// Its direct dependencies are done or healthy; Cassandra, behind
				// cassandra-init, is what comes and goes.
				for name := range p.Services {
					w.ready[name] = true
				}
				w.ready["cassandra"] = tt.depsReady[i]
				c := container.InspectResponse{ID: "c1", State: &container.State{Status: "running", Running: true, StartedAt: started,
					Health: &container.Health{Status: "starting"}}}
				c.RestartCount = n
				_, fail = w.verdict("spark-stream", svc, c, tt.final)
			}
			if (fail != "") != tt.fail {
				t.Errorf("verdict after %v restarts = %q, want a failure: %v", tt.restarts, fail, tt.fail)
			}
		})
	}
}

// TestStaleHealth: a container that ran through this start reads healthy only on a check
// that passed since every long-running service it needs came back. Airflow's scheduler
// still read healthy after PostgreSQL was killed and started again, and smoke found its
// heartbeat stale (a red CI run). Jobs run again (airflow-init) disturb nothing.
func TestStaleHealth(t *testing.T) {
	t.Parallel()
	p := loadDefault(t, nil)
	svc := p.Services["airflow-scheduler"]
	const started = "2026-12-01T04:00:00Z"
	base := time.Date(2026, 12, 1, 4, 0, 0, 0, time.UTC)
	at := func(min int) time.Time { return base.Add(time.Duration(min) * time.Minute) }
	for _, tt := range []struct {
		name          string
		leftover      bool
		postgresUp    time.Time // zero: PostgreSQL not ready
		initUp        time.Time // when airflow-init was seen done
		check         time.Time // the last check's start
		checkExitCode int
		want          string
	}{
		{"no-op start: PostgreSQL up since before the last check", true, at(-10), at(5), at(1), 0, "healthy"},
		{"PostgreSQL not back yet", true, time.Time{}, at(5), at(1), 0, "started"},
		{"PostgreSQL back after the last check", true, at(3), at(5), at(1), 0, "started"},
		{"a check passed since PostgreSQL came back", true, at(3), at(5), at(4), 0, "healthy"},
		{"the last check failed, retries left", true, at(-10), at(5), at(4), 1, "started"},
		{"made by this start", false, at(3), at(5), at(1), 0, "healthy"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWaiter(nil, p, nil, nil)
			if tt.leftover {
				w.before["c1"] = pastRun{startedAt: started, running: true}
			}
			for name := range p.Services {
				w.ready[name] = true
				w.up[name] = upMark{"x", at(-20)}
			}
			w.ready["postgres"] = !tt.postgresUp.IsZero()
			w.up["postgres"] = upMark{"pg", tt.postgresUp}
			w.up["airflow-init"] = upMark{"init", tt.initUp}
			c := container.InspectResponse{ID: "c1", State: &container.State{Status: "running", Running: true, StartedAt: started,
				Health: &container.Health{Status: "healthy", Log: []*container.HealthcheckResult{
					{Start: tt.check.Add(-time.Minute), End: tt.check.Add(-time.Minute), ExitCode: 0},
					{Start: tt.check, End: tt.check.Add(time.Second), ExitCode: tt.checkExitCode}}}}}
			if state, fail := w.verdict("airflow-scheduler", svc, c, false); state != tt.want || fail != "" {
				t.Errorf("verdict = %q, %q; want %q", state, fail, tt.want)
			}
		})
	}
}

// TestDependencyOrder: one look judges each service after those it depends on.
func TestDependencyOrder(t *testing.T) {
	t.Parallel()
	p := loadDefault(t, nil)
	order := dependencyOrder(p)
	if len(order) != len(p.Services) {
		t.Fatalf("order has %d services, the project %d", len(order), len(p.Services))
	}
	pos := map[string]int{}
	for i, name := range order {
		pos[name] = i
	}
	for name, svc := range p.Services {
		for dep := range svc.DependsOn {
			if pos[dep] > pos[name] {
				t.Errorf("%s comes before %s, which it depends on", name, dep)
			}
		}
	}
}
