package installer

import (
	"fmt"
	"os"

	"github.com/dataeco/dataeco/installer/engine"
	"github.com/dataeco/dataeco/installer/hint"
	"github.com/dataeco/dataeco/installer/model"
	"github.com/urfave/cli/v2"
)

func (a *App) uninstallCmd() *cli.Command {
	remove := a.withStack(true, func(c *cli.Context, def *model.Definition, stack *engine.Stack) error {
		purge := c.Bool("purge")
		down := func() error { return stack.Down(c.Context, purge) }
		if def.Answers.Swarm {
			down = func() error { return a.removeSwarm(c.Context, stack.Docker, def, purge) }
		}
		if err := down(); err != nil {
			return hint.Wrap(fmt.Errorf("removing the stack: %w", err), "run `dataeco status` to see what is left, then try again")
		}
		if !purge {
			a.result("containers and networks removed; volumes and %s kept (`dataeco uninstall --purge` deletes them)", def.Dir)
			return nil
		}
		if err := os.RemoveAll(def.Dir); err != nil {
			return hint.Wrap(fmt.Errorf("removing %s: %w", def.Dir, err), "remove it by hand")
		}
		a.result("removed containers, networks, volumes and %s", def.Dir)
		return nil
	})
	return &cli.Command{
		Name:  "uninstall",
		Usage: "remove containers and networks; with --purge also every volume and the install dir",
		Flags: []cli.Flag{dirFlag(),
			&cli.BoolFlag{Name: "purge", Usage: "also delete all data volumes and the install dir (credentials included)", DisableDefaultText: true},
			yesFlag("do not ask for confirmation"),
		},
		Action: func(c *cli.Context) error {
			if c.Bool("purge") && !c.Bool("yes") {
				ok, err := a.confirmPurge(c)
				if err != nil || !ok {
					return err
				}
			}
			return remove(c)
		},
	}
}

// confirmPurge asks before everything is deleted; without a terminal it refuses.
func (a *App) confirmPurge(c *cli.Context) (bool, error) {
	dir, err := a.installDir(c)
	if err != nil {
		return false, err
	}
	p, err := a.prompter()
	if err != nil {
		return false, hint.UsageHint("add --yes to confirm: dataeco uninstall --purge --yes",
			fmt.Errorf("--purge deletes every volume and %s, and there is no terminal to confirm on", dir))
	}
	ok, err := p.Confirm(fmt.Sprintf("Delete all dataeco data (Kafka, Cassandra, PostgreSQL volumes) and %s?", dir), false)
	if err == nil && !ok {
		a.status("nothing removed")
	}
	return ok, err
}
