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
			creds := credentials(def.Answers, def.Secrets)
			if c.Bool("json") {
				return a.printJSON(creds)
			}
			return writeCredentials(a.Streams.Out, creds)
		},
	}
}

// credentials lists the logins of the installed components: those they always have, and
// the ones dataeco adds when the stack is published off loopback (Answers.Guarded).
func credentials(a *model.Answers, s model.Secrets) []credential {
	var out []credential
	add := func(on bool, service, user, password string) {
		if on {
			out = append(out, credential{service, user, password})
		}
	}
	add(a.Has(model.CompAirflow), "airflow", s[model.KeyAirflowAdminUser], s[model.KeyAirflowAdminPass])
	add(a.Has(model.CompAirflow), "postgres", "airflow", s[model.KeyPostgresPassword])
	add(a.Has(model.CompCassandra), "cassandra", s[model.KeyCassandraUser], s[model.KeyCassandraPassword])
	if a.Guarded() {
		add(true, "kafka", s[model.KeyKafkaUser], s[model.KeyKafkaPassword])
		add(a.Has(model.CompSchemaRegistry), "schema-registry", s[model.KeySchemaRegistryUser], s[model.KeySchemaRegistryPassword])
		add(a.Has(model.CompControlCenter), "control-center", s[model.KeyControlCenterUser], s[model.KeyControlCenterPassword])
		// Spark's authentication has a secret and no user name.
		add(a.Has(model.CompSpark), "spark", "-", s[model.KeySparkSecret])
	}
	return out
}
