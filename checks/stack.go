package checks

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/docker/compose/v5/pkg/api"
	"github.com/moby/moby/client"
)

// Check IDs of an installed stack, run by doctor.
const (
	IDInstallDir = "install-dir"
	IDContainers = "containers"
	IDDrift      = "drift"
)

// StackService is one service of the rendered definition.
type StackService struct {
	Name    string
	OneShot bool   // a job expected to run once and exit 0
	Hash    string // Compose's config hash of the rendered service
}

// Stack describes an install for the doctor's checks.
type Stack struct {
	Dir      string
	Project  string
	Files    []string // files the install dir must hold
	Secrets  string   // the credentials file, which must be 0600
	Problem  error    // set when the answers or credentials could not be read
	Services []StackService
	// Swarm: the stack runs as services of the swarm the engine manages (a stack named
	// Project), not as Compose containers.
	Swarm bool
}

// StackChecks diagnose an installed stack.
func StackChecks() []Check {
	return []Check{
		{IDInstallDir, "Install dir", checkInstallDir},
		{IDContainers, "Containers", checkContainers},
		{IDDrift, "Running containers match the rendered definition", checkDrift},
	}
}

func checkInstallDir(_ context.Context, env *Env) Result {
	s := env.Stack
	if s == nil {
		return Result{Status: Skip, Message: "nothing installed"}
	}
	var problems []string
	fix := "run `dataeco install` to render the missing files again (data volumes are kept)"
	for _, f := range s.Files {
		if _, err := os.Stat(filepath.Join(s.Dir, f)); errors.Is(err, fs.ErrNotExist) {
			problems = append(problems, f+" is missing")
		}
	}
	if st, err := os.Stat(s.Secrets); err == nil && st.Mode().Perm()&0o077 != 0 {
		problems = append(problems, fmt.Sprintf("%s has mode %04o, readable by others", filepath.Base(s.Secrets), st.Mode().Perm()))
		fix = fmt.Sprintf("`chmod 600 %s`, and consider its passwords exposed", s.Secrets)
	}
	if st, err := os.Stat(s.Dir); err == nil && st.Mode().Perm()&0o077 != 0 {
		problems = append(problems, fmt.Sprintf("the dir has mode %04o", st.Mode().Perm()))
		fix = fmt.Sprintf("`chmod 700 %s`", s.Dir)
	}
	if s.Problem != nil {
		problems = append(problems, s.Problem.Error())
		fix = "repair or move the damaged file away, then run `dataeco install`"
	}
	if len(problems) > 0 {
		return Result{Status: Fail, Message: s.Dir + ": " + strings.Join(problems, "; "), Fix: fix}
	}
	return Result{Status: Pass, Message: s.Dir + " holds every file, credentials private"}
}

// checkContainers looks at each service's container: state, health, restarts, OOM kills,
// and for anything unwell, its last healthcheck output and log lines.
func checkContainers(ctx context.Context, env *Env) Result {
	if env.Stack != nil && env.Stack.Swarm {
		return checkSwarmServices(ctx, env)
	}
	s, list, stop := stackContainers(ctx, env)
	if stop != nil {
		return *stop
	}
	byService := map[string]string{}
	for _, c := range list.Items {
		byService[c.Labels[api.ServiceLabel]] = c.ID
	}
	var missing, bad, stopped []string
	var diags []*Diagnosis
	healthy := 0
	for _, svc := range s.Services {
		id, ok := byService[svc.Name]
		if !ok {
			missing = append(missing, svc.Name)
			continue
		}
		d, err := DiagnoseContainer(ctx, env.Engine.API, id)
		if err != nil {
			bad = append(bad, svc.Name+": "+err.Error())
			continue
		}
		d.Service = svc.Name
		switch {
		case d.EngineError != "":
			bad = append(bad, svc.Name+": "+d.Explain())
			diags = append(diags, d)
		case svc.OneShot && d.State == "exited" && d.ExitCode == 0:
			healthy++
		case svc.OneShot && d.State == "exited":
			bad = append(bad, fmt.Sprintf("%s failed with exit code %d", svc.Name, d.ExitCode))
			diags = append(diags, d)
		case d.OOMKilled || d.RestartCount >= 2 || d.Health == "unhealthy" || d.State == "restarting" || d.State == "dead" ||
			d.State == "exited" && d.ExitCode != 0:
			bad = append(bad, svc.Name+": "+d.Explain())
			diags = append(diags, d)
		case d.State == "exited" || d.State == "created":
			stopped = append(stopped, svc.Name)
		case d.Health == "starting" && d.FailingStreak > 0:
			stopped = append(stopped, fmt.Sprintf("%s (still starting; its healthcheck has failed %d times in a row)", svc.Name, d.FailingStreak))
			diags = append(diags, d)
		case d.Health == "starting":
			stopped = append(stopped, svc.Name+" (still starting)")
		default:
			healthy++
		}
	}
	r := Result{Diagnoses: diags, Details: map[string]string{"services": fmt.Sprint(len(s.Services)), "ok": fmt.Sprint(healthy)}}
	switch {
	case len(bad) > 0:
		sort.Strings(bad)
		r.Status, r.Message = Fail, strings.Join(bad, "; ")
		r.Fix = "read the log lines below; then `dataeco install` retries, `dataeco logs SERVICE --follow` watches one service"
	case len(missing) > 0:
		r.Status, r.Message = Warn, "no container for "+strings.Join(missing, ", ")
		r.Fix = "run `dataeco install` (after `dataeco down` this is expected)"
	case len(stopped) > 0:
		r.Status, r.Message = Warn, "not ready: "+strings.Join(stopped, ", ")
		r.Fix = "run `dataeco start`, or wait and run `dataeco doctor` again; `dataeco logs SERVICE` shows what a starting service is doing"
	default:
		r.Status, r.Message = Pass, fmt.Sprintf("all %d services running and healthy", len(s.Services))
	}
	return r
}

// checkDrift compares each container's Compose config hash with the rendered definition's:
// a difference means the containers were changed by hand or the install was not re-run
// after an answer changed.
func checkDrift(ctx context.Context, env *Env) Result {
	if env.Stack != nil && env.Stack.Swarm {
		return Result{Status: Skip, Message: "not compared on a swarm install: `dataeco install` deploys again only the services whose definition changed"}
	}
	s, list, stop := stackContainers(ctx, env)
	if stop != nil {
		return *stop
	}
	want := map[string]string{}
	for _, svc := range s.Services {
		want[svc.Name] = svc.Hash
	}
	var drifted, unknown []string
	for _, c := range list.Items {
		name := c.Labels[api.ServiceLabel]
		h, ok := want[name]
		if !ok {
			unknown = append(unknown, name)
			continue
		}
		if h != "" && c.Labels[api.ConfigHashLabel] != h {
			drifted = append(drifted, name)
		}
	}
	sort.Strings(drifted)
	sort.Strings(unknown)
	switch {
	case len(drifted) > 0 || len(unknown) > 0:
		var parts []string
		if len(drifted) > 0 {
			parts = append(parts, "differ from the rendered definition: "+strings.Join(drifted, ", "))
		}
		if len(unknown) > 0 {
			parts = append(parts, "not in the definition: "+strings.Join(unknown, ", "))
		}
		return Result{Status: Warn, Message: "containers " + strings.Join(parts, "; "),
			Fix: "run `dataeco install` to converge (only the differing services are recreated)"}
	}
	return Result{Status: Pass, Message: "every container matches the rendered definition"}
}

// stackContainers lists the install's containers, or says why a stack check cannot look:
// nothing installed, the engine down, or the listing failed.
func stackContainers(ctx context.Context, env *Env) (*Stack, client.ContainerListResult, *Result) {
	s := env.Stack
	if s == nil {
		return nil, client.ContainerListResult{}, &Result{Status: Skip, Message: "nothing installed"}
	}
	if r, down := engineDown(env); down {
		return nil, client.ContainerListResult{}, &r
	}
	list, err := env.Engine.API.ContainerList(ctx, client.ContainerListOptions{All: true,
		Filters: make(client.Filters).Add("label", api.ProjectLabel+"="+s.Project)})
	if err != nil {
		return nil, list, &Result{Status: Fail, Message: "listing containers: " + err.Error(), Fix: "run `docker ps -a`"}
	}
	return s, list, nil
}
