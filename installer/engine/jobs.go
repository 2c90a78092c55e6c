package engine

import (
	"context"
	"maps"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/moby/client"
)

// oneShotJobs names the services that run once and exit (restart "no"): kafka-init,
// cassandra-init, airflow-init.
func oneShotJobs(p *types.Project) []string {
	var jobs []string
	for name, svc := range p.Services {
		if svc.Restart == types.RestartPolicyNo {
			jobs = append(jobs, name)
		}
	}
	slices.Sort(jobs)
	return jobs
}

// settledJobs are the one-shot jobs whose container already ran to success with exactly the
// definition this run would give it (Compose's config hash; cassandra-init's also covers the
// schema file, through a label). Compose would start such a job again on every up, and hold
// its dependents until it finished again: on the real images that is Airflow's migrations
// and a cqlsh session on every re-run, tens of seconds for nothing.
func (s *Stack) settledJobs(ctx context.Context) ([]string, error) {
	p := s.Project
	jobs := oneShotJobs(p)
	if len(jobs) == 0 {
		return nil, nil
	}
	list, err := s.Docker.Containers(ctx, p.Name)
	if err != nil {
		return nil, err
	}
	var settled []string
	for _, c := range list {
		name, own := ServiceOf(c)
		if !own || !slices.Contains(jobs, name) || c.State != "exited" {
			continue
		}
		if want := DefinitionHash(p.Services[name]); want == "" || ConfigHash(c) != want {
			continue
		}
		ins, err := s.Docker.API.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
		if err != nil {
			return nil, err
		}
		// Ran, finished, exit 0: a job the engine created but never ran (a crash in between)
		// has no start time, and one it could not start carries the engine's error.
		if st := ins.Container.State; st != nil && st.ExitCode == 0 && !st.OOMKilled && st.Error == "" &&
			st.StartedAt != "" && !strings.HasPrefix(st.StartedAt, "0001-") {
			settled = append(settled, name)
		}
	}
	slices.Sort(settled)
	return slices.Compact(settled), nil
}

// withoutJobs returns a copy of p in which the given jobs are disabled (Compose leaves a
// disabled service's container alone: it is not an orphan) and whoever waited for a job
// waits for what the job waited for instead. spark-stream, say, reached "Cassandra is
// healthy" only through cassandra-init; without that, after `stop`, it would race Cassandra.
func withoutJobs(p *types.Project, jobs []string) *types.Project {
	q := p.WithServicesDisabled() // a deep copy
	for changed := true; changed; {
		changed = false
		for name, svc := range q.Services {
			for _, job := range jobs {
				if _, ok := svc.DependsOn[job]; !ok {
					continue
				}
				deps := maps.Clone(svc.DependsOn)
				delete(deps, job)
				for d, cfg := range p.Services[job].DependsOn {
					if _, ok := deps[d]; !ok && d != name {
						deps[d] = cfg
					}
				}
				svc.DependsOn = deps
				q.Services[name] = svc
				changed = true
			}
		}
	}
	return q.WithServicesDisabled(jobs...)
}
