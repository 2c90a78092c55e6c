package checks

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/docker/cli/cli/compose/convert"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// checkSwarmServices is the containers check of a swarm install: each service has its tasks
// running (a one-shot job: its last task completed), and a task that failed says where and
// why. The swarm replaces failed tasks itself, so what is reported is what it could not fix.
func checkSwarmServices(ctx context.Context, env *Env) Result {
	s := env.Stack
	if r, down := engineDown(env); down {
		return r
	}
	api := env.Engine.API
	filter := make(client.Filters).Add("label", convert.LabelNamespace+"="+s.Project)
	services, err := api.ServiceList(ctx, client.ServiceListOptions{Filters: filter, Status: true})
	if err != nil {
		return Result{Status: Fail, Message: "listing the swarm's services: " + err.Error(),
			Fix: "point DOCKER_HOST (or the docker context) at a manager of the swarm; `docker node ls` there lists them"}
	}
	tasks, err := api.TaskList(ctx, client.TaskListOptions{Filters: filter})
	if err != nil {
		return Result{Status: Fail, Message: "listing the swarm's tasks: " + err.Error(), Fix: "run `docker stack ps " + s.Project + "`"}
	}
	nodes := map[string]string{}
	if list, err := api.NodeList(ctx, client.NodeListOptions{}); err == nil {
		for _, n := range list.Items {
			nodes[n.ID] = fmt.Sprintf("%s (%s, %s)", n.Description.Hostname, n.Status.Addr, n.Status.State)
		}
	}
	byName := map[string]swarm.Service{}
	for _, svc := range services.Items {
		byName[svc.Spec.Name] = svc
	}
	var missing, bad, starting []string
	healthy := 0
	for _, want := range s.Services {
		svc, ok := byName[s.Project+"_"+want.Name]
		if !ok {
			missing = append(missing, want.Name)
			continue
		}
		switch problem, waiting := swarmServiceState(want, svc, latestTasks(tasks.Items, svc.ID), nodes); {
		case problem != "":
			bad = append(bad, problem)
		case waiting != "":
			starting = append(starting, waiting)
		default:
			healthy++
		}
	}
	r := Result{Details: map[string]string{"services": fmt.Sprint(len(s.Services)), "ok": fmt.Sprint(healthy), "swarm": "true"}}
	switch {
	case len(bad) > 0:
		sort.Strings(bad)
		r.Status, r.Message = Fail, strings.Join(bad, "; ")
		r.Fix = fmt.Sprintf("`dataeco status` shows each task's node; `docker service ps --no-trunc %s_SERVICE` every try and its error, `docker service logs %s_SERVICE` its output", s.Project, s.Project)
	case len(missing) > 0:
		r.Status, r.Message = Warn, "no swarm service for "+strings.Join(missing, ", ")
		r.Fix = "run `dataeco install` (after `dataeco down` this is expected)"
	case len(starting) > 0:
		r.Status, r.Message = Warn, "not ready: "+strings.Join(starting, ", ")
		r.Fix = "wait and run `dataeco doctor` again; `dataeco status` shows each task"
	default:
		r.Status, r.Message = Pass, fmt.Sprintf("all %d services of the swarm stack %s have their tasks running", len(s.Services), s.Project)
	}
	return r
}

// swarmServiceState says what is wrong with a service, from its newest task in each slot:
// a problem, or what it still waits for; neither when it is fine.
func swarmServiceState(want StackService, svc swarm.Service, latest []swarm.Task, nodes map[string]string) (problem, waiting string) {
	if want.OneShot {
		switch t := latestOf(latest); {
		case t != nil && t.Status.State == swarm.TaskStateComplete:
			return "", ""
		case t != nil && (t.Status.State == swarm.TaskStateFailed || t.Status.State == swarm.TaskStateRejected):
			return fmt.Sprintf("%s failed on %s: %s", want.Name, nodes[t.NodeID], TaskError(*t)), ""
		}
		return "", want.Name + " (not completed yet)"
	}
	var running, desired uint64
	if st := svc.ServiceStatus; st != nil {
		running, desired = st.RunningTasks, st.DesiredTasks
	}
	if desired > 0 && running >= desired {
		return "", ""
	}
	var why []string
	onTheWay := true // every task short of running is still being placed, pulled or started
	for _, t := range latest {
		if t.Status.State != swarm.TaskStateRunning {
			why = append(why, fmt.Sprintf("slot %d on %s %s: %s", t.Slot, nodes[t.NodeID], t.Status.State, TaskError(t)))
			onTheWay = onTheWay && slices.Contains([]swarm.TaskState{swarm.TaskStateNew, swarm.TaskStateAllocated, swarm.TaskStateAssigned,
				swarm.TaskStateAccepted, swarm.TaskStatePreparing, swarm.TaskStateReady, swarm.TaskStateStarting}, t.Status.State)
		}
	}
	if onTheWay && len(why) > 0 {
		return "", fmt.Sprintf("%s (%d of %d tasks running, the others starting)", want.Name, running, desired)
	}
	problem = fmt.Sprintf("%s: %d of %d tasks running", want.Name, running, desired)
	if len(why) > 0 {
		problem += " (" + strings.Join(why, "; ") + ")"
	}
	return problem, ""
}

// latestTasks is the newest task of each slot of the service.
func latestTasks(all []swarm.Task, serviceID string) []swarm.Task {
	bySlot := map[int]swarm.Task{}
	for _, t := range all {
		if t.ServiceID != serviceID {
			continue
		}
		if cur, ok := bySlot[t.Slot]; !ok || t.Meta.CreatedAt.After(cur.Meta.CreatedAt) {
			bySlot[t.Slot] = t
		}
	}
	out := make([]swarm.Task, 0, len(bySlot))
	for _, t := range bySlot {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Slot < out[j].Slot })
	return out
}

func latestOf(ts []swarm.Task) *swarm.Task {
	var out *swarm.Task
	for i := range ts {
		if out == nil || ts[i].Meta.CreatedAt.After(out.Meta.CreatedAt) {
			out = &ts[i]
		}
	}
	return out
}

// TaskError is why a swarm task is where it is: the engine's error or message, and the exit
// code of its container when it failed.
func TaskError(t swarm.Task) string {
	msg := t.Status.Err
	if msg == "" {
		msg = t.Status.Message
	}
	if t.Status.ContainerStatus != nil && t.Status.ContainerStatus.ExitCode != 0 {
		msg = fmt.Sprintf("%s (exit %d)", msg, t.Status.ContainerStatus.ExitCode)
	}
	return msg
}

// checkSwarmResources is the resources check of a swarm install: the services pinned to the
// home node (this engine's) must fit it, and the Spark workers, which swarm places on any
// node, the swarm's nodes: all of it together, and one worker on the largest node.
func checkSwarmResources(ctx context.Context, env *Env) Result {
	e := env.Engine
	var homeMin, homeLimit, spreadMin, oneWorker int64
	for _, s := range env.Plan.Services {
		if s.Spread {
			spreadMin += s.MinMiB
			oneWorker = max(oneWorker, s.MinMiB)
			continue
		}
		homeMin += s.MinMiB
		homeLimit += s.LimitMiB
	}
	haveMiB := e.MemTotal >> 20
	r := Result{Details: map[string]string{"engine_cpus": fmt.Sprint(e.NCPU), "engine_memory_mib": fmt.Sprint(haveMiB),
		"minimum_mib": fmt.Sprint(homeMin), "recommended_mib": fmt.Sprint(homeLimit), "swarm": "true"}}
	msg := fmt.Sprintf("this node has %d CPUs and %s; the services that run on it need at least %s, %s recommended",
		e.NCPU, mib(haveMiB), mib(homeMin), mib(homeLimit))
	nodes, err := e.API.NodeList(ctx, client.NodeListOptions{})
	var clusterMiB, largestMiB int64
	var largestCPUs, ready int
	for _, n := range nodes.Items {
		if n.Status.State != swarm.NodeStateReady || n.Spec.Availability != swarm.NodeAvailabilityActive {
			continue
		}
		ready++
		m := n.Description.Resources.MemoryBytes >> 20
		clusterMiB += m
		largestMiB = max(largestMiB, m)
		largestCPUs = max(largestCPUs, int(n.Description.Resources.NanoCPUs/1e9))
	}
	if err == nil {
		msg += fmt.Sprintf("; the %d Spark workers need %s across the swarm's %d ready nodes, which have %s", env.Plan.Workers, mib(spreadMin), ready, mib(clusterMiB))
		r.Details["swarm_memory_mib"], r.Details["swarm_nodes"] = fmt.Sprint(clusterMiB), fmt.Sprint(ready)
	}
	memory := strings.Join(env.Plan.Flags.Memory, ", ")
	switch {
	case haveMiB < homeMin:
		r.Status, r.Message = Fail, msg
		r.Fix = moreMemoryFix(env, e, homeMin) + lighterChoices(env.Plan.Lighter, env.Plan.Flags)
	case err == nil && (clusterMiB < homeMin+spreadMin || largestMiB < oneWorker):
		r.Status, r.Message = Fail, msg
		r.Fix = fmt.Sprintf("add nodes to the swarm (`docker swarm join`), or run fewer or smaller workers: lower %s", memory)
	case haveMiB < homeLimit:
		r.Status, r.Message = Warn, msg+"; services may be slow or killed for memory under load"
		r.Fix = moreMemoryFix(env, e, homeLimit)
	case err == nil && env.Plan.SparkCores > largestCPUs:
		r.Status, r.Message = Warn, msg+fmt.Sprintf("; each Spark worker offers %d cores but the largest node has %d", env.Plan.SparkCores, largestCPUs)
		r.Fix = fmt.Sprintf("run `dataeco install %s %d`", env.Plan.Flags.WorkerCores, max(1, largestCPUs/2))
	default:
		r.Status, r.Message = Pass, msg
	}
	return r
}
