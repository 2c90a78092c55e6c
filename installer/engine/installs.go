package engine

import (
	"context"
	"sort"
	"strings"

	"github.com/dataeco/dataeco/checks"
	"github.com/docker/cli/cli/compose/convert"
	"github.com/docker/compose/v5/pkg/api"
	"github.com/moby/moby/client"
)

// Install is one dataeco install as the engine holds it: its Compose project, the directory
// it was started from, and how its containers stand.
type Install struct {
	Project string `json:"project"`
	Dir     string `json:"dir"`
	// Containers counts the project's containers; Running those running, Done the one-shot
	// jobs that exited 0, Unhealthy those running but failing their healthcheck.
	Containers int `json:"containers"`
	Running    int `json:"running"`
	Done       int `json:"done"`
	Unhealthy  int `json:"unhealthy"`
	// Swarm: the install is a stack of the swarm the engine manages; the counts are of its
	// services (Done: its one-shot jobs, Running: those with every task running).
	Swarm bool `json:"swarm,omitempty"`
}

// State sums an install up in a few words.
func (i Install) State() string {
	var s string
	switch {
	case i.Running == 0:
		s = "stopped"
	case i.Running+i.Done == i.Containers:
		s = "running"
	default:
		s = "partly running"
	}
	if i.Unhealthy > 0 {
		s += ", unhealthy"
	}
	if i.Swarm {
		s += " (swarm)"
	}
	return s
}

// Installs lists every dataeco install the engine has containers of, by project name, and on
// a swarm manager every swarm install (swarmJobLabel marks its one-shot jobs).
func (d *Docker) Installs(ctx context.Context, swarmJobLabel string) ([]Install, error) {
	list, err := d.API.ContainerList(ctx, client.ContainerListOptions{All: true,
		Filters: make(client.Filters).Add("label", checks.ComponentLabel)})
	if err != nil {
		return nil, err
	}
	byProject := map[string]*Install{}
	for _, c := range list.Items {
		project := c.Labels[api.ProjectLabel]
		if _, own := ServiceOf(c); !own || project == "" {
			continue
		}
		in := byProject[project]
		if in == nil {
			in = &Install{Project: project}
			byProject[project] = in
		}
		if in.Dir == "" {
			in.Dir = c.Labels[api.WorkingDirLabel]
		}
		in.Containers++
		switch {
		case c.State == "running":
			in.Running++
			if strings.Contains(c.Status, "(unhealthy)") {
				in.Unhealthy++
			}
		case c.State == "exited" && strings.HasPrefix(c.Status, "Exited (0)") && d.isJob(ctx, c.ID):
			in.Done++
		}
	}
	if d.Info.Swarm.ControlAvailable {
		if err := d.swarmInstalls(ctx, byProject, swarmJobLabel); err != nil {
			return nil, err
		}
	}
	out := make([]Install, 0, len(byProject))
	for _, in := range byProject {
		out = append(out, *in)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Project < out[j].Project })
	return out, nil
}

// isJob says whether a container is a one-shot job: one the engine never restarts. A service
// stopped by `dataeco stop` may have exited 0 too.
func (d *Docker) isJob(ctx context.Context, id string) bool {
	ins, err := d.API.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil || ins.Container.HostConfig == nil {
		return false
	}
	p := ins.Container.HostConfig.RestartPolicy.Name
	return p == "" || p == "no"
}

// swarmInstalls adds the swarm's dataeco stacks, by their services.
func (d *Docker) swarmInstalls(ctx context.Context, byProject map[string]*Install, jobLabel string) error {
	list, err := d.API.ServiceList(ctx, client.ServiceListOptions{Status: true,
		Filters: make(client.Filters).Add("label", checks.ComponentLabel).Add("label", convert.LabelNamespace)})
	if err != nil {
		return err
	}
	for _, svc := range list.Items {
		project := svc.Spec.Labels[convert.LabelNamespace]
		in := byProject[project]
		if in == nil {
			in = &Install{Project: project, Swarm: true}
			byProject[project] = in
		}
		if in.Dir == "" {
			in.Dir = svc.Spec.Labels[DirLabel]
		}
		in.Containers++
		switch st := svc.ServiceStatus; {
		case svc.Spec.Labels[jobLabel] == "true":
			in.Done++
		case st != nil && st.DesiredTasks > 0 && st.RunningTasks >= st.DesiredTasks:
			in.Running++
		}
	}
	return nil
}
