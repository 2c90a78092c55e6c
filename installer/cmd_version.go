package installer

import (
	"github.com/urfave/cli/v2"
)

func (a *App) versionCmd() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the version of dataeco",
		Flags: []cli.Flag{jsonFlag()},
		Action: func(c *cli.Context) error {
			return a.printVersion(c.Bool("json"))
		},
	}
}

// printVersion is `dataeco version` and `dataeco --version`.
func (a *App) printVersion(asJSON bool) error {
	if asJSON {
		return a.printJSON(a.Build)
	}
	a.result("dataeco %s (commit %s, built %s)", a.Build.Version, a.Build.Commit, a.Build.Date)
	return nil
}
