package engine

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/dataeco/dataeco/checks"
	"github.com/dataeco/dataeco/installer/hint"
	"github.com/docker/compose/v5/pkg/api"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// ServiceFailure says which service failed and why, with what was found about it.
type ServiceFailure struct {
	Service   string
	Reason    string
	Diagnosis *checks.Diagnosis
}

func (f *ServiceFailure) Error() string { return fmt.Sprintf("%s %s", f.Service, f.Reason) }

// AsServiceFailure finds a ServiceFailure in err's chain.
func AsServiceFailure(err error) (*ServiceFailure, bool) {
	var f *ServiceFailure
	ok := errors.As(err, &f)
	return f, ok
}

// waiter watches the project's containers while Compose starts them.
type waiter struct {
	docker   *Docker
	project  *types.Project
	ui       *Progress
	timeout  func(service string) time.Duration
	poll     time.Duration
	firstRun map[string]time.Time // by container: a recreated service starts its clock again
	// before holds each container as it was before this start: what it shows then (a job's
	// failure, an OOM kill, an unhealthy status, restarts) is how the last run ended, held
	// against no one until the container has started again.
	before map[string]pastRun
	shown  map[string]string
	hashes map[string]string
	// ready holds each service's readiness as last judged, and depsReady each container's
	// restart count when every service it depends on was first seen ready: a job that fails
	// while the broker it needs is still coming back is waiting, not looping.
	ready     map[string]bool
	depsReady map[string]int
	// up holds, by service, since when its container has been ready: since it started for one
	// running through this start, since first seen ready otherwise. A healthy status older
	// than a dependency's return is stale.
	up map[string]upMark
	// order lists the services dependencies first, so that one look judges a dependency
	// before what needs it.
	order []string
	// composeDone: Compose has started all it was going to, so a job it left as it was
	// is judged by how it ended.
	composeDone bool

	// ooms counts the engine's "oom" events per container, and lastExit keeps the exit code
	// of its last "die". A restarted container's state no longer says OOMKilled nor how it
	// last exited, so polling alone misses both between two looks.
	mu       sync.Mutex
	ooms     map[string]int
	lastExit map[string]int
}

func newWaiter(d *Docker, p *types.Project, ui *Progress, timeout func(string) time.Duration) *waiter {
	return &waiter{docker: d, project: p, ui: ui, timeout: timeout, poll: time.Second,
		firstRun: map[string]time.Time{}, before: map[string]pastRun{}, shown: map[string]string{}, hashes: map[string]string{},
		ready: map[string]bool{}, depsReady: map[string]int{}, up: map[string]upMark{}, order: dependencyOrder(p),
		ooms: map[string]int{}, lastExit: map[string]int{}}
}

// upMark is since when a service's container (id) has been ready.
type upMark struct {
	id string
	at time.Time
}

// dependencyOrder lists the project's services so that each comes after those it depends on.
func dependencyOrder(p *types.Project) []string {
	var order []string
	seen := map[string]bool{}
	var visit func(string)
	visit = func(name string) {
		if seen[name] {
			return
		}
		seen[name] = true
		for dep := range p.Services[name].DependsOn {
			if _, ok := p.Services[dep]; ok {
				visit(dep)
			}
		}
		order = append(order, name)
	}
	for _, name := range p.ServiceNames() {
		visit(name)
	}
	return order
}

// pastRun is a container's last start, as the engine reported it before this one.
type pastRun struct {
	startedAt string
	restarts  int
	// running: it was running then, so how that run ends is news, not a leftover.
	running bool
}

// snapshot records the project's containers as they are before Compose starts anything.
func (w *waiter) snapshot(ctx context.Context) {
	list, err := w.docker.Containers(ctx, w.project.Name)
	if err != nil {
		return
	}
	for _, c := range list {
		if ins, err := w.docker.API.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{}); err == nil && ins.Container.State != nil {
			st := ins.Container.State
			w.before[c.ID] = pastRun{st.StartedAt, ins.Container.RestartCount, st.Running || st.Restarting}
		}
	}
}

// leftover says whether the container has not started since the snapshot: its health, OOM
// flag and restarts are the last run's (a running container stays a leftover until it
// restarts).
func (w *waiter) leftover(c container.InspectResponse) bool {
	past, ok := w.before[c.ID]
	return ok && past.startedAt == c.State.StartedAt
}

// endedBefore says whether the container had already ended its run at the snapshot: how it
// exited is last time's. One running then that has exited since ended in this start.
func (w *waiter) endedBefore(c container.InspectResponse) bool {
	return w.leftover(c) && !w.before[c.ID].running
}

// restartsSince are the restarts of the container since the snapshot.
func (w *waiter) restartsSince(c container.InspectResponse) int {
	return c.RestartCount - w.before[c.ID].restarts
}

// loopRestarts are the restarts that count towards a restart loop: those since every service
// it depends on, directly or not, was ready (a Spark job restarts while the broker killed
// under it comes back, and that is no loop). Once Compose has given up, every restart since the snapshot counts.
func (w *waiter) loopRestarts(svc types.ServiceConfig, c container.InspectResponse, final bool) int {
	if final {
		return w.restartsSince(c)
	}
	base, ok := w.depsReady[c.ID]
	if !ok {
		if !w.dependenciesReady(svc) {
			return 0
		}
		base = max(c.RestartCount, w.before[c.ID].restarts)
		w.depsReady[c.ID] = base
	}
	return c.RestartCount - base
}

// dependenciesReady says whether every service svc depends on, directly or not, is ready:
// cassandra-init done last time says nothing of a Cassandra that was killed since.
func (w *waiter) dependenciesReady(svc types.ServiceConfig) bool {
	for dep := range svc.DependsOn {
		if !w.ready[dep] || !w.dependenciesReady(w.project.Services[dep]) {
			return false
		}
	}
	return true
}

// staleHealth says whether a healthy status, read on a container that ran through this start,
// may be older than the state it vouches for: its last check failed (retries left keep it
// "healthy"), or ran before a service it needs was back. Airflow's scheduler checks every 5s
// with 36 retries, its DAG processor every 30s: both read healthy for minutes after PostgreSQL
// was killed under them, and smoke then found their heartbeats stale (a red CI run). Only a
// check passed since every long-running dependency came back vouches for it.
func (w *waiter) staleHealth(svc types.ServiceConfig, h *container.Health) bool {
	if len(h.Log) == 0 || h.Log[len(h.Log)-1] == nil {
		return false // nothing to date it by
	}
	last := h.Log[len(h.Log)-1]
	if last.ExitCode != 0 {
		return true
	}
	since, ok := w.dependenciesUpSince(svc)
	return !ok || last.Start.Before(since)
}

// dependenciesUpSince is the latest time one of svc's long-running dependencies, directly or
// through one-shot jobs, came up; ok is false while one is not ready. A job run again (Compose
// runs airflow-init at each start) disturbs nothing that was running; what it depends on may.
func (w *waiter) dependenciesUpSince(svc types.ServiceConfig) (since time.Time, ok bool) {
	for dep := range svc.DependsOn {
		d, known := w.project.Services[dep]
		if !known {
			continue
		}
		if !w.ready[dep] {
			return time.Time{}, false
		}
		if d.Restart != types.RestartPolicyNo {
			if at := w.up[dep].at; at.After(since) {
				since = at
			}
		}
		at, depOK := w.dependenciesUpSince(d)
		if !depOK {
			return time.Time{}, false
		}
		if at.After(since) {
			since = at
		}
	}
	return since, true
}

// watchEvents follows the engine's OOM and exit events for the project until ctx ends.
func (w *waiter) watchEvents(ctx context.Context) {
	res := w.docker.API.Events(ctx, client.EventsListOptions{Filters: make(client.Filters).
		Add("type", "container").Add("event", "oom").Add("event", "die").Add("label", api.ProjectLabel+"="+w.project.Name)})
	go func() {
		for {
			select {
			case m, ok := <-res.Messages:
				if !ok {
					return
				}
				w.mu.Lock()
				if m.Action == "oom" {
					w.ooms[m.Actor.ID]++
				} else if code, err := strconv.Atoi(m.Actor.Attributes["exitCode"]); err == nil {
					w.lastExit[m.Actor.ID] = code
				}
				w.mu.Unlock()
			case <-res.Err:
				return
			case <-ctx.Done():
				return
			}
		}
	}()
}

// hash is Compose's hash of a service's definition, computed once.
func (w *waiter) hash(name string, svc types.ServiceConfig) string {
	if h, ok := w.hashes[name]; ok {
		return h
	}
	w.hashes[name] = DefinitionHash(svc)
	return w.hashes[name]
}

func (w *waiter) oomKilled(id string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ooms[id] > 0
}

// exitCode is the container's last exit code: from its state while it is down, else from the
// last "die" the engine reported (a running container's state says 0).
func (w *waiter) exitCode(id string, st *container.State) int {
	if st.Running || st.Restarting {
		w.mu.Lock()
		defer w.mu.Unlock()
		if code, ok := w.lastExit[id]; ok {
			return code
		}
	}
	return st.ExitCode
}

// wait returns nil once Compose has finished and every service is ready; otherwise the first
// failure found, diagnosed.
func (w *waiter) wait(ctx context.Context, upErr <-chan error) error {
	upDone := false
	var composeErr error
	tick := time.NewTicker(w.poll)
	defer tick.Stop()
	for {
		ready, failure, err := w.observe(ctx, false)
		if err != nil && ctx.Err() == nil {
			return hint.Wrap(fmt.Errorf("watching the containers: %w", err), "run `dataeco status` to see where the stack stands")
		}
		if failure != nil {
			return failure
		}
		if upDone {
			if composeErr != nil {
				return composeErr
			}
			if ready {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-upErr:
			upDone = true
			w.composeDone = err == nil
			if err != nil && ctx.Err() == nil {
				// Compose gave up (often "dependency failed to start"); look once more so the
				// user sees which service and why, not only Compose's summary.
				if _, failure, _ := w.observe(ctx, true); failure != nil {
					return failure
				}
				composeErr = hint.Wrap(fmt.Errorf("starting the stack: %w", err), "run `dataeco doctor`, or `dataeco logs SERVICE` for the service named above")
			}
			upErr = nil
		case <-tick.C:
		}
	}
}

// observe looks at every container once. ready means every service is healthy, running
// (no healthcheck) or completed (one-shot jobs).
// final is set after Compose has given up, when any sign of trouble is the answer.
func (w *waiter) observe(ctx context.Context, final bool) (bool, *ServiceFailure, error) {
	list, err := w.docker.Containers(ctx, w.project.Name)
	if err != nil {
		return false, nil, err
	}
	// A service's container is the one made from this definition: while Compose recreates a
	// service, the old container stops and goes, and must not pass for a crash.
	byService := map[string]string{}
	for _, c := range list {
		name, own := ServiceOf(c)
		if svc, ok := w.project.Services[name]; own && ok && ConfigHash(c) == w.hash(name, svc) {
			byService[name] = c.ID
		}
	}
	ready := true
	for _, name := range w.order {
		id, ok := byService[name]
		if !ok {
			w.ready[name] = false
			ready = false
			continue
		}
		ins, err := w.docker.API.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		if err != nil {
			return false, nil, err
		}
		svcReady, failure := w.judge(ctx, name, ins.Container, final)
		if failure != nil {
			return false, failure, nil
		}
		w.ready[name] = svcReady
		if !svcReady {
			delete(w.up, name)
		} else if w.up[name].id != id {
			at := time.Now()
			if started, err := time.Parse(time.RFC3339Nano, ins.Container.State.StartedAt); err == nil && w.leftover(ins.Container) && ins.Container.State.Running {
				at = started
			}
			w.up[name] = upMark{id, at}
		}
		ready = ready && svcReady
	}
	return ready, nil, nil
}

// judge decides about one service's container: ready, failed (and why), or not yet.
func (w *waiter) judge(ctx context.Context, name string, c container.InspectResponse, final bool) (bool, *ServiceFailure) {
	svc := w.project.Services[name]
	st := c.State
	if st == nil {
		return false, nil
	}
	state, reason := w.verdict(name, svc, c, final)
	if reason != "" {
		return false, w.fail(ctx, name, c.ID, reason)
	}
	if st.Running || st.Restarting {
		if _, ok := w.firstRun[c.ID]; !ok {
			w.firstRun[c.ID] = time.Now()
		}
	}
	// Keyed by container too: a recreated service starts over.
	if key := name + "/" + c.ID; w.shown[key] != state {
		w.shown[key] = state
		// Only what the watcher alone can see: health and one-shot results. Creation,
		// start and stop are reported by Compose's own events.
		switch state {
		case "healthy", "completed", "unhealthy":
			w.ui.ServiceState(name, state, "")
		}
	}
	switch state {
	case "healthy", "completed":
		return true, nil
	case "running":
		// A one-shot job is done when it has exited 0, not while it runs.
		if (svc.HealthCheck == nil || svc.HealthCheck.Disable) && svc.Restart != types.RestartPolicyNo {
			return true, nil
		}
	case "unhealthy":
		return false, w.fail(ctx, name, c.ID, "is unhealthy: its healthcheck keeps failing")
	case "not started":
		return false, nil
	}
	if since, ok := w.firstRun[c.ID]; ok && time.Since(since) > w.timeout(name) {
		return false, w.fail(ctx, name, c.ID, fmt.Sprintf("was not ready within %s", w.timeout(name)))
	}
	return false, nil
}

// verdict reads a container's state: what to show, or why it failed.
func (w *waiter) verdict(name string, svc types.ServiceConfig, c container.InspectResponse, final bool) (state, failure string) {
	st := c.State
	past, restarts := w.leftover(c), w.loopRestarts(svc, c, final)
	switch {
	case st.OOMKilled && !past || w.oomKilled(c.ID):
		return "", fmt.Sprintf("was killed for running out of memory (mem_limit %s)", mebibytes(int64(svc.MemLimit)))
	case (restarts >= 2 || restarts >= 1 && final) && !(st.Health != nil && st.Health.Status == "healthy"):
		// A running container's state says exit code 0; the engine's events know better.
		if code := w.exitCode(c.ID, st); code != 0 || !st.Running {
			return "", fmt.Sprintf("is restart-looping (%d restarts, last exit code %d)", restarts, code)
		}
		return "", fmt.Sprintf("is restart-looping (%d restarts)", restarts)
	case final && !st.Running && !st.Restarting && st.Error != "":
		// The engine refused to start it (a port taken, a mount gone): it never ran, so
		// only the engine's own error says why.
		if checks.EngineWedged(st.Error) {
			return "", "cannot be started again: the Docker engine was killed while starting it"
		}
		return "", "could not be started by the Docker engine"
	case svc.Restart == types.RestartPolicyNo && st.Status == "exited":
		if w.endedBefore(c) && !final && !w.composeDone {
			return "not started", "" // how it ended last time; Compose runs it again
		}
		if st.ExitCode != 0 {
			return "", fmt.Sprintf("failed with exit code %d", st.ExitCode)
		}
		return "completed", ""
	case st.Restarting:
		// Between two runs the engine reads the health of a container that exited as
		// "unhealthy", whatever its check said: that is the crash, which the restart count
		// above judges, not a failing check.
		return "restarting", ""
	case st.Status == "exited" || st.Status == "dead":
		if _, started := w.firstRun[c.ID]; started {
			return "", fmt.Sprintf("exited with code %d", st.ExitCode)
		}
		return "not started", ""
	case st.Health != nil:
		// Unhealthy since the last run (a dependency it lost, say) is not this start's
		// failure: the container may recover now, within its timeout.
		if st.Health.Status == "starting" || st.Health.Status == "unhealthy" && past {
			return "started", ""
		}
		if st.Health.Status == "healthy" && past && w.staleHealth(svc, st.Health) {
			return "started", ""
		}
		return string(st.Health.Status), ""
	}
	return string(st.Status), ""
}

func (w *waiter) fail(ctx context.Context, service, id, reason string) *ServiceFailure {
	w.ui.ServiceState(service, "failed", reason)
	// The caller's context may be on its way out; the diagnosis still deserves a few seconds.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	d, err := checks.DiagnoseContainer(dctx, w.docker.API, id)
	if err != nil {
		d = &checks.Diagnosis{Error: err.Error()}
	}
	if w.oomKilled(id) {
		d.OOMKilled = true
	}
	w.mu.Lock()
	if code, ok := w.lastExit[id]; ok && d.ExitCode == 0 && d.State != "exited" {
		d.ExitCode = code // its state, read while running, says 0
	}
	w.mu.Unlock()
	return &ServiceFailure{Service: service, Reason: reason, Diagnosis: d}
}

// mebibytes writes a byte count the way mem_limit takes it: 512m, 2g.
func mebibytes(n int64) string {
	m := n >> 20
	if m > 0 && m%1024 == 0 {
		return fmt.Sprintf("%dg", m/1024)
	}
	return fmt.Sprintf("%dm", m)
}
