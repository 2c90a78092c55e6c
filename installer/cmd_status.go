package installer

import (
	"context"
	"fmt"
	"time"

	"github.com/dataeco/dataeco/installer/engine"
	"github.com/dataeco/dataeco/installer/hint"
	"github.com/dataeco/dataeco/installer/model"
	"github.com/urfave/cli/v2"
)

// ServiceStatus is one row of `dataeco status`.
type ServiceStatus struct {
	Service string   `json:"service"`
	State   string   `json:"state"`
	Health  string   `json:"health,omitempty"`
	Ports   []string `json:"ports"`
	Uptime  string   `json:"uptime,omitempty"`
	Status  string   `json:"status"`
}

func (a *App) statusCmd() *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "list services with state, health, ports and uptime (--all: every dataeco install on the engine)",
		Flags: []cli.Flag{dirFlag(), jsonFlag(),
			&cli.BoolFlag{Name: "all", Usage: "list every dataeco install the Docker engine runs, with its project, directory and state", DisableDefaultText: true}},
		Action: a.statusAction(a.withStack(false, func(c *cli.Context, def *model.Definition, stack *engine.Stack) error {
			if def.Answers.Swarm {
				return a.swarmStatus(c, def, stack.Docker)
			}
			rows, err := serviceStatuses(c.Context, stack)
			if err != nil {
				return hint.Wrap(fmt.Errorf("listing containers: %w", err), "run `dataeco doctor`")
			}
			overrides := append([]model.Override{}, def.Answers.Overrides()...) // [] rather than null in JSON
			if c.Bool("json") {
				return a.printJSON(map[string]any{"project": def.Project.Name, "services": rows, "image_overrides": overrides})
			}
			if err := writeStatus(a.Streams.Out, rows); err != nil {
				return err
			}
			for _, o := range overrides {
				a.status("%s runs %s (--image), not the pinned %s", o.Name, o.Image, o.Pinned)
			}
			return nil
		})),
	}
}

// statusAction runs one install's status, or with --all lists every install instead: that
// needs no install dir, only the engine.
func (a *App) statusAction(one cli.ActionFunc) cli.ActionFunc {
	return func(c *cli.Context) error {
		if !c.Bool("all") {
			return one(c)
		}
		docker, err := a.connect(c.Context)
		if err != nil {
			return err
		}
		defer docker.Close()
		installs, err := docker.Installs(c.Context, model.SwarmJobLabel)
		if err != nil {
			return hint.Wrap(fmt.Errorf("listing containers: %w", err), "run `dataeco doctor`")
		}
		if c.Bool("json") {
			rows := make([]installRow, len(installs))
			for i, in := range installs {
				rows[i] = installRow{in, in.State()}
			}
			return a.printJSON(map[string]any{"installs": rows})
		}
		if len(installs) == 0 {
			a.status("No dataeco install on this Docker engine: `dataeco install` makes one")
			return nil
		}
		return writeInstalls(a.Streams.Out, installs)
	}
}

// installRow is a line of `status --all --json`.
type installRow struct {
	engine.Install
	State string `json:"state"`
}

// serviceStatuses has a row for every defined service, "not created" when it has no container.
func serviceStatuses(ctx context.Context, stack *engine.Stack) ([]ServiceStatus, error) {
	cs, err := stack.Ps(ctx)
	if err != nil {
		return nil, err
	}
	byService := map[string]ServiceStatus{}
	for _, c := range cs {
		r := ServiceStatus{Service: c.Service, State: string(c.State), Health: string(c.Health), Status: c.Status, Ports: []string{}}
		for _, p := range c.Publishers {
			if p.PublishedPort != 0 {
				r.Ports = append(r.Ports, fmt.Sprintf("%s->%d", p.HostPort(), p.TargetPort))
			}
		}
		if c.State == "running" {
			if t := stack.StartedAt(ctx, c.ID); !t.IsZero() {
				r.Uptime = time.Since(t).Round(time.Second).String()
			}
		}
		byService[c.Service] = r
	}
	var rows []ServiceStatus
	for _, name := range stack.Project.ServiceNames() {
		r, ok := byService[name]
		if !ok {
			r = ServiceStatus{Service: name, State: "not created", Ports: []string{}}
		}
		rows = append(rows, r)
	}
	return rows, nil
}
