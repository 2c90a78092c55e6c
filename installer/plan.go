package installer

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dataeco/dataeco/checks"
	"github.com/dataeco/dataeco/installer/engine"
	"github.com/dataeco/dataeco/installer/hint"
	"github.com/dataeco/dataeco/installer/model"
	"net"
)

// plan describes, for the checks, what a definition would run: every figure comes from the
// service's row in the catalogue.
func plan(def *model.Definition) checks.Plan {
	a, p := def.Answers, def.Project
	out := checks.Plan{Project: p.Name, SparkCores: a.SparkWorkerCores, Workers: a.SparkWorkers, Lighter: map[string]int64{},
		AllowUnauthenticated: a.AllowUnauthenticated, Subnet: a.Subnet, Swarm: a.Swarm,
		Flags: checks.Flags{Components: "--components", WorkerCores: "--spark-worker-cores", Registry: "--registry",
			Listen: "--listen", Expose: "--expose", AllowUnauthenticated: "--allow-unauthenticated", Subnet: "--subnet"}}
	for _, name := range p.ServiceNames() {
		svc := p.Services[name]
		need := checks.ServiceNeed{Service: name, Image: svc.Image}
		elsewhere := false // a cluster's member pinned to a node of its own
		for _, b := range def.Builds {
			if b.Tag == svc.Image {
				need.Image, need.Built = b.Base, b.Tag
			}
		}
		if row, ok := model.Lookup(name); ok {
			need.Component, need.ImageBytes = row.Component, row.ImageBytes
			need.MinMiB, need.LimitMiB = int64(row.Minimum(a)), int64(row.Limit(a))
			// A worker goes where swarm puts it, a cluster's member after the first on a node of
			// its own: neither is on the home node.
			elsewhere = a.Swarm && row.Members != nil && name != row.Name
			need.Spread = a.Swarm && row.Replicated || elsewhere
			if row.Job { // jobs finish before the rest peaks
				need.MinMiB, need.LimitMiB = 0, 0
			}
			if row.SizedBy != "" && !slices.Contains(out.Flags.Memory, "--"+row.SizedBy) {
				out.Flags.Memory = append(out.Flags.Memory, "--"+row.SizedBy)
			}
		}
		out.Services = append(out.Services, need)
		if c := need.Component; c != model.CompKafka && c != "" {
			out.Lighter[c] += need.LimitMiB
		}
		if elsewhere {
			// Published on its own node, whose engine dataeco does not reach: a conflict
			// there is the deploy's to report, with that task's error.
			continue
		}
		for _, port := range svc.Ports {
			n, _ := strconv.Atoi(port.Published)
			row := catalogPort(a, n)
			out.Ports = append(out.Ports, checks.PortNeed{Service: name, HostIP: port.HostIP, Port: n, Flag: row.Flag, What: row.What, Auth: row.AuthOf(a)})
		}
	}
	// Only offer to drop what the pipeline can live without.
	delete(out.Lighter, model.CompSpark)
	delete(out.Lighter, model.CompCassandra)
	sort.Slice(out.Ports, func(i, j int) bool { return out.Ports[i].Port < out.Ports[j].Port })
	return out
}

// catalogPort is the catalogue's row of a published host port.
func catalogPort(a *model.Answers, port int) model.Port {
	for _, p := range model.Ports() {
		if a.Ports[p.Key] == port {
			return p
		}
	}
	return model.Port{}
}

// checkEnv gathers what the checks read, with the real machine behind every function.
func (a *App) checkEnv(docker *engine.Docker, down *checks.Result) *checks.Env {
	run := func(ctx context.Context, name string, args ...string) ([]byte, error) {
		return exec.CommandContext(ctx, name, args...).Output()
	}
	versions := versionCache{ttl: 24 * time.Hour, run: run, now: time.Now}
	if dir := a.cacheDir(); dir != "" {
		versions.file = filepath.Join(dir, "versions.json")
	}
	env := &checks.Env{
		GOOS:           runtime.GOOS,
		Getenv:         a.Getenv,
		LookPath:       exec.LookPath,
		Exec:           run,
		VersionOf:      versions.Exec,
		EngineDown:     down,
		Listen:         net.Listen,
		PortOwner:      checks.PortOwner,
		EphemeralPorts: checks.EphemeralPorts,
		FreeBytes:      checks.FreeBytes,
		Routes:         checks.HostRoutes,
	}
	if docker != nil {
		env.Engine = docker.Engine()
	}
	return env
}

// runPrerequisites runs the checks install and start need before changing anything, prints
// them, and fails on any failure that was not skipped.
func (a *App) runPrerequisites(ctx context.Context, docker *engine.Docker, def *model.Definition, skip []string) error {
	skipped := map[string]string{}
	for _, id := range skip {
		skipped[id] = "skipped by --skip-check " + id
		a.status("WARNING: skipping the %s check (--skip-check); dataeco may fail later in ways it would have caught now", id)
	}
	env := a.checkEnv(docker, nil)
	env.Plan = plan(def)
	// They only read: run at once, a re-run waits for the slowest (docker-compose's Python
	// start-up), not the sum.
	results := checks.RunConcurrently(ctx, env, checks.Prerequisites(), skipped)
	var failed []string
	for _, r := range results {
		if r.Status == checks.Fail {
			failed = append(failed, r.ID)
		}
	}
	writeResults(a.Streams.ErrOut, results, a.Streams.ErrTTY, a.Streams.Color, false)
	if len(failed) > 0 {
		return hint.New(fmt.Sprintf("apply the fixes above, or override one check with --skip-check %s", failed[0]),
			fmt.Errorf("prerequisite checks failed: %s; nothing was changed", strings.Join(failed, ", ")))
	}
	return nil
}
