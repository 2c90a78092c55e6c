package installer

import (
	"github.com/dataeco/dataeco/installer/model"
	"github.com/urfave/cli/v2"
)

// credential is one generated login.
type credential struct {
	Service  string `json:"service"`
	User     string `json:"user"`
	Password string `json:"password"`
}

func (a *App) credentialsCmd() *cli.Command {
	return &cli.Command{
		Name:  "credentials",
		Usage: "print the generated users and passwords of this install",
		Flags: []cli.Flag{dirFlag(), jsonFlag()},
		Action: func(c *cli.Context) error {
			def, err := a.load(c)
			if err != nil {
				return err
			}
			s := def.Secrets
			creds := []credential{
				{"airflow", s[model.KeyAirflowAdminUser], s[model.KeyAirflowAdminPass]},
				{"postgres", "airflow", s[model.KeyPostgresPassword]},
				{"cassandra", s[model.KeyCassandraUser], s[model.KeyCassandraPassword]},
			}
			if c.Bool("json") {
				return a.printJSON(creds)
			}
			return writeCredentials(a.Streams.Out, creds)
		},
	}
}
