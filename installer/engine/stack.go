package engine

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	cerrdefs "github.com/containerd/errdefs"
	"github.com/dataeco/dataeco/installer/hint"
	"github.com/docker/compose/v5/pkg/api"
	"github.com/docker/compose/v5/pkg/compose"
	"github.com/moby/moby/client"
)

// Stack runs Compose operations on one project in-process, through the Compose library.
type Stack struct {
	Docker  *Docker
	Project *types.Project
	// Builds are the images of the project that dataeco builds rather than pulls.
	Builds []BuildSpec
	// BuildArgs reach every build: the machine's proxy settings, as Docker's predefined
	// arguments (kept out of the images' history).
	BuildArgs map[string]string
	ui        *Progress
	svc       api.Compose
}

// NewStack wires Compose to the engine and to the progress display. Compose's own output
// streams go to out as well: anything it prints is progress, never a result.
func NewStack(d *Docker, out Output, p *types.Project, builds []BuildSpec) (*Stack, error) {
	ui := NewProgress(out, p.Name)
	svc, err := compose.NewComposeService(d.Cli,
		compose.WithStreams(out.W, out.W, strings.NewReader("")),
		compose.WithEventProcessor(ui),
		compose.WithPrompt(func(string, bool) (bool, error) { return false, nil }),
	)
	if err != nil {
		return nil, fmt.Errorf("starting Compose: %w", err)
	}
	return &Stack{Docker: d, Project: adopt(p), Builds: builds, ui: ui, svc: svc}, nil
}

// adopt prepares a project loaded by compose-go for Compose. Compose finds its containers
// again by these labels; its own loader sets them, and ours must, or Up cannot start what it
// created and Down leaves containers behind. Present images are used as they are: tags are
// pinned, so a re-run needs no registry.
func adopt(p *types.Project) *types.Project {
	// As `docker compose` labels them: every file, the user's override included.
	configFile := strings.Join(p.ComposeFiles, ",")
	for name, s := range p.Services {
		s.CustomLabels = map[string]string{
			api.ProjectLabel:     p.Name,
			api.ServiceLabel:     name,
			api.VersionLabel:     api.ComposeVersion,
			api.WorkingDirLabel:  p.WorkingDir,
			api.ConfigFilesLabel: configFile,
			api.OneoffLabel:      "False",
		}
		s.PullPolicy = types.PullPolicyMissing
		p.Services[name] = s
	}
	return p
}

// Pull fetches the images not present yet, and the bases of the images dataeco builds;
// present images are left alone, since every tag is pinned and a re-run must not need a
// registry.
func (s *Stack) Pull(ctx context.Context) error {
	if err := s.svc.Pull(ctx, s.pullable(ctx), api.PullOptions{}); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if lost := s.engineLost(ctx, "pulling images", err); lost != nil {
			return lost
		}
		return hint.Wrap(fmt.Errorf("pulling images: %s", firstLine(err)),
			"check the network; or mirror the images (`dataeco images` lists them) and pass --registry HOST[:PORT]; "+
				"or carry them over in a file: `dataeco images save FILE` where they can be pulled, `dataeco images load FILE` here")
	}
	return nil
}

// pullable is the project as far as pulls go: a service that runs an image dataeco builds
// needs that image's base, unless the built image is already there (loaded from a bundle,
// say).
func (s *Stack) pullable(ctx context.Context) *types.Project {
	p := s.Project.WithServicesDisabled() // a copy
	for _, b := range s.Builds {
		if _, err := s.Docker.API.ImageInspect(ctx, b.Tag); err == nil {
			continue
		}
		for name, svc := range p.Services {
			if svc.Image == b.Tag {
				svc.Image = b.Base
				p.Services[name] = svc
			}
		}
	}
	return p
}

// Up creates and starts the project and waits until every service is ready or one fails,
// each against its own timeout. Unchanged containers are kept as they are: Compose compares
// each service's config hash, so a re-run with the same answers recreates nothing.
func (s *Stack) Up(ctx context.Context, timeout func(service string) time.Duration) error {
	// An image dataeco builds may be gone since the install (a prune): build it again first,
	// or Compose would look for it in a registry.
	if err := s.Build(ctx); err != nil {
		return err
	}
	err := s.up(ctx, timeout)
	if err == nil || ctx.Err() != nil {
		return err
	}
	// Containers the engine can no longer start (see wedgedServices): one more attempt, on new
	// containers and a new network, only when they were the failure.
	wedged, werr := s.wedgedServices(ctx)
	if werr != nil {
		// The engine may have gone since the failure: that is then what to say.
		if lost := s.engineLost(ctx, "starting services", werr); lost != nil {
			return lost
		}
	}
	if werr != nil || len(wedged) == 0 || !failedForWedged(err, wedged) {
		return err
	}
	old := "the old container and still holds its network address"
	if len(wedged) > 1 {
		old = "the old containers and still holds their network addresses"
	}
	s.ui.Line("Recreating " + strings.Join(wedged, ", ") + " and the stack's network: the Docker engine, stopped in the middle of a start, " +
		"can no longer start " + old + "; every service starts again (data volumes are kept)")
	if err := s.Down(ctx, false); err != nil {
		return fmt.Errorf("removing the containers and network the Docker engine left unusable: %w", err)
	}
	return s.up(ctx, timeout)
}

// up is one attempt at Up.
func (s *Stack) up(ctx context.Context, timeout func(string) time.Duration) error {
	p := s.Project
	settled, err := s.settledJobs(ctx)
	if err != nil {
		if lost := s.engineLost(ctx, "starting services", err); lost != nil {
			return lost
		}
		return fmt.Errorf("listing the stack's containers: %w", err)
	}
	if len(settled) > 0 {
		p = withoutJobs(p, settled)
		s.ui.Line("Already done, not run again: " + strings.Join(settled, ", "))
	}
	if err := s.stopDependentsOfDiverged(ctx, p); err != nil {
		return err
	}
	w := newWaiter(s.Docker, p, s.ui, timeout)
	w.snapshot(ctx)
	upCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	upErr := make(chan error, 1)
	go func() {
		// Compose's up, in its two halves: create (which brings every container, network and
		// volume in line with the file), then start, by the launcher: each service as soon as
		// its dependencies are ready (see launcher). Start is left out when, once everything
		// is in line, every service is running and ready already.
		err := s.svc.Create(upCtx, p, api.CreateOptions{RemoveOrphans: true, Recreate: api.RecreateDiverged, RecreateDependencies: api.RecreateDiverged})
		if err == nil && !s.allReady(upCtx, p) {
			l := &launcher{docker: s.Docker, compose: s.svc, project: p, probes: newProber(s.Docker.API), tick: time.Second}
			err = l.run(upCtx)
		}
		upErr <- err
	}()
	w.watchEvents(upCtx)
	err = w.wait(ctx, upErr)
	cancel()
	if err != nil && ctx.Err() == nil {
		// A service's failure too: what a dying engine showed of a container (one it was
		// starting, left "created" with exit code 128) says nothing of the service.
		if lost := s.engineLost(ctx, "starting services", err); lost != nil {
			return lost
		}
	}
	return err
}

// stopDependentsOfDiverged stops, dependents first, every running service that depends on a
// service whose container Compose is about to recreate. Compose recreates in dependency
// order, so a dependency would otherwise go while its dependents still use it: Kafka, whose
// ZooKeeper is recreated under it, cannot close its session, and its successor then finds
// its own broker id still registered and crash-loops until the session expires (seen on the
// real images when --listen changed what both publish). Stopped first, each shuts down
// cleanly; Compose's start brings them back.
func (s *Stack) stopDependentsOfDiverged(ctx context.Context, p *types.Project) error {
	list, err := s.Docker.Containers(ctx, p.Name)
	if err != nil {
		return nil // the create that follows says what is wrong with the engine
	}
	running, diverged := map[string]bool{}, map[string]bool{}
	for _, c := range list {
		name, own := ServiceOf(c)
		svc, ok := p.Services[name]
		if !own || !ok || c.State != "running" {
			continue
		}
		running[name] = true
		if ConfigHash(c) != DefinitionHash(svc) {
			diverged[name] = true
		}
	}
	stop := dependentsOf(p, diverged, running)
	if len(stop) == 0 {
		return nil
	}
	s.ui.Line("Stopping " + strings.Join(stop, ", ") + " first: " + plural(len(stop), "it depends", "they depend") + " on services about to be recreated")
	if err := s.svc.Stop(ctx, p.Name, api.StopOptions{Project: p, Services: stop}); err != nil {
		return fmt.Errorf("stopping %s before recreating what %s: %w", strings.Join(stop, ", "), plural(len(stop), "it depends on", "they depend on"), err)
	}
	return nil
}

// dependentsOf lists, sorted, the running services that depend, directly or not, on one of
// changed.
func dependentsOf(p *types.Project, changed, running map[string]bool) []string {
	var dependsOnChanged func(name string, seen map[string]bool) bool
	dependsOnChanged = func(name string, seen map[string]bool) bool {
		if seen[name] {
			return false
		}
		seen[name] = true
		for dep := range p.Services[name].DependsOn {
			if changed[dep] || dependsOnChanged(dep, seen) {
				return true
			}
		}
		return false
	}
	var out []string
	for name := range running {
		if dependsOnChanged(name, map[string]bool{}) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// allReady says whether every service of p has its one container, made from its definition,
// running and (when it has a healthcheck) healthy: nothing for Compose's start to do.
func (s *Stack) allReady(ctx context.Context, p *types.Project) bool {
	list, err := s.Docker.Containers(ctx, p.Name)
	if err != nil {
		return false
	}
	found := map[string]int{}
	for _, c := range list {
		name, own := ServiceOf(c)
		svc, ok := p.Services[name]
		if !own || !ok {
			continue
		}
		if ConfigHash(c) != DefinitionHash(svc) {
			return false
		}
		ins, err := s.Docker.API.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
		if err != nil {
			return false
		}
		st := ins.Container.State
		if st == nil || !st.Running || st.Restarting || st.Paused {
			return false
		}
		if svc.HealthCheck != nil && !svc.HealthCheck.Disable && (st.Health == nil || st.Health.Status != "healthy") {
			return false
		}
		found[name]++
	}
	for name := range p.Services {
		if found[name] != 1 {
			return false
		}
	}
	return true
}

// engineLost tells a failure caused by the engine going away (stopped, crashed, restarted)
// from one caused by the stack, by asking the engine whether it is still there.
func (s *Stack) engineLost(ctx context.Context, during string, cause error) error {
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := s.Docker.API.Ping(pctx, client.PingOptions{}); err == nil {
		return nil
	}
	return hint.New("start Docker again (`sudo systemctl start docker`, or open Docker Desktop), then run `dataeco install`: "+
		"it picks up where it stopped, and data volumes are kept",
		fmt.Errorf("lost the Docker engine while %s (it stopped or restarted): %s", during, firstLine(cause)))
}

// Stop stops the containers and keeps them, with their data.
func (s *Stack) Stop(ctx context.Context) error {
	return s.svc.Stop(ctx, s.Project.Name, api.StopOptions{Project: s.Project})
}

// Down removes containers and networks; named volumes go only when purge is set.
//
// Images declare VOLUMEs that the stack does not mount (the Confluent images' secrets dirs,
// for one); Docker gives those anonymous volumes, which Compose's down leaves dangling. They
// hold nothing of the user's, so they are removed with their containers, or every
// down/install cycle would leak a few.
func (s *Stack) Down(ctx context.Context, purge bool) error {
	anon, err := s.anonymousVolumes(ctx)
	if err != nil {
		return err
	}
	if err := s.svc.Down(ctx, s.Project.Name, api.DownOptions{Project: s.Project, RemoveOrphans: true, Volumes: purge}); err != nil {
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
func (s *Stack) anonymousVolumes(ctx context.Context) ([]string, error) {
	named := map[string]bool{}
	for _, v := range s.Project.Volumes {
		named[v.Name] = true
	}
	list, err := s.Docker.Containers(ctx, s.Project.Name)
	if err != nil {
		return nil, fmt.Errorf("listing containers: %w", err)
	}
	var out []string
	for _, c := range list {
		for _, m := range c.Mounts {
			if m.Type == "volume" && m.Name != "" && !named[m.Name] {
				out = append(out, m.Name)
			}
		}
	}
	return out, nil
}

// Ps lists the project's containers, stopped ones included, by name.
func (s *Stack) Ps(ctx context.Context) ([]api.ContainerSummary, error) {
	cs, err := s.svc.Ps(ctx, s.Project.Name, api.PsOptions{All: true})
	if err != nil {
		return nil, err
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].Name < cs[j].Name })
	return cs, nil
}

// ServiceImages is the image each service's existing container was created from (running or
// not), as its configuration names it: the list's Image field turns into an ID once the tag
// points elsewhere.
func (s *Stack) ServiceImages(ctx context.Context) (map[string]string, error) {
	cs, err := s.Ps(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing the install's containers: %w", err)
	}
	out := map[string]string{}
	for _, c := range cs {
		ins, err := s.Docker.API.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
		if err != nil {
			if cerrdefs.IsNotFound(err) {
				continue
			}
			return nil, fmt.Errorf("inspecting %s: %w", c.Name, err)
		}
		if ins.Container.Config != nil {
			out[c.Service] = ins.Container.Config.Image
		}
	}
	return out, nil
}

// StartedAt is when a container last started, or the zero time.
func (s *Stack) StartedAt(ctx context.Context, id string) time.Time {
	ins, err := s.Docker.API.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil || ins.Container.State == nil {
		return time.Time{}
	}
	t, _ := time.Parse(time.RFC3339Nano, ins.Container.State.StartedAt)
	return t
}

// Logs streams the services' logs to out.
func (s *Stack) Logs(ctx context.Context, out io.Writer, services []string, follow bool, tail string) error {
	return s.svc.Logs(ctx, s.Project.Name, &logPrinter{w: out}, api.LogOptions{Services: services, Follow: follow, Tail: tail})
}

// logPrinter prefixes each line with its service, like `docker compose logs`.
type logPrinter struct{ w io.Writer }

func (l *logPrinter) Log(container, message string) {
	fmt.Fprintf(l.w, "%s | %s\n", container, message)
}
func (l *logPrinter) Err(container, message string) {
	fmt.Fprintf(l.w, "%s | %s\n", container, message)
}
func (l *logPrinter) Status(string, string) {}

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

// Restart restarts the named services (all of them when none is named) and waits until they
// are ready again, with the same diagnosis as Up when one is not.
func (s *Stack) Restart(ctx context.Context, services []string, timeout func(service string) time.Duration) error {
	p := s.Project
	if len(services) > 0 {
		var err error
		if p, err = p.WithSelectedServices(services, types.IgnoreDependencies); err != nil {
			return err
		}
	}
	// The restart itself returns once every container is started again; only then is a
	// container's state about the new start and not the old one.
	if err := s.svc.Restart(ctx, p.Name, api.RestartOptions{Project: p, Services: services, NoDeps: len(services) > 0}); err != nil {
		if lost := s.engineLost(ctx, "restarting services", err); lost != nil {
			return lost
		}
		return hint.Wrap(fmt.Errorf("restarting: %w", err), "run `dataeco status` to see where the stack stands")
	}
	done := make(chan error, 1)
	done <- nil
	w := newWaiter(s.Docker, p, s.ui, timeout)
	w.watchEvents(ctx)
	return w.wait(ctx, done)
}

// Reset removes the services and the volumes, then brings the stack up again: those
// services come back empty, the others keep running as they were. The paused services (those
// depending on the removed ones) are stopped first and started again by that up once their
// dependencies are back (and healthy, as depends_on asks), so none is left failing against
// what went away.
func (s *Stack) Reset(ctx context.Context, services, volumes, paused []string, timeout func(service string) time.Duration) error {
	if len(paused) > 0 {
		if err := s.svc.Stop(ctx, s.Project.Name, api.StopOptions{Project: s.Project, Services: paused}); err != nil {
			if lost := s.engineLost(ctx, "stopping containers", err); lost != nil {
				return lost
			}
			return hint.Wrap(fmt.Errorf("stopping %s: %w", strings.Join(paused, ", "), err), "run `dataeco status` to see where the stack stands")
		}
	}
	if err := s.svc.Remove(ctx, s.Project.Name, api.RemoveOptions{Project: s.Project, Services: services, Stop: true, Force: true, Volumes: true}); err != nil {
		if lost := s.engineLost(ctx, "removing containers", err); lost != nil {
			return lost
		}
		return hint.Wrap(fmt.Errorf("removing %s: %w", strings.Join(services, ", "), err), "run `dataeco status` to see where the stack stands")
	}
	for _, v := range volumes {
		if _, err := s.Docker.API.VolumeRemove(ctx, v, client.VolumeRemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
			return hint.Wrap(fmt.Errorf("removing volume %s: %w", v, err), "run `docker volume inspect "+v+"` to see what holds it")
		}
	}
	return s.Up(ctx, timeout)
}
