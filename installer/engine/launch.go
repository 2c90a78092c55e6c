package engine

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker/compose/v5/pkg/api"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// launcher is the start half of Compose's up, in dependency order, with readiness read the
// way the prober sees it: each service starts through Compose's own Start (hooks, secrets,
// events and labels as Compose does them) as soon as every service it depends on meets the
// depends_on condition, a healthcheck having passed either in the engine or in the prober.
// Compose's own start would wait for the engine's first check, one interval after the
// dependency started, and poll it every half second.
type launcher struct {
	docker  *Docker
	compose api.Compose
	project *types.Project
	probes  *prober
	tick    time.Duration
}

// depState is what the launcher knows of a dependency's container.
type depState struct {
	started bool // its Start has returned in this launch
	running bool
	exited  bool
	code    int
	healthy bool // the engine's health, or the prober's
}

// met says whether a dependency in this state satisfies a depends_on condition, as Compose
// reads it: started once Start returned, healthy once a check passed, completed once it
// exited 0. A dependency without a healthcheck counts as healthy when it runs.
func met(condition string, hasCheck bool, d depState) bool {
	if !d.started {
		return false
	}
	switch condition {
	case types.ServiceConditionCompletedSuccessfully:
		return d.exited && d.code == 0
	case types.ServiceConditionHealthy:
		if !hasCheck {
			return d.running
		}
		return d.running && d.healthy
	default: // service_started
		return true
	}
}

// alone is the project narrowed to one service with no dependencies, for Compose's Start:
// the launcher has already waited for them.
func alone(p *types.Project, name string) *types.Project {
	q := *p
	svc := p.Services[name]
	svc.DependsOn = nil
	q.Services = types.Services{name: svc}
	q.DisabledServices = nil
	return &q
}

type startDone struct {
	service string
	err     error
}

// run starts every service of the project once its dependencies are ready, and returns when
// every Start has returned, or at the first that failed. It looks again whenever a probe
// passes or the engine reports a container's start, exit or health, and at least every tick.
// Probes already running go on under ctx after it returns, each until its first pass.
func (l *launcher) run(ctx context.Context) error {
	pending := map[string]bool{}
	for name := range l.project.Services {
		pending[name] = true
	}
	started := map[string]bool{}
	done := make(chan startDone, len(pending))
	inFlight := 0
	tick := time.NewTicker(l.tick)
	defer tick.Stop()
	res := l.docker.API.Events(ctx, client.EventsListOptions{Filters: make(client.Filters).
		Add("type", "container").Add("event", "start").Add("event", "die").Add("event", "health_status").
		Add("label", api.ProjectLabel+"="+l.project.Name)})
	events, eventErr := res.Messages, res.Err
	passes := l.probes.Passes()
	for len(pending) > 0 || inFlight > 0 {
		if len(pending) > 0 {
			states, err := l.states(ctx, started, pending)
			if err != nil {
				return err
			}
			for _, name := range slices.Sorted(maps.Keys(pending)) {
				if !l.ready(name, states) {
					continue
				}
				delete(pending, name)
				inFlight++
				go func() {
					done <- startDone{name, l.compose.Start(ctx, l.project.Name, api.StartOptions{Project: alone(l.project, name)})}
				}()
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case d := <-done:
			inFlight--
			if d.err != nil {
				return fmt.Errorf("starting %s: %w", d.service, d.err)
			}
			started[d.service] = true
			// Probe it at once: its dependents wait for nothing else.
			if _, err := l.states(ctx, started, pending); err != nil {
				return err
			}
		case <-passes:
		case _, ok := <-events:
			if !ok {
				events = nil // the tick goes on alone
			}
		case <-eventErr:
			events, eventErr = nil, nil
		case <-tick.C:
		}
	}
	return nil
}

// ready says whether every dependency of the service meets its condition. An optional
// dependency that is not part of the project is not waited for.
func (l *launcher) ready(name string, states map[string]depState) bool {
	for dep, cfg := range l.project.Services[name].DependsOn {
		svc, ok := l.project.Services[dep]
		if !ok {
			if cfg.Required {
				return false
			}
			continue
		}
		if !met(cfg.Condition, probeCommand(svc.HealthCheck) != nil, states[dep]) {
			return false
		}
	}
	return true
}

// states reads the containers of the services started so far (one list, one inspect each)
// and sets a probe on each running one whose health is not known yet and that a service
// still to start waits for. A service nothing waits on is left to the engine's checks: the
// install ends on those anyway, and on the real images probes of such services (Airflow's,
// the streaming job's) only took CPU from the start-ups on the critical path.
func (l *launcher) states(ctx context.Context, started, pending map[string]bool) (map[string]depState, error) {
	states := map[string]depState{}
	if len(started) == 0 {
		return states, nil
	}
	list, err := l.docker.Containers(ctx, l.project.Name)
	if err != nil {
		return nil, err
	}
	for _, c := range list {
		name, own := ServiceOf(c)
		svc, ok := l.project.Services[name]
		if !own || !ok || !started[name] || ConfigHash(c) != DefinitionHash(svc) {
			continue
		}
		ins, err := l.docker.API.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
		if err != nil {
			return nil, err
		}
		st := ins.Container.State
		if st == nil {
			continue
		}
		d := readState(st)
		d.healthy = d.healthy || l.probes.Passed(c.ID, st.StartedAt)
		if d.running && !d.healthy && l.awaited(name, pending) {
			l.probes.Watch(ctx, c.ID, st.StartedAt, svc.HealthCheck)
		}
		states[name] = d
	}
	return states, nil
}

// awaited says whether a service still to start waits for this one to be healthy.
func (l *launcher) awaited(name string, pending map[string]bool) bool {
	for p := range pending {
		if cfg, ok := l.project.Services[p].DependsOn[name]; ok && cfg.Condition == types.ServiceConditionHealthy {
			return true
		}
	}
	return false
}

// readState is a started container's state as the launcher needs it.
func readState(st *container.State) depState {
	return depState{started: true, running: st.Running && !st.Restarting, exited: st.Status == "exited", code: st.ExitCode,
		healthy: st.Health != nil && st.Health.Status == "healthy"}
}
