package installer

import (
	"fmt"
	"strings"

	"github.com/dataeco/dataeco/installer/engine"
	"github.com/dataeco/dataeco/installer/hint"
	"github.com/dataeco/dataeco/installer/model"
	"github.com/urfave/cli/v2"
)

func (a *App) logsCmd() *cli.Command {
	return &cli.Command{
		Name:         "logs",
		Usage:        "show service logs",
		ArgsUsage:    "[SERVICE...]",
		BashComplete: a.completeServices,
		Flags: []cli.Flag{dirFlag(),
			&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "keep streaming new lines", DisableDefaultText: true},
			&cli.StringFlag{Name: "tail", Value: "100", DefaultText: "100", Usage: "show the last `N` lines of each log, or all"},
		},
		Action: a.withStack(false, func(c *cli.Context, def *model.Definition, stack *engine.Stack) error {
			services := c.Args().Slice()
			if def.Answers.Swarm {
				return a.swarmLogs(c, def, stack.Docker, services)
			}
			for _, s := range services {
				if _, ok := def.Project.Services[s]; !ok {
					return hint.UsageHint("services: "+strings.Join(def.Project.ServiceNames(), ", "),
						fmt.Errorf("no service %q in this install", s))
				}
			}
			return stack.Logs(c.Context, a.Streams.Out, services, c.Bool("follow"), c.String("tail"))
		}),
	}
}
