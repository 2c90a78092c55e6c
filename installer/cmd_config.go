package installer

import (
	"github.com/dataeco/dataeco/installer/model"
	"github.com/urfave/cli/v2"
)

func (a *App) configCmd() *cli.Command {
	return &cli.Command{
		Name:  "config",
		Usage: "print the rendered compose file, with docker-compose.override.yml merged over it when you wrote one (secrets stay in .env unless --show-secrets)",
		Flags: []cli.Flag{dirFlag(), &cli.BoolFlag{Name: "show-secrets", Usage: "print the file with every ${VARIABLE} filled in, passwords included", DisableDefaultText: true}},
		Action: func(c *cli.Context) error {
			def, err := a.load(c)
			if err != nil {
				return err
			}
			out, err := model.MergedCompose(c.Context, def.Project.Name, def.Dir, def.Compose, def.Inputs.Override)
			if err != nil {
				return err
			}
			if c.Bool("show-secrets") {
				if out, err = def.Project.MarshalYAML(); err != nil {
					return err
				}
			}
			_, err = a.Streams.Out.Write(out)
			return err
		},
	}
}
