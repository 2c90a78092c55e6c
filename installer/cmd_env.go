package installer

import (
	"sort"
	"strconv"
	"strings"

	"github.com/dataeco/dataeco/embedded/pipeline"
	"github.com/dataeco/dataeco/installer/model"
	"github.com/urfave/cli/v2"
)

func (a *App) envCmd() *cli.Command {
	return &cli.Command{
		Name:  "env",
		Usage: "print the install's connection details as environment variables, for your own code",
		Description: "KEY=value lines for a dotenv file; --shell writes export lines, for\n" +
			"eval \"$(dataeco env --shell)\"; --json an object. Passwords only with --show-secrets.",
		Flags: []cli.Flag{dirFlag(), jsonFlag(),
			&cli.BoolFlag{Name: "shell", Usage: "print export lines for a POSIX shell", DisableDefaultText: true},
			&cli.BoolFlag{Name: "show-secrets", Usage: "include the passwords", DisableDefaultText: true},
		},
		Action: func(c *cli.Context) error {
			def, err := a.load(c)
			if err != nil {
				return err
			}
			vars, hidden := connectionEnv(def, c.Bool("show-secrets"))
			switch {
			case c.Bool("json"):
				return a.printJSON(vars)
			case c.Bool("shell"):
				writeEnv(a.Streams.Out, vars, hidden, func(k, v string) string { return "export " + k + "=" + shellQuote(v) })
			default:
				writeEnv(a.Streams.Out, vars, hidden, func(k, v string) string { return k + "=" + v })
			}
			return nil
		},
	}
}

// connectionEnv is every connection detail of the installed components, at the host the
// install advertises. Passwords are left out (and named in hidden) unless showSecrets.
func connectionEnv(def *model.Definition, showSecrets bool) (vars map[string]string, hidden []string) {
	a, host, s := def.Answers, def.Advertised(), def.Secrets
	vars = map[string]string{}
	for _, e := range endpoints(def) {
		if e.Env != "" {
			vars[e.Env] = e.URL
		}
	}
	secret := func(key, value string) {
		if showSecrets {
			vars[key] = value
		} else {
			hidden = append(hidden, key)
		}
	}
	vars["KAFKA_TOPIC"] = pipeline.Topic
	if a.Has(model.CompAirflow) {
		vars["AIRFLOW_USER"] = s[model.KeyAirflowAdminUser]
		secret("AIRFLOW_PASSWORD", s[model.KeyAirflowAdminPass])
	}
	if a.Has(model.CompCassandra) {
		vars["CASSANDRA_HOST"], vars["CASSANDRA_PORT"] = host, strconv.Itoa(a.Ports["cassandra"])
		vars["CASSANDRA_USER"], vars["CASSANDRA_KEYSPACE"] = s[model.KeyCassandraUser], pipeline.Keyspace
		secret("CASSANDRA_PASSWORD", s[model.KeyCassandraPassword])
	}
	if a.Guarded() {
		// The client settings of Kafka's host listener, named as librdkafka and most clients
		// name them (security.protocol, sasl.mechanism, sasl.username, sasl.password).
		vars["KAFKA_SECURITY_PROTOCOL"], vars["KAFKA_SASL_MECHANISM"] = "SASL_PLAINTEXT", "PLAIN"
		vars["KAFKA_SASL_USERNAME"] = s[model.KeyKafkaUser]
		secret("KAFKA_SASL_PASSWORD", s[model.KeyKafkaPassword])
		if a.Has(model.CompSchemaRegistry) {
			vars["SCHEMA_REGISTRY_USER"] = s[model.KeySchemaRegistryUser]
			secret("SCHEMA_REGISTRY_PASSWORD", s[model.KeySchemaRegistryPassword])
		}
		if a.Has(model.CompControlCenter) {
			vars["CONTROL_CENTER_USER"] = s[model.KeyControlCenterUser]
			secret("CONTROL_CENTER_PASSWORD", s[model.KeyControlCenterPassword])
		}
		if a.Has(model.CompSpark) {
			// spark-submit (and pyspark, which runs it) reads SPARK_SUBMIT_OPTS as JVM
			// options: with it exported, a plain `spark-submit --master $SPARK_MASTER_URL`
			// authenticates to the master.
			secret("SPARK_AUTH_SECRET", s[model.KeySparkSecret])
			secret("SPARK_SUBMIT_OPTS", model.SparkAuthOpts(s))
		}
	}
	sort.Strings(hidden)
	return vars, hidden
}

// shellQuote quotes a value for a POSIX shell: single quotes, with any single quote closed,
// escaped and reopened.
func shellQuote(v string) string { return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'" }
