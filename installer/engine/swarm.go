package engine

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/dataeco/dataeco/checks"
	"github.com/dataeco/dataeco/installer/hint"
	"github.com/docker/cli/cli/command"
	"github.com/docker/cli/cli/compose/convert"
	"github.com/docker/cli/cli/compose/loader"
	composetypes "github.com/docker/cli/cli/compose/types"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	"github.com/moby/moby/client/pkg/versions"
)

// A swarm install is driven through the engine's swarm API with the docker CLI's own stack
// code: its loader reads the stack file dataeco renders and its converter turns each service
// into a swarm service spec, as `docker stack deploy` does. What `docker stack deploy` does
// not do, dataeco does here: it creates each service only when what it depends on is ready
// (swarm ignores depends_on), waits for readiness with per-service limits, and says which
// task failed where.

// SwarmDep is one start condition: a service ready (its tasks running, which under swarm
// means healthy when the service has a check) or, for a job, completed.
type SwarmDep struct {
	Service   string
	Completed bool
}

// Swarm is one stack on the swarm the engine manages.
type Swarm struct {
	Docker *Docker
	// Namespace is the stack's name: the project name, as the services' prefix and label.
	Namespace convert.Namespace
	Config    *composetypes.Config
	// Deps are each service's start conditions.
	Deps map[string][]SwarmDep
	// JobLabel is the service label that marks a one-shot job (a swarm job, or a service of
	// one replica on an older engine): done when its task completes.
	JobLabel string
	dir      string // the install dir, on each service (DirLabel)
	ui       *Progress
	poll     time.Duration
}

// SwarmHome is the ID of the node the engine runs on, when it is a manager of an active
// swarm: what a swarm install needs.
func (d *Docker) SwarmHome() (string, error) {
	s := d.Info.Swarm
	switch {
	case s.LocalNodeState != swarm.LocalNodeStateActive:
		return "", hint.New("run `docker swarm init` on this engine (then `docker swarm join` on the others), or install without --swarm",
			fmt.Errorf("the engine at %s is not part of a swarm (state %q)", d.Host, s.LocalNodeState))
	case !s.ControlAvailable:
		return "", hint.New("point DOCKER_HOST (or the docker context) at a manager of the swarm (`docker node ls` there lists the managers)",
			fmt.Errorf("the engine at %s is a swarm worker; only a manager can deploy services", d.Host))
	}
	return s.NodeID, nil
}

// SwarmNode is one node of the swarm, as placing services needs it.
type SwarmNode struct {
	ID, Hostname, Addr string
	// Usable: ready and active, so swarm may start a task there now.
	Usable bool
	// Manager: the node takes part in running the swarm; Engine is its Docker Engine version.
	Manager bool
	Engine  string
}

// SwarmNodes lists the swarm's nodes.
func (d *Docker) SwarmNodes(ctx context.Context) ([]SwarmNode, error) {
	nodes, err := d.API.NodeList(ctx, client.NodeListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing the swarm's nodes: %w", err)
	}
	var out []SwarmNode
	for _, n := range nodes.Items {
		out = append(out, SwarmNode{ID: n.ID, Hostname: n.Description.Hostname, Addr: n.Status.Addr,
			Usable:  n.Status.State == swarm.NodeStateReady && n.Spec.Availability == swarm.NodeAvailabilityActive,
			Manager: n.Spec.Role == swarm.NodeRoleManager, Engine: n.Description.Engine.EngineVersion})
	}
	return out, nil
}

// SwarmJobsEngine is the first Engine whose swarm manager removes a swarm job's tasks, and
// their containers on the nodes, with its service (moby/swarmkit#3112, for moby/moby#44312).
const SwarmJobsEngine = "24.0"

// SwarmJobs says whether the swarm of these nodes may run the one-shot jobs as swarm jobs:
// whether every manager runs SwarmJobsEngine or later, since leadership can move to any of
// them and the leader's orchestrator is the one that removes a job's tasks.
func SwarmJobs(nodes []SwarmNode) bool {
	managers := 0
	for _, n := range nodes {
		if !n.Manager {
			continue
		}
		managers++
		if versions.LessThan(n.Engine, SwarmJobsEngine) {
			return false
		}
	}
	return managers > 0
}

// LoadSwarm reads a stack file with the docker CLI's loader, which validates it against the
// stack file schema. The file's values are final (interpolated when rendered), so the loader
// substitutes nothing.
func LoadSwarm(d *Docker, out Output, namespace string, file []byte, workingDir string, deps map[string][]SwarmDep, jobLabel string) (*Swarm, error) {
	dict, err := loader.ParseYAML(file)
	if err != nil {
		return nil, fmt.Errorf("reading the stack file: %w", err)
	}
	cfg, err := loader.Load(composetypes.ConfigDetails{
		WorkingDir:  workingDir,
		ConfigFiles: []composetypes.ConfigFile{{Filename: "stack.yaml", Config: dict}},
		Environment: map[string]string{},
	}, func(o *loader.Options) { o.SkipInterpolation = true })
	if err != nil {
		return nil, fmt.Errorf("loading the stack file: %w", err)
	}
	return &Swarm{Docker: d, Namespace: convert.NewNamespace(namespace), Config: cfg, Deps: deps, JobLabel: jobLabel,
		dir: workingDir, ui: NewProgress(out, namespace), poll: time.Second}, nil
}

func (s *Swarm) filter() client.Filters {
	return make(client.Filters).Add("label", convert.LabelNamespace+"="+s.Namespace.Name())
}

// PushBuilds puts the images dataeco built under the tags the nodes pull them by, in the
// registry: tags maps the local tag to the registry one.
func (s *Swarm) PushBuilds(ctx context.Context, tags map[string]string) error {
	for _, local := range slices.Sorted(maps.Keys(tags)) {
		remote := tags[local]
		if _, err := s.Docker.API.ImageTag(ctx, client.ImageTagOptions{Source: local, Target: remote}); err != nil {
			return fmt.Errorf("tagging %s as %s: %w", local, remote, err)
		}
		auth, err := command.RetrieveAuthTokenFromImage(s.Docker.Cli.ConfigFile(), remote)
		if err != nil {
			return err
		}
		s.ui.Line(fmt.Sprintf("pushing %s for the swarm's nodes", remote))
		resp, err := s.Docker.API.ImagePush(ctx, remote, client.ImagePushOptions{RegistryAuth: auth})
		if err == nil {
			err = resp.Wait(ctx)
		}
		if err != nil {
			return hint.Wrap(fmt.Errorf("pushing %s: %w", remote, err),
				"the swarm's nodes pull the images dataeco builds from --registry: it must take pushes from this engine (`docker login` it when it needs a login)")
		}
	}
	return nil
}

// Deploy creates or updates the stack's networks, configs and services, each service once
// its dependencies are ready, and waits until every service is ready or one fails. timeout
// is how long a service may take from its first task starting.
func (s *Swarm) Deploy(ctx context.Context, timeout func(service string) time.Duration) error {
	api := s.Docker.API
	networks, _ := convert.Networks(s.Namespace, s.Config.Networks, map[string]struct{}{"default": {}})
	existing, err := api.NetworkList(ctx, client.NetworkListOptions{Filters: s.filter()})
	if err != nil {
		return fmt.Errorf("listing the stack's networks: %w", err)
	}
	have := map[string]bool{}
	for _, n := range existing.Items {
		have[n.Name] = true
	}
	for _, name := range slices.Sorted(maps.Keys(networks)) {
		if have[name] {
			continue
		}
		opts := networks[name]
		if opts.Driver == "" {
			opts.Driver = "overlay"
		}
		if _, err := api.NetworkCreate(ctx, name, opts); err != nil {
			return fmt.Errorf("creating network %s: %w", name, err)
		}
	}
	configs, err := convert.Configs(s.Namespace, s.Config.Configs)
	if err != nil {
		return err
	}
	for _, c := range configs {
		// Named by content: one that exists already is this one.
		if _, err := api.ConfigCreate(ctx, client.ConfigCreateOptions{Spec: c}); err != nil && !cerrdefs.IsConflict(err) && !cerrdefs.IsAlreadyExists(err) {
			return fmt.Errorf("creating config %s: %w", c.Name, err)
		}
	}
	specs, err := convert.Services(ctx, s.Namespace, s.Config, api)
	if err != nil {
		return err
	}
	if err := s.deployInOrder(ctx, specs, timeout); err != nil {
		return err
	}
	if err := s.pruneServices(ctx, specs); err != nil {
		return err
	}
	return s.pruneConfigs(ctx)
}

// pruneServices removes the stack's services the stack file no longer has (a component
// dropped, fewer brokers or Cassandra nodes), as `docker stack deploy --prune` does. Their
// volumes stay, as Compose keeps an orphan's.
func (s *Swarm) pruneServices(ctx context.Context, specs map[string]swarm.ServiceSpec) error {
	current, err := s.Docker.API.ServiceList(ctx, client.ServiceListOptions{Filters: s.filter()})
	if err != nil {
		return fmt.Errorf("listing the stack's services: %w", err)
	}
	keep := map[string]bool{}
	for _, spec := range specs {
		keep[spec.Name] = true // scoped: project_service
	}
	for _, svc := range current.Items {
		if keep[svc.Spec.Name] {
			continue
		}
		if _, err := s.Docker.API.ServiceRemove(ctx, svc.ID, client.ServiceRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
			return fmt.Errorf("removing service %s, no longer in the stack: %w", svc.Spec.Name, err)
		}
		s.ui.ServiceState(strings.TrimPrefix(svc.Spec.Name, s.Namespace.Name()+"_"), "removed", "no longer in the stack")
	}
	return nil
}

// pruneConfigs removes the stack's configs no service uses any more (a file's old content).
func (s *Swarm) pruneConfigs(ctx context.Context) error {
	list, err := s.Docker.API.ConfigList(ctx, client.ConfigListOptions{Filters: s.filter()})
	if err != nil {
		return err
	}
	used := map[string]bool{}
	for name := range s.Config.Configs {
		used[s.Namespace.Scope(name)] = true
	}
	for _, c := range list.Items {
		if !used[c.Spec.Name] {
			_, _ = s.Docker.API.ConfigRemove(ctx, c.ID, client.ConfigRemoveOptions{})
		}
	}
	return nil
}

// progress of one service through a deploy.
type swarmWatch struct {
	id       string
	created  time.Time
	since    time.Time // tasks from before it count for nothing (zero: the service is unchanged)
	started  time.Time // the first task seen starting; the service's timeout counts from it
	job      bool
	replicas uint64
	digest   string // of the current task definition (taskLabel)
	force    uint64 // the current force counter: a restart's tasks carry the new one
	state    string
}

func (s *Swarm) deployInOrder(ctx context.Context, specs map[string]swarm.ServiceSpec, timeout func(string) time.Duration) error {
	api := s.Docker.API
	current, err := api.ServiceList(ctx, client.ServiceListOptions{Filters: s.filter()})
	if err != nil {
		return fmt.Errorf("listing the stack's services: %w", err)
	}
	byName := map[string]swarm.Service{}
	for _, svc := range current.Items {
		byName[svc.Spec.Name] = svc
	}
	watch := map[string]*swarmWatch{}
	names := slices.Sorted(maps.Keys(specs))
	for {
		for _, name := range names {
			if watch[name] != nil || !s.depsReady(name, watch) {
				continue
			}
			w, err := s.apply(ctx, name, specs[name], byName)
			if err != nil {
				return err
			}
			watch[name] = w
		}
		pending := 0
		for _, name := range names {
			w := watch[name]
			if w == nil {
				pending++
				continue
			}
			if w.state == "ready" {
				continue
			}
			pending++
			if err := s.observe(ctx, name, w, timeout(name)); err != nil {
				return err
			}
		}
		if pending == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(s.poll):
		}
	}
}

func (s *Swarm) depsReady(name string, watch map[string]*swarmWatch) bool {
	for _, d := range s.Deps[name] {
		w := watch[d.Service]
		if w == nil || w.state != "ready" {
			return false
		}
	}
	return true
}

// apply creates the service or updates it to the spec; an unchanged spec starts nothing new.
func (s *Swarm) apply(ctx context.Context, name string, spec swarm.ServiceSpec, existing map[string]swarm.Service) (*swarmWatch, error) {
	api := s.Docker.API
	auth, err := command.RetrieveAuthTokenFromImage(s.Docker.Cli.ConfigFile(), spec.TaskTemplate.ContainerSpec.Image)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	w := &swarmWatch{created: now, since: now, job: s.isJob(spec.Annotations.Labels)}
	if spec.Mode.Replicated != nil && spec.Mode.Replicated.Replicas != nil {
		w.replicas = *spec.Mode.Replicated.Replicas
	}
	svc, ok := existing[spec.Name]
	if ok {
		// Read afresh: a service created before this deploy changes version on its own when
		// swarm records the end of an update, and an update needs the latest.
		res, err := api.ServiceInspect(ctx, svc.ID, client.ServiceInspectOptions{})
		if err != nil {
			return nil, fmt.Errorf("inspecting service %s: %w", spec.Name, err)
		}
		svc = res.Service
		// As `docker stack deploy`: keep the force counter, or every deploy restarts all.
		spec.TaskTemplate.ForceUpdate = svc.Spec.TaskTemplate.ForceUpdate
		if isSwarmJob(svc.Spec.Mode) != isSwarmJob(spec.Mode) {
			// Swarm changes no service's mode in place: a one-shot job becomes a swarm job
			// (the engine was upgraded) by being created anew, and runs once more.
			if err := s.removeService(ctx, svc); err != nil {
				return nil, err
			}
			ok = false
		}
	}
	// Digests of what is deployed: the engine fills in defaults, so comparing specs would see
	// changes where there are none. The task's (what its containers run) is in each task's
	// container labels, so a job's current run is known by it; the service's (the task's,
	// its replicas, its labels) on the service, so a deploy that changes nothing is known.
	// Changing only the replicas leaves the tasks' definition, so swarm adds or removes tasks
	// and restarts none. The force counter is left out: a restart bumps it, and is no change
	// of definition.
	spec.Labels = withLabel(spec.Labels, DirLabel, s.dir)
	task := spec.TaskTemplate
	task.ForceUpdate = 0
	if w.digest, err = digestOf(task); err != nil {
		return nil, err
	}
	spec.TaskTemplate.ContainerSpec.Labels = withLabel(spec.TaskTemplate.ContainerSpec.Labels, taskLabel, w.digest)
	w.force = spec.TaskTemplate.ForceUpdate
	whole := spec
	whole.TaskTemplate.ForceUpdate = 0
	digest, err := digestOf(whole)
	if err != nil {
		return nil, err
	}
	spec.Labels = withLabel(spec.Labels, specLabel, digest)
	if ok && svc.Spec.Labels[specLabel] == digest {
		// Nothing changed: nothing to update, and what runs (or ran) stands.
		w.id, w.since = svc.ID, time.Time{}
		return w, nil
	}
	if ok {
		if _, err := api.ServiceUpdate(ctx, svc.ID, client.ServiceUpdateOptions{Version: svc.Version, Spec: spec, EncodedRegistryAuth: auth}); err != nil {
			return nil, fmt.Errorf("updating service %s: %w", spec.Name, err)
		}
		w.id = svc.ID
		s.ui.ServiceState(name, "updated", "")
		return w, nil
	}
	res, err := api.ServiceCreate(ctx, client.ServiceCreateOptions{Spec: spec, EncodedRegistryAuth: auth})
	if err != nil {
		return nil, fmt.Errorf("creating service %s: %w", spec.Name, err)
	}
	w.id = res.ID
	s.ui.ServiceState(name, "created", "")
	return w, nil
}

func isSwarmJob(m swarm.ServiceMode) bool { return m.ReplicatedJob != nil || m.GlobalJob != nil }

// removeService removes one service and waits until swarm has deleted it (which it does once
// its tasks are gone), so that its name is free again.
func (s *Swarm) removeService(ctx context.Context, svc swarm.Service) error {
	api := s.Docker.API
	if _, err := api.ServiceRemove(ctx, svc.ID, client.ServiceRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("removing service %s: %w", svc.Spec.Name, err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		_, err := api.ServiceInspect(ctx, svc.ID, client.ServiceInspectOptions{})
		switch {
		case cerrdefs.IsNotFound(err):
			return nil
		case err != nil:
			return fmt.Errorf("inspecting service %s: %w", svc.Spec.Name, err)
		case time.Now().After(deadline):
			return fmt.Errorf("service %s was still on the swarm 2 minutes after its removal", svc.Spec.Name)
		}
		if err := sleep(ctx, s.poll); err != nil {
			return err
		}
	}
}

// DirLabel names, on each service of a swarm install, the install dir it was deployed from
// (as Compose's working-dir label does on a container).
const DirLabel = "io.dataeco.dir"

// specLabel carries the digest of the spec dataeco deployed a service with; taskLabel, on
// each task's containers, that of the task's definition.
const (
	specLabel = "io.dataeco.spec-digest"
	taskLabel = "io.dataeco.task-digest"
)

func digestOf(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%x", sha256.Sum256(b)), nil
}

func withLabel(labels map[string]string, key, value string) map[string]string {
	out := maps.Clone(labels)
	if out == nil {
		out = map[string]string{}
	}
	out[key] = value
	return out
}

// observe looks at a service's tasks once: ready, still on its way, or failed.
func (s *Swarm) observe(ctx context.Context, name string, w *swarmWatch, limit time.Duration) error {
	api := s.Docker.API
	tasks, err := api.TaskList(ctx, client.TaskListOptions{Filters: make(client.Filters).Add("service", w.id)})
	if err != nil {
		return fmt.Errorf("listing the tasks of %s: %w", name, err)
	}

	var running, complete, failed uint64
	var lastErr string
	var waiting string
	for _, t := range tasks.Items {
		// A task of the current definition runs what was deployed: its digest and force
		// counter are the service's. During a rolling update the tasks of the one before
		// still run, meant to, and do not count. A job's task is meant to shut down once it
		// has completed, so only its definition tells the current run from an earlier one (a
		// deploy that changed nothing runs no new task, and the last run stands).
		current := t.Spec.ContainerSpec != nil && t.Spec.ContainerSpec.Labels[taskLabel] == w.digest && t.Spec.ForceUpdate == w.force
		if w.job && !current || !w.job && t.DesiredState != swarm.TaskStateRunning && t.Status.Timestamp.Before(w.since) {
			continue
		}
		switch t.Status.State {
		case swarm.TaskStateRunning:
			if t.DesiredState == swarm.TaskStateRunning && current {
				running++
			}
		case swarm.TaskStateComplete:
			complete++
		case swarm.TaskStateFailed, swarm.TaskStateRejected:
			if t.Status.Timestamp.After(w.created) || w.job {
				failed++
				lastErr = checks.TaskError(t)
			}
		case swarm.TaskStatePending:
			if t.Status.Err != "" && time.Since(w.created) > 30*time.Second {
				waiting = t.Status.Err
			}
		}
		if w.started.IsZero() && stateReached(t.Status.State, swarm.TaskStateStarting) {
			w.started = time.Now()
		}
	}
	fail := func(reason string) error {
		s.ui.ServiceState(name, "failed", "")
		return &ServiceFailure{Service: name, Reason: reason}
	}
	switch {
	case w.job && complete > 0 && running == 0:
		w.state = "ready"
		s.ui.ServiceState(name, "completed", "")
		return nil
	case !w.job && w.replicas > 0 && running >= w.replicas:
		w.state = "ready"
		s.ui.ServiceState(name, "healthy", fmt.Sprintf("%d/%d tasks", running, w.replicas))
		return nil
	case failed > 3:
		return fail(fmt.Sprintf("failed %d times on the swarm: %s", failed, lastErr))
	case waiting != "":
		return fail("cannot be placed on any node: " + waiting)
	case !w.started.IsZero() && time.Since(w.started) > limit:
		return fail(fmt.Sprintf("was not ready %s after its first task started (%d/%d running)", limit, running, w.replicas))
	case w.started.IsZero() && time.Since(w.created) > limit+10*time.Minute:
		return fail("had no task started after " + (limit + 10*time.Minute).String() + " (pulling its image on a node?)")
	}
	if w.state == "" && !w.started.IsZero() {
		w.state = "started"
		s.ui.ServiceState(name, "started", "")
	}
	return nil
}

// stateReached says whether a task in state got at least as far as want.
func stateReached(state, want swarm.TaskState) bool {
	order := []swarm.TaskState{swarm.TaskStateNew, swarm.TaskStateAllocated, swarm.TaskStatePending, swarm.TaskStateAssigned,
		swarm.TaskStateAccepted, swarm.TaskStatePreparing, swarm.TaskStateReady, swarm.TaskStateStarting, swarm.TaskStateRunning,
		swarm.TaskStateComplete, swarm.TaskStateShutdown, swarm.TaskStateFailed, swarm.TaskStateRejected}
	return slices.Index(order, state) >= slices.Index(order, want)
}

// SwarmTask is one task of a service as status shows it.
type SwarmTask struct {
	Slot  int    `json:"slot,omitempty"`
	Node  string `json:"node"`
	State string `json:"state"`
	Error string `json:"error,omitempty"`
}

// SwarmService is one service of the stack as status shows it.
type SwarmService struct {
	Service string      `json:"service"`
	Mode    string      `json:"mode"`
	Desired uint64      `json:"desired"`
	Running uint64      `json:"running"`
	Done    uint64      `json:"completed,omitempty"`
	Ports   []string    `json:"ports"`
	Tasks   []SwarmTask `json:"tasks"`
}

// Status lists the stack's services with their replicas and the node of each current task.
func (s *Swarm) Status(ctx context.Context) ([]SwarmService, error) {
	api := s.Docker.API
	services, err := api.ServiceList(ctx, client.ServiceListOptions{Filters: s.filter(), Status: true})
	if err != nil {
		return nil, err
	}
	nodes, err := s.nodeNames(ctx)
	if err != nil {
		return nil, err
	}
	tasks, err := api.TaskList(ctx, client.TaskListOptions{Filters: s.filter()})
	if err != nil {
		return nil, err
	}
	byService := map[string][]swarm.Task{}
	for _, t := range tasks.Items {
		byService[t.ServiceID] = append(byService[t.ServiceID], t)
	}
	var out []SwarmService
	for _, svc := range services.Items {
		row := SwarmService{Service: s.Namespace.Descope(svc.Spec.Name), Mode: "replicated", Ports: []string{}, Tasks: []SwarmTask{}}
		if s.isJob(svc.Spec.Labels) {
			row.Mode = "job"
		}
		if st := svc.ServiceStatus; st != nil {
			row.Desired, row.Running = st.DesiredTasks, st.RunningTasks
		}
		if svc.Endpoint.Spec.Ports != nil {
			for _, p := range svc.Endpoint.Spec.Ports {
				row.Ports = append(row.Ports, fmt.Sprintf("%d->%d (%s)", p.PublishedPort, p.TargetPort, p.PublishMode))
			}
		}
		ts := byService[svc.ID]
		sort.Slice(ts, func(i, j int) bool {
			if ts[i].Slot != ts[j].Slot {
				return ts[i].Slot < ts[j].Slot
			}
			return ts[i].Meta.UpdatedAt.After(ts[j].Meta.UpdatedAt)
		})
		seen := map[int]bool{}
		for _, t := range ts {
			// The current task of each slot: the one meant to run; for a job, whose task
			// is meant to shut down once done, the latest.
			if t.DesiredState != swarm.TaskStateRunning && row.Mode != "job" {
				continue
			}
			if seen[t.Slot] && t.Slot != 0 {
				continue
			}
			seen[t.Slot] = true
			if t.Status.State == swarm.TaskStateComplete {
				row.Done++
			}
			row.Tasks = append(row.Tasks, SwarmTask{Slot: t.Slot, Node: nodes[t.NodeID], State: string(t.Status.State), Error: t.Status.Err})
		}
		out = append(out, row)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Service < out[j].Service })
	return out, nil
}

// nodeNames names each node by host name and address: nodes of one machine's VMs often share
// a host name.
func (s *Swarm) nodeNames(ctx context.Context) (map[string]string, error) {
	nodes, err := s.Docker.API.NodeList(ctx, client.NodeListOptions{})
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, n := range nodes.Items {
		out[n.ID] = fmt.Sprintf("%s (%s)", n.Description.Hostname, n.Status.Addr)
	}
	return out, nil
}

// Remove removes the stack's services, waits until their tasks are gone from every node,
// then removes its networks and configs; with purge also its volumes: on this engine's node,
// where the services that keep data run, and elsewhere, on the nodes of clusters' other
// members, by node.
func (s *Swarm) Remove(ctx context.Context, purge bool, elsewhere map[string]NodeVolumes) error {
	api := s.Docker.API
	services, err := api.ServiceList(ctx, client.ServiceListOptions{Filters: s.filter()})
	if err != nil {
		return fmt.Errorf("listing the stack's services: %w", err)
	}
	var errs []error
	for _, svc := range services.Items {
		if _, err := api.ServiceRemove(ctx, svc.ID, client.ServiceRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("removing service %s: %w", svc.Spec.Name, err))
		}
	}
	if err := s.waitTasksGone(ctx); err != nil {
		errs = append(errs, err)
	}
	// A task that has ended still has its container until the node's agent removes it, and
	// that container holds its volumes and its network endpoint.
	if err := s.waitContainersGone(ctx); err != nil {
		errs = append(errs, err)
	}
	// A network stays busy for a moment after the last task on it is gone.
	for attempt := 0; ; attempt++ {
		nets, err := api.NetworkList(ctx, client.NetworkListOptions{Filters: s.filter()})
		if err != nil {
			errs = append(errs, err)
			break
		}
		var left error
		for _, n := range nets.Items {
			if _, err := api.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
				left = fmt.Errorf("removing network %s: %w", n.Name, err)
			}
		}
		if left == nil {
			break
		}
		if attempt == 20 {
			errs = append(errs, left)
			break
		}
		if err := sleep(ctx, time.Second); err != nil {
			return err
		}
	}
	configs, err := api.ConfigList(ctx, client.ConfigListOptions{Filters: s.filter()})
	if err != nil {
		errs = append(errs, err)
	} else {
		for _, c := range configs.Items {
			if _, err := api.ConfigRemove(ctx, c.ID, client.ConfigRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("removing config %s: %w", c.Spec.Name, err))
			}
		}
	}
	if purge {
		if err := s.purgeElsewhere(ctx, elsewhere); err != nil {
			errs = append(errs, err)
		}
		vols, err := api.VolumeList(ctx, client.VolumeListOptions{Filters: s.filter()})
		if err != nil {
			errs = append(errs, err)
		} else {
			for _, v := range vols.Items {
				if _, err := api.VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
					errs = append(errs, fmt.Errorf("removing volume %s: %w", v.Name, err))
				}
			}
		}
	}
	return errors.Join(errs...)
}

func (s *Swarm) waitTasksGone(ctx context.Context) error {
	deadline := time.Now().Add(3 * time.Minute)
	for {
		tasks, err := s.Docker.API.TaskList(ctx, client.TaskListOptions{Filters: s.filter()})
		if err != nil {
			return err
		}
		left := 0
		for _, t := range tasks.Items {
			if !stateReached(t.Status.State, swarm.TaskStateComplete) {
				left++
			}
		}
		if left == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of the stack's tasks were still on their nodes after 3 minutes", left)
		}
		if err := sleep(ctx, time.Second); err != nil {
			return err
		}
	}
}

// waitContainersGone waits until this engine's node has no container of the stack left.
func (s *Swarm) waitContainersGone(ctx context.Context) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		list, err := s.Docker.API.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: s.filter()})
		if err != nil {
			return err
		}
		if len(list.Items) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d containers of the stack were still on this node 2 minutes after its services were removed", len(list.Items))
		}
		if err := sleep(ctx, time.Second); err != nil {
			return err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// Services are the names of the stack's services, as the stack file has them.
func (s *Swarm) Services() []string {
	var out []string
	for _, svc := range s.Config.Services {
		out = append(out, svc.Name)
	}
	sort.Strings(out)
	return out
}

func (s *Swarm) isJob(labels map[string]string) bool {
	return s.JobLabel != "" && labels[s.JobLabel] == "true"
}

// Logs streams the logs of the named services (all of them when none is named) to out, each
// line prefixed with its task (service.slot), from whichever node the task runs on: the swarm
// gathers them. A name of the task form, spark-worker.2, is that slot's lines only.
func (s *Swarm) Logs(ctx context.Context, out io.Writer, names []string, follow bool, tail string) error {
	if len(names) == 0 {
		names = s.Services()
	}
	only := map[string][]string{} // service -> the tasks asked for; none: all of them
	var services []string
	for _, n := range names {
		svc, slot, isTask := strings.Cut(n, ".")
		if !slices.Contains(services, svc) {
			services = append(services, svc)
		}
		if isTask {
			only[svc] = append(only[svc], svc+"."+slot)
		}
	}
	var mu sync.Mutex
	errs := make(chan error, len(services))
	for _, name := range services {
		go func() { errs <- s.serviceLogs(ctx, name, only[name], out, &mu, follow, tail) }()
	}
	var all []error
	for range services {
		if err := <-errs; err != nil && ctx.Err() == nil {
			all = append(all, err)
		}
	}
	return errors.Join(all...)
}

func (s *Swarm) serviceLogs(ctx context.Context, name string, only []string, out io.Writer, mu *sync.Mutex, follow bool, tail string) error {
	scoped := s.Namespace.Scope(name)
	slots := map[string]string{}
	if tasks, err := s.Docker.API.TaskList(ctx, client.TaskListOptions{Filters: make(client.Filters).Add("service", scoped)}); err == nil {
		for _, t := range tasks.Items {
			slots[t.ID] = fmt.Sprintf("%s.%d", name, t.Slot)
		}
	}
	rc, err := s.Docker.API.ServiceLogs(ctx, scoped, client.ServiceLogsOptions{ShowStdout: true, ShowStderr: true, Follow: follow, Tail: tail, Details: true})
	if err != nil {
		return fmt.Errorf("logs of %s: %w", name, err)
	}
	defer rc.Close()
	w := &taskLineWriter{out: out, mu: mu, service: name, slots: slots, only: only}
	if _, err := stdcopy.StdCopy(w, w, rc); err != nil && ctx.Err() == nil {
		return fmt.Errorf("logs of %s: %w", name, err)
	}
	return nil
}

// taskLineWriter writes each log line the engine sends, prefixed with its task: with
// details, a line starts with the task's attributes (com.docker.swarm.task.id=…, …).
type taskLineWriter struct {
	out     io.Writer
	mu      *sync.Mutex
	service string
	slots   map[string]string
	only    []string // the tasks whose lines are wanted; none: every task's
}

func (w *taskLineWriter) Write(p []byte) (int, error) {
	for _, line := range strings.SplitAfter(string(p), "\n") {
		if line == "" {
			continue
		}
		who := w.service
		attrs, msg, ok := strings.Cut(line, " ")
		if ok && strings.Contains(attrs, "com.docker.swarm.") {
			line = msg
			for _, kv := range strings.Split(attrs, ",") {
				if id, found := strings.CutPrefix(kv, "com.docker.swarm.task.id="); found && w.slots[id] != "" {
					who = w.slots[id]
				}
			}
		}
		if len(w.only) > 0 && !slices.Contains(w.only, who) {
			continue
		}
		w.mu.Lock()
		_, err := fmt.Fprintf(w.out, "%s | %s", who, line)
		if !strings.HasSuffix(line, "\n") {
			fmt.Fprintln(w.out)
		}
		w.mu.Unlock()
		if err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// Stop scales every service but the one-shot jobs to no task and waits until none runs: the
// services, their volumes and configs stay, and Deploy brings them back. A stopped service
// loses its spec digest, so that Deploy sees it differs; a job keeps its own, so that it does
// not run again.
func (s *Swarm) Stop(ctx context.Context) error {
	api := s.Docker.API
	list, err := api.ServiceList(ctx, client.ServiceListOptions{Filters: s.filter()})
	if err != nil {
		return fmt.Errorf("listing the stack's services: %w", err)
	}
	var errs []error
	for _, svc := range list.Items {
		if s.isJob(svc.Spec.Labels) || svc.Spec.Mode.Replicated == nil {
			continue
		}
		spec := svc.Spec
		zero := uint64(0)
		spec.Mode.Replicated = &swarm.ReplicatedService{Replicas: &zero}
		spec.Labels = maps.Clone(spec.Labels)
		delete(spec.Labels, specLabel)
		if _, err := api.ServiceUpdate(ctx, svc.ID, client.ServiceUpdateOptions{Version: svc.Version, Spec: spec}); err != nil {
			errs = append(errs, fmt.Errorf("stopping %s: %w", svc.Spec.Name, err))
		} else {
			s.ui.ServiceState(s.Namespace.Descope(svc.Spec.Name), "stopping", "")
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		list, err := api.ServiceList(ctx, client.ServiceListOptions{Filters: s.filter(), Status: true})
		if err != nil {
			return err
		}
		running := 0
		for _, svc := range list.Items {
			if st := svc.ServiceStatus; st != nil && !s.isJob(svc.Spec.Labels) {
				running += int(st.RunningTasks)
			}
		}
		if running == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d tasks of the stack still ran 3 minutes after it was scaled to none", running)
		}
		if err := sleep(ctx, time.Second); err != nil {
			return err
		}
	}
}

// Restart replaces the tasks of the named services (every one but the jobs when none is
// named), as `docker service update --force` does, and waits until they are ready again.
func (s *Swarm) Restart(ctx context.Context, names []string, timeout func(string) time.Duration) error {
	api := s.Docker.API
	list, err := api.ServiceList(ctx, client.ServiceListOptions{Filters: s.filter()})
	if err != nil {
		return fmt.Errorf("listing the stack's services: %w", err)
	}
	watch := map[string]*swarmWatch{}
	for _, svc := range list.Items {
		name := s.Namespace.Descope(svc.Spec.Name)
		if len(names) > 0 && !slices.Contains(names, name) || len(names) == 0 && s.isJob(svc.Spec.Labels) {
			continue
		}
		spec := svc.Spec
		spec.TaskTemplate.ForceUpdate++
		if _, err := api.ServiceUpdate(ctx, svc.ID, client.ServiceUpdateOptions{Version: svc.Version, Spec: spec}); err != nil {
			return fmt.Errorf("restarting %s: %w", name, err)
		}
		now := time.Now()
		w := &swarmWatch{id: svc.ID, created: now, since: now, force: spec.TaskTemplate.ForceUpdate}
		if c := spec.TaskTemplate.ContainerSpec; c != nil {
			w.digest = c.Labels[taskLabel]
		}
		if spec.Mode.Replicated != nil && spec.Mode.Replicated.Replicas != nil {
			w.replicas = *spec.Mode.Replicated.Replicas
		}
		watch[name] = w
		s.ui.ServiceState(name, "restarting", "")
	}
	for {
		pending := 0
		for _, name := range slices.Sorted(maps.Keys(watch)) {
			if w := watch[name]; w.state != "ready" {
				if err := s.observe(ctx, name, w, timeout(name)); err != nil {
					return err
				}
				if w.state != "ready" {
					pending++
				}
			}
		}
		if pending == 0 {
			return nil
		}
		if err := sleep(ctx, s.poll); err != nil {
			return err
		}
	}
}

// SwarmImages is the image each service of the swarm stack named namespace runs, by service
// name, as the stack was deployed (nothing when there is none).
func (d *Docker) SwarmImages(ctx context.Context, namespace string) (map[string]string, error) {
	list, err := d.API.ServiceList(ctx, client.ServiceListOptions{Filters: make(client.Filters).Add("label", convert.LabelNamespace+"="+namespace)})
	if err != nil {
		return nil, fmt.Errorf("listing the stack's services: %w", err)
	}
	out := map[string]string{}
	for _, svc := range list.Items {
		if c := svc.Spec.TaskTemplate.ContainerSpec; c != nil {
			image, _, _ := strings.Cut(c.Image, "@")
			out[convert.NewNamespace(namespace).Descope(svc.Spec.Name)] = image
		}
	}
	return out, nil
}
