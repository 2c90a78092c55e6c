package installer

import (
	"fmt"
	"slices"
	"strings"

	"github.com/dataeco/dataeco/installer/engine"
	"github.com/dataeco/dataeco/installer/hint"
	"github.com/dataeco/dataeco/installer/model"
	"github.com/urfave/cli/v2"
)

func (a *App) restartCmd() *cli.Command {
	return &cli.Command{
		Name:         "restart",
		Usage:        "restart services or components (everything when none is named) and wait until they are ready",
		ArgsUsage:    "[SERVICE|COMPONENT...]",
		BashComplete: a.completeServices,
		Flags:        []cli.Flag{dirFlag(), timeoutFlag(), keepOnFailureFlag()},
		Action: a.withStack(true, func(c *cli.Context, def *model.Definition, stack *engine.Stack) error {
			services, err := namedServices(def, c.Args().Slice())
			if err != nil {
				return err
			}
			what := "every service"
			if len(services) > 0 {
				what = strings.Join(services, ", ")
			}
			a.status("Restarting %s", what)
			if def.Answers.Swarm {
				if err := a.restartSwarm(c, def, stack.Docker, services); err != nil {
					return err
				}
				a.result("restarted %s; ready.", what)
				return nil
			}
			err = stack.Restart(c.Context, services, timeouts(c))
			if err != nil {
				return a.startFailure(c.Context, stack, err, c.Bool("keep-on-failure"), "restart")
			}
			a.result("restarted %s; ready.", what)
			return nil
		}),
	}
}

// namedServices turns the names a user gave into the install's services: a service as it is,
// a component as its long-running services (its one-shot jobs ran once and stay done).
func namedServices(def *model.Definition, names []string) ([]string, error) {
	var out []string
	for _, n := range names {
		if _, ok := def.Project.Services[n]; ok {
			out = append(out, n)
			continue
		}
		if !slices.Contains(model.Components(), n) || !def.Answers.Has(n) {
			return nil, hint.UsageHint(fmt.Sprintf("services: %s; components: %s", strings.Join(def.Project.ServiceNames(), ", "),
				strings.Join(installedComponents(def.Answers), ", ")), fmt.Errorf("no service or component %q in this install", n))
		}
		for _, name := range def.Project.ServiceNames() {
			if row, ok := model.Lookup(name); ok && row.Component == n && !row.Job {
				out = append(out, name)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func installedComponents(a *model.Answers) []string {
	var out []string
	for _, c := range model.Components() {
		if a.Has(c) {
			out = append(out, c)
		}
	}
	return out
}
