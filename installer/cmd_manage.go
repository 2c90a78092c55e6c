package installer

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/urfave/cli/v2"
)

// openStack connects to Docker and loads the installed project.
func (a *App) openStack(c *cli.Context) (*installed, *Stack, *types.Project, error) {
	inst, err := a.loadInstalled(c)
	if err != nil {
		return nil, nil, nil, err
	}
	return a.openInstalled(c, inst)
}

// openStackLocked is openStack for commands that change the install: they hold its lock
// until the command ends.
func (a *App) openStackLocked(c *cli.Context) (*installed, *Stack, *types.Project, func(), error) {
	inst, err := a.loadInstalled(c)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	release, err := lockInstall(inst.Dir, c.Command.Name)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	i, s, p, err := a.openInstalled(c, inst)
	if err != nil {
		release()
		return nil, nil, nil, nil, err
	}
	return i, s, p, release, nil
}

// withLockedStack wraps an action that changes the install: it holds the install's lock and
// an engine connection for the action's duration.
func (a *App) withLockedStack(action func(*cli.Context, *installed, *Stack, *types.Project) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		inst, stack, project, release, err := a.openStackLocked(c)
		if err != nil {
			return err
		}
		defer release()
		defer stack.Docker.Close()
		return action(c, inst, stack, project)
	}
}

func (a *App) openInstalled(c *cli.Context, inst *installed) (*installed, *Stack, *types.Project, error) {
	project, err := LoadProject(c.Context, inst.Answers.Project, inst.Dir, inst.Compose, inst.Secrets)
	if err != nil {
		return nil, nil, nil, err
	}
	docker, err := a.connect(c.Context)
	if err != nil {
		return nil, nil, nil, err
	}
	stack, err := NewStack(docker, a.Streams, inst.Answers.Project)
	if err != nil {
		docker.Close()
		return nil, nil, nil, err
	}
	return inst, stack, project, nil
}

func (a *App) startCmd() *cli.Command {
	return &cli.Command{
		Name:  "start",
		Usage: "start a stopped install and wait until it is healthy",
		Flags: []cli.Flag{dirFlag(),
			&cli.DurationFlag{Name: "timeout", Usage: "how long each service may take to become ready", EnvVars: []string{"DATAECO_TIMEOUT"}},
			skipCheckFlag(), keepOnFailureFlag()},
		Action: func(c *cli.Context) error {
			inst, stack, project, release, err := a.openStackLocked(c)
			if err != nil {
				return err
			}
			defer release()
			defer stack.Docker.Close()
			if err := a.runPrerequisites(c.Context, stack.Docker, inst.Answers, project, c.StringSlice("skip-check")); err != nil {
				return err
			}
			if err := stack.Up(c.Context, project, c.Duration("timeout")); err != nil {
				if f, ok := asServiceFailure(err); ok {
					a.printFailure(f)
					return a.afterFailure(stack, project, c.Bool("keep-on-failure"), f.Service, "dataeco start",
						&Error{Code: ExitFailure, Err: fmt.Errorf("service %s %s", f.Service, f.Reason)})
				}
				return err
			}
			fmt.Fprintln(a.Streams.Out, "dataeco is running:")
			writeEndpoints(a.Streams.Out, Endpoints(inst.Answers))
			return nil
		},
	}
}

func (a *App) stopCmd() *cli.Command {
	return &cli.Command{
		Name:  "stop",
		Usage: "stop every container; containers and data are kept (`dataeco start` resumes)",
		Flags: []cli.Flag{dirFlag()},
		Action: a.withLockedStack(func(c *cli.Context, _ *installed, stack *Stack, project *types.Project) error {
			if err := stack.Stop(c.Context, project); err != nil {
				return WithHint(fmt.Errorf("stopping: %w", err), "run `dataeco status` to see what is still running")
			}
			fmt.Fprintln(a.Streams.Out, "stopped; data is kept. `dataeco start` resumes.")
			return nil
		}),
	}
}

func (a *App) downCmd() *cli.Command {
	return &cli.Command{
		Name:  "down",
		Usage: "remove containers and networks, keeping volumes (data) and the install dir",
		Flags: []cli.Flag{dirFlag()},
		Action: a.withLockedStack(func(c *cli.Context, _ *installed, stack *Stack, project *types.Project) error {
			if err := stack.Down(c.Context, project, false); err != nil {
				return WithHint(fmt.Errorf("removing containers: %w", err), "run `dataeco status` to see what is left")
			}
			fmt.Fprintln(a.Streams.Out, "containers removed; volumes kept. `dataeco install` brings the stack back with its data.")
			return nil
		}),
	}
}

func (a *App) uninstallCmd() *cli.Command {
	return &cli.Command{
		Name:  "uninstall",
		Usage: "remove containers and networks; with --purge also every volume and the install dir",
		Flags: []cli.Flag{dirFlag(),
			&cli.BoolFlag{Name: "purge", Usage: "also delete all data volumes and the install dir (credentials included)"},
			&cli.BoolFlag{Name: "yes", Aliases: []string{"y"}, Usage: "do not ask for confirmation", EnvVars: []string{"DATAECO_YES"}},
		},
		Action: func(c *cli.Context) error {
			purge := c.Bool("purge")
			if purge && !c.Bool("yes") {
				dir, err := a.installDir(c)
				if err != nil {
					return err
				}
				p, err := a.prompter()
				if err != nil {
					return &Error{Code: ExitUsage, Err: fmt.Errorf("--purge deletes every volume and %s, and there is no terminal to confirm on", dir),
						Hint: "add --yes to confirm: dataeco uninstall --purge --yes"}
				}
				ok, err := p.Confirm(fmt.Sprintf("Delete all dataeco data (Kafka, Cassandra, PostgreSQL volumes) and %s?", dir), false)
				if err != nil {
					return err
				}
				if !ok {
					fmt.Fprintln(a.Streams.ErrOut, "nothing removed")
					return nil
				}
			}
			inst, stack, project, release, err := a.openStackLocked(c)
			if err != nil {
				return err
			}
			defer release()
			defer stack.Docker.Close()
			if err := stack.Down(c.Context, project, purge); err != nil {
				return WithHint(fmt.Errorf("removing the stack: %w", err), "run `dataeco status` to see what is left, then try again")
			}
			if !purge {
				fmt.Fprintf(a.Streams.Out, "containers and networks removed; volumes and %s kept (`dataeco uninstall --purge` deletes them)\n", inst.Dir)
				return nil
			}
			if err := os.RemoveAll(inst.Dir); err != nil {
				return WithHint(fmt.Errorf("removing %s: %w", inst.Dir, err), "remove it by hand")
			}
			fmt.Fprintf(a.Streams.Out, "removed containers, networks, volumes and %s\n", inst.Dir)
			return nil
		},
	}
}

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
		Usage: "list services with state, health, ports and uptime",
		Flags: []cli.Flag{dirFlag(), &cli.BoolFlag{Name: "json", Usage: "print JSON for scripts"}},
		Action: func(c *cli.Context) error {
			_, stack, project, err := a.openStack(c)
			if err != nil {
				return err
			}
			defer stack.Docker.Close()
			rows, err := serviceStatuses(c.Context, stack, project)
			if err != nil {
				return WithHint(fmt.Errorf("listing containers: %w", err), "run `dataeco doctor`")
			}
			if c.Bool("json") {
				return a.printJSON(map[string]any{"project": project.Name, "services": rows})
			}
			tw := tabwriter.NewWriter(a.Streams.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SERVICE\tSTATE\tHEALTH\tPORTS\tUPTIME")
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Service, r.State, dash(r.Health), dash(strings.Join(r.Ports, ", ")), dash(r.Uptime))
			}
			return tw.Flush()
		},
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// serviceStatuses has a row for every defined service, "not created" when it has no container.
func serviceStatuses(ctx context.Context, stack *Stack, project *types.Project) ([]ServiceStatus, error) {
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
		if c.State == "running" && c.Created > 0 {
			if ins, err := stack.Docker.API.ContainerInspect(ctx, c.ID, inspectOpts()); err == nil && ins.Container.State != nil {
				if t, err := time.Parse(time.RFC3339Nano, ins.Container.State.StartedAt); err == nil {
					r.Uptime = time.Since(t).Round(time.Second).String()
				}
			}
		}
		byService[c.Service] = r
	}
	var rows []ServiceStatus
	for _, name := range project.ServiceNames() {
		r, ok := byService[name]
		if !ok {
			r = ServiceStatus{Service: name, State: "not created", Ports: []string{}}
		}
		rows = append(rows, r)
	}
	return rows, nil
}

func (a *App) logsCmd() *cli.Command {
	return &cli.Command{
		Name:         "logs",
		Usage:        "show service logs",
		ArgsUsage:    "[SERVICE...]",
		BashComplete: a.completeServices,
		Flags: []cli.Flag{dirFlag(),
			&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "keep streaming new lines"},
			&cli.StringFlag{Name: "tail", Value: "100", Usage: "lines from the end of each log, or all"},
		},
		Action: func(c *cli.Context) error {
			_, stack, project, err := a.openStack(c)
			if err != nil {
				return err
			}
			defer stack.Docker.Close()
			services := c.Args().Slice()
			for _, s := range services {
				if _, ok := project.Services[s]; !ok {
					return &Error{Code: ExitUsage, Err: fmt.Errorf("no service %q in this install", s),
						Hint: "services: " + strings.Join(project.ServiceNames(), ", ")}
				}
			}
			return stack.Logs(c.Context, a.Streams.Out, services, c.Bool("follow"), c.String("tail"))
		},
	}
}

func (a *App) configCmd() *cli.Command {
	return &cli.Command{
		Name:  "config",
		Usage: "print the rendered compose file (secrets stay in .env unless --show-secrets)",
		Flags: []cli.Flag{dirFlag(), &cli.BoolFlag{Name: "show-secrets", Usage: "print the file with every ${VARIABLE} filled in, passwords included"}},
		Action: func(c *cli.Context) error {
			inst, err := a.loadInstalled(c)
			if err != nil {
				return err
			}
			if !c.Bool("show-secrets") {
				_, err := a.Streams.Out.Write(inst.Compose)
				return err
			}
			p, err := LoadProject(c.Context, inst.Answers.Project, inst.Dir, inst.Compose, inst.Secrets)
			if err != nil {
				return err
			}
			b, err := p.MarshalYAML()
			if err != nil {
				return err
			}
			_, err = a.Streams.Out.Write(b)
			return err
		},
	}
}

func (a *App) credentialsCmd() *cli.Command {
	return &cli.Command{
		Name:  "credentials",
		Usage: "print the generated users and passwords of this install",
		Flags: []cli.Flag{dirFlag(), &cli.BoolFlag{Name: "json", Usage: "print JSON for scripts"}},
		Action: func(c *cli.Context) error {
			inst, err := a.loadInstalled(c)
			if err != nil {
				return err
			}
			s := inst.Secrets
			creds := []struct {
				Service  string `json:"service"`
				User     string `json:"user"`
				Password string `json:"password"`
			}{
				{"airflow", s[keyAirflowAdminUser], s[keyAirflowAdminPass]},
				{"postgres", "airflow", s[keyPostgresPassword]},
				{"cassandra", s[keyCassandraUser], s[keyCassandraPassword]},
			}
			if c.Bool("json") {
				return a.printJSON(creds)
			}
			tw := tabwriter.NewWriter(a.Streams.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SERVICE\tUSER\tPASSWORD")
			for _, cr := range creds {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", cr.Service, cr.User, cr.Password)
			}
			return tw.Flush()
		},
	}
}

func (a *App) versionCmd() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the version of dataeco",
		Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON"}},
		Action: func(c *cli.Context) error {
			if c.Bool("json") {
				return json.NewEncoder(a.Streams.Out).Encode(a.Build)
			}
			fmt.Fprintf(a.Streams.Out, "dataeco %s (commit %s, built %s)\n", a.Build.Version, a.Build.Commit, a.Build.Date)
			return nil
		},
	}
}
