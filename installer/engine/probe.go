package engine

import (
	"context"
	"sync"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/client"
)

// prober runs a service's own healthcheck command in its container, through the engine's
// exec API, from the moment the container runs until the command passes once or the
// engine's health says healthy. Engine 20.10 runs the first check one whole interval after
// the start (start_interval needs Engine 25), so a dependent would otherwise wait up to an
// interval per level of the dependency chain for a service that was ready long before.
// What ready means does not change: the same command, the same user, the same environment.
type prober struct {
	api client.APIClient
	// minGap is the shortest wait between two probes of one container. Each exec starts a
	// runc process (tens of milliseconds of CPU between the engine, the shim and runc), so
	// half a second, not less: the start-ups being waited for need the cores more.
	minGap time.Duration

	mu sync.Mutex
	// passed holds, by container, the start (State.StartedAt) its probe passed in: a
	// container that restarts since must pass again.
	passed map[string]string
	// watching holds the containers with a probe loop, by the start it watches.
	watching map[string]string
	// passes are signalled (without blocking) when a probe passes.
	passes []chan struct{}
}

func newProber(api client.APIClient) *prober {
	return &prober{api: api, minGap: 500 * time.Millisecond, passed: map[string]string{}, watching: map[string]string{}}
}

// Passes returns a channel that is signalled each time a probe passes (a pass while the
// last signal is still unread merges with it). Nil for a nil prober: never signalled.
func (p *prober) Passes() <-chan struct{} {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	ch := make(chan struct{}, 1)
	p.passes = append(p.passes, ch)
	return ch
}

// Passed says whether the container's probe passed during its current run.
func (p *prober) Passed(id, startedAt string) bool {
	if p == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	at, ok := p.passed[id]
	return ok && at == startedAt
}

// Watch starts probing the container's run that began at startedAt, once: a later call for
// the same run does nothing. The loop ends with ctx, when the probe passes, when the engine
// reports the container healthy, or when the container stops running.
func (p *prober) Watch(ctx context.Context, id, startedAt string, hc *types.HealthCheckConfig) {
	cmd := probeCommand(hc)
	if cmd == nil {
		return
	}
	p.mu.Lock()
	if p.watching[id] == startedAt {
		p.mu.Unlock()
		return
	}
	p.watching[id] = startedAt
	p.mu.Unlock()
	go p.loop(ctx, id, startedAt, cmd, hc)
}

func (p *prober) loop(ctx context.Context, id, startedAt string, cmd []string, hc *types.HealthCheckConfig) {
	timeout := 30 * time.Second // the engine's default
	if hc.Timeout != nil && *hc.Timeout > 0 {
		timeout = time.Duration(*hc.Timeout)
	}
	interval := 30 * time.Second
	if hc.Interval != nil && *hc.Interval > 0 {
		interval = time.Duration(*hc.Interval)
	}
	for {
		ins, err := p.api.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		if err != nil {
			return
		}
		st := ins.Container.State
		if st == nil || !st.Running || st.Restarting || st.StartedAt != startedAt ||
			st.Health != nil && st.Health.Status == "healthy" {
			return
		}
		began := time.Now()
		ok, err := p.run(ctx, id, cmd, timeout)
		if err != nil && ctx.Err() != nil {
			return
		}
		if ok {
			p.mu.Lock()
			p.passed[id] = startedAt
			for _, ch := range p.passes {
				select {
				case ch <- struct{}{}:
				default:
				}
			}
			p.mu.Unlock()
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(probeGap(time.Since(began), p.minGap, interval)):
		}
	}
}

// run execs the command once and says whether it exited 0 within timeout. A command that
// overruns is left to end on its own (the exec API cannot kill it), and no other probe of
// the container starts before the next gap: at most one is ever in flight per container.
func (p *prober) run(ctx context.Context, id string, cmd []string, timeout time.Duration) (bool, error) {
	created, err := p.api.ExecCreate(ctx, id, client.ExecCreateOptions{Cmd: cmd})
	if err != nil {
		return false, err
	}
	if _, err := p.api.ExecStart(ctx, created.ID, client.ExecStartOptions{Detach: true}); err != nil {
		return false, err
	}
	deadline := time.Now().Add(timeout)
	for {
		ins, err := p.api.ExecInspect(ctx, created.ID, client.ExecInspectOptions{})
		if err != nil {
			return false, err
		}
		if !ins.Running {
			return ins.ExitCode == 0, nil
		}
		if time.Now().After(deadline) {
			return false, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// probeCommand is the healthcheck's test as an exec command, or nil when the service has no
// healthcheck to run. CMD-SHELL runs through /bin/sh -c, as the engine runs it.
func probeCommand(hc *types.HealthCheckConfig) []string {
	if hc == nil || hc.Disable || len(hc.Test) == 0 {
		return nil
	}
	switch hc.Test[0] {
	case "CMD":
		if len(hc.Test) > 1 {
			return hc.Test[1:]
		}
	case "CMD-SHELL":
		if len(hc.Test) > 1 {
			return []string{"/bin/sh", "-c", hc.Test[1]}
		}
	case "NONE":
	default:
		return []string{"/bin/sh", "-c", hc.Test[0]}
	}
	return nil
}

// probeGap is the wait before the next probe. A cheap check (nc, curl, psql: milliseconds)
// runs again after minGap; an expensive one (a JVM or Python process, seconds of CPU) waits
// four times as long as it took, so probing takes at most a fifth of a core from the start-up
// it waits for. Measured on the real images (docs/performance.md): with a pause only as long
// as the check, cqlsh probes took half a core from Cassandra's first start, the critical
// path, and the whole install ended 5 s later than Compose's. Never longer than the
// healthcheck's own interval: by then the engine checks too.
func probeGap(took, minGap, interval time.Duration) time.Duration {
	return min(max(probeCost*took, minGap), interval)
}

// probeCost is the pause after an expensive probe, in multiples of the time it took.
const probeCost = 4
