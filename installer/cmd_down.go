package installer

import (
	"fmt"

	"github.com/dataeco/dataeco/installer/engine"
	"github.com/dataeco/dataeco/installer/hint"
	"github.com/dataeco/dataeco/installer/model"
	"github.com/urfave/cli/v2"
)

func (a *App) downCmd() *cli.Command {
	return &cli.Command{
		Name:  "down",
		Usage: "remove containers and networks, keeping volumes (data) and the install dir",
		Flags: []cli.Flag{dirFlag()},
		Action: a.withStack(true, func(c *cli.Context, def *model.Definition, stack *engine.Stack) error {
			if def.Answers.Swarm {
				if err := a.removeSwarm(c.Context, stack.Docker, def, false); err != nil {
					return hint.Wrap(fmt.Errorf("removing the stack from the swarm: %w", err), "run `dataeco status` to see what is left")
				}
				a.result("services, networks and configs removed from the swarm; volumes kept. `dataeco install` deploys the stack again with its data.")
				return nil
			}
			if err := stack.Down(c.Context, false); err != nil {
				return hint.Wrap(fmt.Errorf("removing containers: %w", err), "run `dataeco status` to see what is left")
			}
			a.result("containers removed; volumes kept. `dataeco install` brings the stack back with its data.")
			return nil
		}),
	}
}
