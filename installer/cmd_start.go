package installer

import (
	"github.com/dataeco/dataeco/installer/engine"
	"github.com/dataeco/dataeco/installer/model"
	"github.com/urfave/cli/v2"
)

func (a *App) startCmd() *cli.Command {
	return &cli.Command{
		Name:  "start",
		Usage: "start a stopped install and wait until it is healthy",
		Flags: []cli.Flag{dirFlag(), timeoutFlag(), skipCheckFlag(), keepOnFailureFlag()},
		Action: a.withStack(true, func(c *cli.Context, def *model.Definition, stack *engine.Stack) error {
			if err := a.runPrerequisites(c.Context, stack.Docker, def, c.StringSlice("skip-check")); err != nil {
				return err
			}
			// A new dataeco binary renders its own pins: start would recreate on them.
			if err := a.checkImageMoves(c.Context, stack, def); err != nil {
				return err
			}
			if def.Answers.Swarm {
				if err := a.startSwarm(c, def, stack.Docker); err != nil {
					return err
				}
				a.result("dataeco is running on the swarm:")
				writeEndpoints(a.Streams.Out, endpoints(def))
				return nil
			}
			if err := a.bringUp(c.Context, stack, timeouts(c), c.Bool("keep-on-failure"), "start"); err != nil {
				return err
			}
			a.result("dataeco is running:")
			writeEndpoints(a.Streams.Out, endpoints(def))
			return nil
		}),
	}
}
