package installer

import (
	"context"
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
		Action: a.withStack(true, func(c *cli.Context, def *model.Definition, stack *engine.Stack) error {
			stop := stack.Stop
			if def.Answers.Swarm {
				stop = func(ctx context.Context) error { return a.stopSwarm(ctx, def, stack.Docker) }
			}
			if err := stop(c.Context); err != nil {
				return hint.Wrap(fmt.Errorf("stopping: %w", err), "run `dataeco status` to see what is still running")
			}
			a.result("stopped; data is kept. `dataeco start` resumes.")
			return nil
		}),
	}
}
