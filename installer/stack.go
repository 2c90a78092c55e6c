package installer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	cerrdefs "github.com/containerd/errdefs"
	"github.com/dataeco/dataeco/checks"
	"github.com/docker/compose/v5/pkg/api"
	"github.com/docker/compose/v5/pkg/compose"
	"github.com/moby/moby/client"
)

// Stack runs Compose operations for one project in-process, through the Compose library.
type Stack struct {
	Docker  *Docker
	Project string
	ui      *Progress
	svc     api.Compose
}

// NewStack wires Compose to the engine and to the progress UI. Compose's own output streams
// are routed to stderr: anything it prints is progress, never a result.
func NewStack(d *Docker, streams *IOStreams, project string) (*Stack, error) {
	ui := NewProgress(streams, project)
	svc, err := compose.NewComposeService(d.Cli,
		compose.WithStreams(streams.ErrOut, streams.ErrOut, strings.NewReader("")),
		compose.WithEventProcessor(ui),
		compose.WithPrompt(func(string, bool) (bool, error) { return false, nil }),
	)
	if err != nil {
		return nil, fmt.Errorf("starting Compose: %w", err)
	}
	return &Stack{Docker: d, Project: project, ui: ui, svc: svc}, nil
}

// Pull fetches the images not present yet; present images are left alone, since every tag is
// pinned and a re-run must not need a registry.
func (s *Stack) Pull(ctx context.Context, p *types.Project) error {
	if err := s.svc.Pull(ctx, p, api.PullOptions{}); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if lost := s.engineLost(ctx, "pulling images", err); lost != nil {
			return lost
		}
		return WithHint(fmt.Errorf("pulling images: %s", firstLine(err)),
			"check the network; or mirror the images (`dataeco images` lists them) and pass --registry HOST[:PORT]; "+
				"or carry them over in a file: `dataeco images save FILE` where they can be pulled, `dataeco images load FILE` here")
	}
	return nil
}

// Up creates and starts the project and waits until every service is ready or one fails,
// each against its own timeout. Unchanged containers are kept as they are: Compose compares
// each service's config hash, so a re-run with the same answers recreates nothing.
func (s *Stack) Up(ctx context.Context, p *types.Project, timeout time.Duration) error {
	err := s.up(ctx, p, timeout)
	if err == nil || ctx.Err() != nil {
		return err
	}
	// Containers the engine can no longer start (see removeWedged) go whatever failed; one
	// more attempt only when they were the failure.
	wedged, rerr := s.removeWedged(ctx, p.Name)
	if rerr != nil || len(wedged) == 0 || !failedForWedged(err, wedged) {
		return err
	}
	s.ui.line("Recreating " + strings.Join(wedged, ", ") + ": the Docker engine, stopped in the middle of a start, can no longer start the old container (data volumes are kept)")
	return s.up(ctx, p, timeout)
}

// up is one attempt at Up.
func (s *Stack) up(ctx context.Context, p *types.Project, timeout time.Duration) error {
	settled, err := s.settledJobs(ctx, p)
	if err != nil {
		if lost := s.engineLost(ctx, "starting services", err); lost != nil {
			return lost
		}
		return fmt.Errorf("listing the stack's containers: %w", err)
	}
	if len(settled) > 0 {
		p = withoutJobs(p, settled)
		s.ui.line("Already done, not run again: " + strings.Join(settled, ", "))
	}
	upCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	upErr := make(chan error, 1)
	go func() {
		upErr <- s.svc.Up(upCtx, p, api.UpOptions{
			Create: api.CreateOptions{RemoveOrphans: true, Recreate: api.RecreateDiverged, RecreateDependencies: api.RecreateDiverged, QuietPull: false},
			Start:  api.StartOptions{Project: p},
		})
	}()
	w := newWaiter(s.Docker.API, p, s.ui, timeout)
	w.watchOOM(upCtx)
	err = w.wait(ctx, upErr)
	cancel()
	if err != nil && ctx.Err() == nil {
		if _, failed := asServiceFailure(err); !failed {
			if lost := s.engineLost(ctx, "starting services", err); lost != nil {
				return lost
			}
		}
	}
	return err
}

// engineLost tells a failure caused by the engine going away (stopped, crashed, restarted)
// from one caused by the stack, by asking the engine whether it is still there.
func (s *Stack) engineLost(ctx context.Context, during string, cause error) error {
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := s.Docker.API.Ping(pctx, client.PingOptions{}); err == nil {
		return nil
	}
	return &Error{Code: ExitFailure,
		Err: fmt.Errorf("lost the Docker engine while %s (it stopped or restarted): %s", during, firstLine(cause)),
		Hint: "start Docker again (`sudo systemctl start docker`, or open Docker Desktop), then run `dataeco install`: " +
			"it picks up where it stopped, and data volumes are kept"}
}

// Stop stops the containers and keeps them, with their data.
func (s *Stack) Stop(ctx context.Context, p *types.Project) error {
	return s.svc.Stop(ctx, s.Project, api.StopOptions{Project: p})
}

// Down removes containers and networks; named volumes go only when purge is set.
//
// Images declare VOLUMEs that the stack does not mount (the Confluent images' secrets dirs,
// for one); Docker gives those anonymous volumes, which Compose's down leaves dangling. They
// hold nothing of the user's, so they are removed with their containers, or every
// down/install cycle would leak a few.
func (s *Stack) Down(ctx context.Context, p *types.Project, purge bool) error {
	anon, err := s.anonymousVolumes(ctx, p)
	if err != nil {
		return err
	}
	if err := s.svc.Down(ctx, s.Project, api.DownOptions{Project: p, RemoveOrphans: true, Volumes: purge}); err != nil {
		return err
	}
	for _, v := range anon {
		if _, err := s.Docker.API.VolumeRemove(ctx, v, client.VolumeRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
			return fmt.Errorf("removing anonymous volume %s: %w", v, err)
		}
	}
	return nil
}

// anonymousVolumes lists the volumes mounted in the project's containers that are not among
// the project's named volumes.
func (s *Stack) anonymousVolumes(ctx context.Context, p *types.Project) ([]string, error) {
	named := map[string]bool{}
	for _, v := range p.Volumes {
		named[v.Name] = true
	}
	list, err := s.Docker.API.ContainerList(ctx, client.ContainerListOptions{All: true,
		Filters: make(client.Filters).Add("label", api.ProjectLabel+"="+s.Project)})
	if err != nil {
		return nil, fmt.Errorf("listing containers: %w", err)
	}
	var out []string
	for _, c := range list.Items {
		for _, m := range c.Mounts {
			if m.Type == "volume" && m.Name != "" && !named[m.Name] {
				out = append(out, m.Name)
			}
		}
	}
	return out, nil
}

// Ps lists the project's containers, stopped ones included.
func (s *Stack) Ps(ctx context.Context) ([]api.ContainerSummary, error) {
	cs, err := s.svc.Ps(ctx, s.Project, api.PsOptions{All: true})
	if err != nil {
		return nil, err
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].Name < cs[j].Name })
	return cs, nil
}

// Logs streams the services' logs to out.
func (s *Stack) Logs(ctx context.Context, out io.Writer, services []string, follow bool, tail string) error {
	return s.svc.Logs(ctx, s.Project, &logPrinter{w: out}, api.LogOptions{Services: services, Follow: follow, Tail: tail})
}

// logPrinter prefixes each line with its service, like `docker compose logs`.
type logPrinter struct{ w io.Writer }

func (l *logPrinter) Log(container, message string) {
	fmt.Fprintf(l.w, "%s | %s\n", container, message)
}
func (l *logPrinter) Err(container, message string) {
	fmt.Fprintf(l.w, "%s | %s\n", container, message)
}
func (l *logPrinter) Status(container, message string) {}

// serviceTimeout is how long a service may take from its container starting to being ready.
// The slow starters are the JVMs with a lot to do at first start, and Airflow's migration.
func serviceTimeout(service string) time.Duration {
	switch {
	case service == "airflow-init":
		return 10 * time.Minute
	case service == "cassandra", service == "control-center", strings.HasPrefix(service, "airflow-"):
		return 5 * time.Minute
	case service == "broker", service == "schema-registry":
		return 3 * time.Minute
	default:
		return 2 * time.Minute
	}
}

// ServiceFailure says which service failed and why, with what was found about it.
type ServiceFailure struct {
	Service   string
	Reason    string
	Diagnosis *checks.Diagnosis
}

func (f *ServiceFailure) Error() string { return fmt.Sprintf("%s %s", f.Service, f.Reason) }

// waiter watches the project's containers while Compose starts them.
type waiter struct {
	api      client.APIClient
	project  *types.Project
	ui       *Progress
	override time.Duration
	poll     time.Duration
	firstRun map[string]time.Time
	shown    map[string]string

	// ooms counts the engine's "oom" events per container. A restarted container's state no
	// longer says OOMKilled, so polling alone misses kills between two looks.
	mu   sync.Mutex
	ooms map[string]int
}

// watchOOM follows the engine's OOM events for the project until ctx ends.
func (w *waiter) watchOOM(ctx context.Context) {
	res := w.api.Events(ctx, client.EventsListOptions{Filters: make(client.Filters).
		Add("type", "container").Add("event", "oom").Add("label", api.ProjectLabel+"="+w.project.Name)})
	go func() {
		for {
			select {
			case m, ok := <-res.Messages:
				if !ok {
					return
				}
				w.mu.Lock()
				w.ooms[m.Actor.ID]++
				w.mu.Unlock()
			case <-res.Err:
				return
			case <-ctx.Done():
				return
			}
		}
	}()
}

func (w *waiter) oomKilled(id string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ooms[id] > 0
}

func newWaiter(c client.APIClient, p *types.Project, ui *Progress, override time.Duration) *waiter {
	return &waiter{api: c, project: p, ui: ui, override: override, poll: time.Second,
		firstRun: map[string]time.Time{}, shown: map[string]string{}, ooms: map[string]int{}}
}

func (w *waiter) timeout(service string) time.Duration {
	if w.override > 0 {
		return w.override
	}
	return serviceTimeout(service)
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
			return WithHint(fmt.Errorf("watching the containers: %w", err), "run `dataeco status` to see where the stack stands")
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
			if err != nil && ctx.Err() == nil {
				// Compose gave up (often "dependency failed to start"); look once more so the
				// user sees which service and why, not only Compose's summary.
				if _, failure, _ := w.observe(ctx, true); failure != nil {
					return failure
				}
				composeErr = WithHint(fmt.Errorf("starting the stack: %w", err), "run `dataeco doctor`, or `dataeco logs SERVICE` for the service named above")
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
	list, err := w.api.ContainerList(ctx, client.ContainerListOptions{All: true,
		Filters: make(client.Filters).Add("label", api.ProjectLabel+"="+w.project.Name)})
	if err != nil {
		return false, nil, err
	}
	byService := map[string]string{}
	for _, c := range list.Items {
		if c.Labels[api.OneoffLabel] == "True" {
			continue
		}
		byService[c.Labels[api.ServiceLabel]] = c.ID
	}
	ready := true
	for _, name := range w.project.ServiceNames() {
		svc := w.project.Services[name]
		id, ok := byService[name]
		if !ok {
			ready = false
			continue
		}
		ins, err := w.api.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		if err != nil {
			return false, nil, err
		}
		c := ins.Container
		st := c.State
		if st == nil {
			ready = false
			continue
		}
		oneShot := svc.Restart == "no"
		state := string(st.Status)
		switch {
		case st.OOMKilled || w.oomKilled(id):
			return false, w.fail(ctx, name, id, fmt.Sprintf("was killed for running out of memory (mem_limit %s)", Size(svc.MemLimit>>20))), nil
		case (c.RestartCount >= 2 || c.RestartCount >= 1 && final) && !(st.Health != nil && st.Health.Status == "healthy"):
			// A running container's exit code is reset, so report it only while it is down.
			reason := fmt.Sprintf("is restart-looping (%d restarts)", c.RestartCount)
			if !st.Running {
				reason = fmt.Sprintf("is restart-looping (%d restarts, last exit code %d)", c.RestartCount, st.ExitCode)
			}
			return false, w.fail(ctx, name, id, reason), nil
		case final && !st.Running && !st.Restarting && st.Error != "":
			// The engine refused to start it (a port taken, a mount gone): it never ran, so
			// only the engine's own error says why.
			reason := "could not be started by the Docker engine"
			if checks.EngineWedged(st.Error) {
				reason = "cannot be started again: the Docker engine was killed while starting it"
			}
			return false, w.fail(ctx, name, id, reason), nil
		case oneShot && st.Status == "exited":
			if st.ExitCode != 0 {
				return false, w.fail(ctx, name, id, fmt.Sprintf("failed with exit code %d", st.ExitCode)), nil
			}
			state = "completed"
		case st.Status == "exited" || st.Status == "dead":
			if _, started := w.firstRun[name]; started {
				return false, w.fail(ctx, name, id, fmt.Sprintf("exited with code %d", st.ExitCode)), nil
			}
			ready = false
		case st.Health != nil:
			state = string(st.Health.Status)
			if state == "starting" {
				state = "started"
			}
		}
		if st.Running || st.Restarting {
			if _, ok := w.firstRun[name]; !ok {
				w.firstRun[name] = time.Now()
			}
		}
		// Keyed by container too: a recreated service starts over.
		if key := name + "/" + id; w.shown[key] != state {
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
			continue
		case "running":
			if svc.HealthCheck == nil || svc.HealthCheck.Disable {
				continue
			}
		case "unhealthy":
			return false, w.fail(ctx, name, id, "is unhealthy: its healthcheck keeps failing"), nil
		}
		ready = false
		if since, ok := w.firstRun[name]; ok && time.Since(since) > w.timeout(name) {
			return false, w.fail(ctx, name, id, fmt.Sprintf("was not ready within %s", w.timeout(name))), nil
		}
	}
	return ready, nil, nil
}

func (w *waiter) fail(ctx context.Context, service, id, reason string) *ServiceFailure {
	w.ui.ServiceState(service, "failed", reason)
	// The caller's context may be on its way out; the diagnosis still deserves a few seconds.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	d, err := checks.DiagnoseContainer(dctx, w.api, id)
	if err != nil {
		d = &checks.Diagnosis{Error: err.Error()}
	}
	if w.oomKilled(id) {
		d.OOMKilled = true
	}
	return &ServiceFailure{Service: service, Reason: reason, Diagnosis: d}
}

// asServiceFailure finds a ServiceFailure in err's chain.
func asServiceFailure(err error) (*ServiceFailure, bool) {
	var f *ServiceFailure
	ok := errors.As(err, &f)
	return f, ok
}

func inspectOpts() client.ContainerInspectOptions { return client.ContainerInspectOptions{} }

// firstLine keeps one line of a joined error: Compose repeats the same registry failure once
// per image, and the per-image lines were already shown as progress.
func firstLine(err error) string {
	msg := strings.TrimSpace(err.Error())
	lines := strings.Split(msg, "\n")
	if len(lines) > 1 {
		return fmt.Sprintf("%s (and %d more)", lines[0], len(lines)-1)
	}
	return msg
}
