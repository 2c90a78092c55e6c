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
		Action: a.withStack(true, func(c *cli.Context, _ *model.Definition, stack *engine.Stack) error {
			if err := stack.Down(c.Context, false); err != nil {
				return hint.Wrap(fmt.Errorf("removing containers: %w", err), "run `dataeco status` to see what is left")
			}
			a.result("containers removed; volumes kept. `dataeco install` brings the stack back with its data.")
			return nil
		}),
	}
}
