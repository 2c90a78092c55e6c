package installer

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dataeco/dataeco/installer/engine"
	"github.com/dataeco/dataeco/installer/hint"
	"github.com/dataeco/dataeco/installer/model"
	"github.com/urfave/cli/v2"
)

func (a *App) resetCmd() *cli.Command {
	return &cli.Command{
		Name:      "reset",
		Usage:     "wipe components' data and bring them back empty; the others keep running and keep theirs",
		ArgsUsage: "COMPONENT...",
		Description: "kafka: topics and ZooKeeper's state (and the streaming job's checkpoints, which point into\n" +
			"them); cassandra: its data (the keyspace and user come back); airflow: PostgreSQL's database\n" +
			"and the logs (the admin comes back); spark: the streaming job's checkpoints. Services that\n" +
			"depend on a reset one (the streaming job on Cassandra) are stopped meanwhile and started after.",
		BashComplete: func(c *cli.Context) { completeWords(c, model.Components()) },
		Flags:        []cli.Flag{dirFlag(), yesFlag("do not ask for confirmation"), timeoutFlag(), keepOnFailureFlag()},
		Action: a.withStack(true, func(c *cli.Context, def *model.Definition, stack *engine.Stack) error {
			comps := c.Args().Slice()
			if len(comps) == 0 {
				return hint.UsageHint("for example: dataeco reset cassandra", fmt.Errorf("reset needs the components to wipe"))
			}
			for _, comp := range comps {
				if !slices.Contains(model.Components(), comp) || !def.Answers.Has(comp) {
					return hint.UsageHint("components of this install: "+strings.Join(installedComponents(def.Answers), ", "),
						fmt.Errorf("no component %q in this install", comp))
				}
			}
			plan, err := model.PlanReset(def, comps)
			if err != nil {
				return err
			}
			if ok, err := a.confirmReset(c, plan); err != nil || !ok {
				return err
			}
			start := time.Now()
			if len(plan.Paused) > 0 {
				a.status("Stopping %s while the reset runs (depending on what it resets); started again after", strings.Join(plan.Paused, ", "))
			}
			a.status("Removing %s and the volumes %s", strings.Join(plan.Services, ", "), strings.Join(plan.EngineVolumes, ", "))
			if err := stack.Reset(c.Context, plan.Services, plan.EngineVolumes, plan.Paused, timeouts(c)); err != nil {
				return a.startFailure(c.Context, stack, err, c.Bool("keep-on-failure"), "install")
			}
			a.result("reset %s in %s: %s back, empty", strings.Join(comps, ", "), time.Since(start).Round(time.Second), strings.Join(plan.Services, ", "))
			return nil
		}),
	}
}

// confirmReset names exactly which volumes go; --yes answers, and without a terminal it
// refuses rather than guess.
func (a *App) confirmReset(c *cli.Context, plan model.ResetPlan) (bool, error) {
	if c.Bool("yes") {
		return true, nil
	}
	what := fmt.Sprintf("delete the volumes %s (their data is gone for good) and recreate %s",
		strings.Join(plan.EngineVolumes, ", "), strings.Join(plan.Services, ", "))
	if len(plan.Paused) > 0 {
		what += ", restarting " + strings.Join(plan.Paused, ", ") + " after"
	}
	p, err := a.prompter()
	if err != nil {
		return false, hint.UsageHint("add --yes to confirm: dataeco reset --yes "+strings.Join(c.Args().Slice(), " "),
			fmt.Errorf("reset would %s, and there is no terminal to confirm on", what))
	}
	ok, err := p.Confirm(strings.ToUpper(what[:1])+what[1:]+"?", false)
	if err == nil && !ok {
		a.status("nothing changed")
	}
	return ok, err
}
