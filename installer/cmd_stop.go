package installer

import (
	"fmt"

	"github.com/dataeco/dataeco/installer/engine"
	"github.com/dataeco/dataeco/installer/hint"
	"github.com/dataeco/dataeco/installer/model"
	"github.com/urfave/cli/v2"
)

func (a *App) stopCmd() *cli.Command {
	return &cli.Command{
		Name:  "stop",
		Usage: "stop every container; containers and data are kept (dataeco start resumes)",
		Flags: []cli.Flag{dirFlag()},
		Action: a.withStack(true, func(c *cli.Context, _ *model.Definition, stack *engine.Stack) error {
			if err := stack.Stop(c.Context); err != nil {
				return hint.Wrap(fmt.Errorf("stopping: %w", err), "run `dataeco status` to see what is still running")
			}
			a.result("stopped; data is kept. `dataeco start` resumes.")
			return nil
		}),
	}
}
