package installer

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dataeco/dataeco/installer/engine"
	"github.com/dataeco/dataeco/installer/hint"
	"github.com/dataeco/dataeco/installer/model"
	"github.com/urfave/cli/v2"
)

// A swarm install (--swarm) runs through engine.Swarm rather than Compose. The commands that
// know a swarm install are named in onSwarm; the others refuse one, naming what to do.

// onSwarm says whether a command works on a swarm install.
func onSwarm(command string) bool {
	switch command {
	case "status", "logs", "stop", "start", "restart", "down", "uninstall":
		return true
	}
	return false
}

// notOnSwarm refuses a command that does not work on a swarm install yet, with the docker
// command that does the job meanwhile.
func notOnSwarm(def *model.Definition, command string) error {
	if !def.Answers.Swarm || onSwarm(command) {
		return nil
	}
	volumes := "`docker volume ls --filter label=com.docker.stack.namespace=" + def.Project.Name + "` on its home node"
	alt := map[string]string{
		"reset":  "`dataeco down`, remove the service's volumes (" + volumes + "), then `dataeco install`",
		"backup": "`dataeco stop`, copy the volumes (" + volumes + "), then `dataeco start`",
	}[command]
	if alt == "" {
		alt = "`dataeco status`, `logs`, `smoke`, `stop`, `start`, `restart`, `down` and `uninstall`, which work on a swarm"
	}
	return hint.New("meanwhile: "+alt,
		fmt.Errorf("`dataeco %s` does not work on a swarm install (%s) yet", command, def.Dir))
}

// swarmFor loads the install's stack for the swarm the engine manages. home is the node the
// stateful services are pinned to.
func (a *App) swarmFor(docker *engine.Docker, def *model.Definition) (*engine.Swarm, error) {
	if _, err := docker.SwarmHome(); err != nil {
		return nil, err
	}
	if def.Inputs.SwarmHome == "" {
		return nil, hint.New("run `dataeco install --dir "+def.Dir+"` again to record it",
			fmt.Errorf("%s in %s names no swarm node for the stack's data", model.EngineFile, def.Dir))
	}
	file, err := model.SwarmFile(def.Project, def.Answers, def.Inputs, def.Builds)
	if err != nil {
		return nil, err
	}
	deps := map[string][]engine.SwarmDep{}
	for svc, ds := range model.SwarmDeps(def.Project) {
		deps[svc] = nil
		for _, d := range ds {
			deps[svc] = append(deps[svc], engine.SwarmDep{Service: d.Service, Completed: d.Completed})
		}
	}
	return engine.LoadSwarm(docker, a.progress(), def.Project.Name, file, def.Dir, deps, model.SwarmJobLabel)
}

// startSwarm is `dataeco start` on a swarm install: the stack deployed again as it was
// installed (its images are in the registry), each service once what it needs is ready.
func (a *App) startSwarm(c *cli.Context, def *model.Definition, docker *engine.Docker) error {
	sw, err := a.swarmFor(docker, def)
	if err != nil {
		return err
	}
	return a.swarmDeployed(c.Context, def, sw.Deploy(c.Context, timeouts(c)))
}

// swarmDeployed renders what went wrong in a deploy.
func (a *App) swarmDeployed(ctx context.Context, def *model.Definition, err error) error {
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("%w while deploying; run `dataeco install` again to continue", hint.ErrInterrupted)
	}
	if f, ok := engine.AsServiceFailure(err); ok {
		return hint.New(fmt.Sprintf("`docker service ps --no-trunc %s_%s` shows each try and its node; fix and run `dataeco install` again, or `dataeco down` to clean up", def.Project.Name, f.Service),
			fmt.Errorf("service %s %s", f.Service, f.Reason))
	}
	return err
}

// deploySwarm puts the images dataeco built in the registry and deploys the stack, each
// service once what it needs is ready.
func (a *App) deploySwarm(ctx context.Context, docker *engine.Docker, def *model.Definition, timeout func(string) time.Duration) (*engine.Swarm, error) {
	sw, err := a.swarmFor(docker, def)
	if err != nil {
		return nil, err
	}
	tags := map[string]string{}
	for _, b := range def.Builds {
		tags[b.Tag] = model.RegistryTag(def.Answers, b.Tag)
	}
	if err := sw.PushBuilds(ctx, tags); err != nil {
		return nil, err
	}
	a.status("Deploying to the swarm, each service once what it needs is ready")
	if err := a.swarmDeployed(ctx, def, sw.Deploy(ctx, timeout)); err != nil {
		return nil, err
	}
	return sw, nil
}

// swarmPlaces chooses where a swarm install's stateful services run, before it is rendered
// (a cluster's members advertise their node's address): the home node, the one recorded or
// at the first install the node of the engine dataeco talks to, and a node of its own for
// each member of a cluster after the first. It also finds out whether the one-shot jobs can
// be swarm jobs (Inputs.SwarmJobs), and says so when that changes after an engine upgrade.
func (a *App) swarmPlaces(ctx context.Context, docker *engine.Docker, ans *model.Answers, in *model.Inputs) error {
	node, err := docker.SwarmHome()
	if err != nil {
		return err
	}
	first := in.SwarmHome == ""
	if first {
		in.SwarmHome = node
	}
	nodes, err := docker.SwarmNodes(ctx)
	if err != nil {
		return err
	}
	jobs := engine.SwarmJobs(nodes)
	if jobs && !in.SwarmJobs && !first {
		a.status("The swarm's managers now run Engine %s or later: the one-shot jobs become swarm jobs, each created anew and run once more", engine.SwarmJobsEngine)
	}
	in.SwarmJobs = jobs
	if ans.Brokers() == 1 && ans.Nodes() == 1 {
		return nil
	}
	var mine []model.SwarmNode
	for _, n := range nodes {
		mine = append(mine, model.SwarmNode{ID: n.ID, Hostname: n.Hostname, Addr: n.Addr, Usable: n.Usable})
	}
	return model.PlaceMembers(ans, in, mine)
}

// swarmStatus is `dataeco status` for a swarm install.
func (a *App) swarmStatus(c *cli.Context, def *model.Definition, docker *engine.Docker) error {
	sw, err := a.swarmFor(docker, def)
	if err != nil {
		return err
	}
	rows, err := sw.Status(c.Context)
	if err != nil {
		return hint.Wrap(fmt.Errorf("listing the swarm's services: %w", err), "run `dataeco doctor`")
	}
	if c.Bool("json") {
		return a.printJSON(map[string]any{"project": def.Project.Name, "swarm": true, "services": rows})
	}
	if len(rows) == 0 {
		a.status("No service of %s on the swarm: `dataeco install` deploys it", def.Project.Name)
		return nil
	}
	return writeSwarmStatus(a.Streams.Out, rows)
}

func writeSwarmStatus(w io.Writer, rows []engine.SwarmService) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tMODE\tREPLICAS\tNODES\tPORTS")
	for _, r := range rows {
		replicas := fmt.Sprintf("%d/%d", r.Running, r.Desired)
		if r.Mode == "job" {
			replicas = fmt.Sprintf("%d/%d completed", r.Done, r.Desired)
		}
		var nodes []string
		for _, t := range r.Tasks {
			n := t.Node
			if t.State != "running" && t.State != "complete" {
				n += " " + t.State
			}
			nodes = append(nodes, n)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Service, r.Mode, replicas, strings.Join(nodes, ", "), strings.Join(r.Ports, ", "))
	}
	return tw.Flush()
}

// swarmLogs is `dataeco logs` on a swarm install. The workers are one service whose tasks are
// named by slot: spark-worker is all of them, spark-worker-2 (or spark-worker.2) the second.
func (a *App) swarmLogs(c *cli.Context, def *model.Definition, docker *engine.Docker, services []string) error {
	sw, err := a.swarmFor(docker, def)
	if err != nil {
		return err
	}
	var names []string
	for _, s := range services {
		name, slot := model.SwarmService(s), ""
		if name != s {
			slot = strings.TrimPrefix(s, name+"-")
		} else if svc, n, ok := strings.Cut(s, "."); ok {
			name, slot = svc, n
		}
		if !slices.Contains(sw.Services(), name) {
			return hint.UsageHint("services: "+strings.Join(sw.Services(), ", "), fmt.Errorf("no service %q in this install", s))
		}
		if slot != "" {
			name += "." + slot
		}
		names = append(names, name)
	}
	return sw.Logs(c.Context, a.Streams.Out, names, c.Bool("follow"), c.String("tail"))
}

// restartSwarm is `dataeco restart` on a swarm install: the named services (none: all but
// the one-shot jobs) get new tasks, on whichever nodes swarm picks for them.
func (a *App) restartSwarm(c *cli.Context, def *model.Definition, docker *engine.Docker, services []string) error {
	var names []string
	for _, s := range services {
		if row, ok := model.Lookup(s); ok && row.Job {
			return hint.UsageHint("`dataeco install` runs it again when its definition changes",
				fmt.Errorf("%s is a one-shot job: on a swarm it is not restarted", s))
		}
		if name := model.SwarmService(s); !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	sw, err := a.swarmFor(docker, def)
	if err != nil {
		return err
	}
	return a.swarmDeployed(c.Context, def, sw.Restart(c.Context, names, timeouts(c)))
}

// swarmImages is the image each service of a swarm install runs, by its compose name (every
// worker instance: the workers' service), with the images dataeco builds under their local
// tag, as the definition names them.
func swarmImages(ctx context.Context, docker *engine.Docker, def *model.Definition) (map[string]string, error) {
	images, err := docker.SwarmImages(ctx, def.Project.Name)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, name := range def.Project.ServiceNames() {
		image, ok := images[model.SwarmService(name)]
		if !ok {
			continue
		}
		for _, b := range def.Builds {
			if image == model.RegistryTag(def.Answers, b.Tag) {
				image = b.Tag
			}
		}
		out[name] = image
	}
	return out, nil
}

// stopSwarm is `dataeco stop` on a swarm install.
func (a *App) stopSwarm(ctx context.Context, def *model.Definition, docker *engine.Docker) error {
	sw, err := a.swarmFor(docker, def)
	if err != nil {
		return err
	}
	return sw.Stop(ctx)
}

// removeSwarm is down and uninstall for a swarm install.
func (a *App) removeSwarm(ctx context.Context, docker *engine.Docker, def *model.Definition, purge bool) error {
	sw, err := a.swarmFor(docker, def)
	if err != nil {
		return err
	}
	elsewhere := map[string]engine.NodeVolumes{}
	for node, v := range model.VolumesElsewhere(def.Answers, def.Inputs) {
		elsewhere[node] = engine.NodeVolumes{Image: v.Image, Volumes: v.Volumes}
	}
	return sw.Remove(ctx, purge, elsewhere)
}

// runningOnSwarm counts the stack's running tasks, for the summary.
func runningOnSwarm(ctx context.Context, sw *engine.Swarm) (int, error) {
	rows, err := sw.Status(ctx)
	n := 0
	for _, r := range rows {
		n += int(r.Running)
	}
	return n, err
}
