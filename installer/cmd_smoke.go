package installer

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dataeco/dataeco/checks"
	"github.com/urfave/cli/v2"
)

// SmokeTarget says where the installed stack answers from this machine.
func SmokeTarget(a *Answers, s Secrets, pipelineTimeout time.Duration) *checks.SmokeTarget {
	host := a.Listen
	if host == "0.0.0.0" || host == "[::]" || host == "" {
		host = "127.0.0.1"
	}
	hp := func(key string) string { return fmt.Sprintf("%s:%d", strings.Trim(host, "[]"), a.Ports[key]) }
	if strings.HasPrefix(host, "[") {
		hp = func(key string) string { return fmt.Sprintf("%s:%d", host, a.Ports[key]) }
	}
	t := &checks.SmokeTarget{
		// The broker advertises localhost:PORT to host clients, whatever --listen says.
		Kafka:           fmt.Sprintf("localhost:%d", a.Ports["kafka"]),
		Topic:           "users_created",
		Keyspace:        "spark_streams",
		Table:           "created_users",
		PipelineTimeout: pipelineTimeout,
	}
	if a.Has(CompSchemaRegistry) {
		t.SchemaRegistryURL = "http://" + hp("schema_registry")
	}
	if a.Has(CompControlCenter) {
		t.ControlCenterURL = "http://" + hp("control_center") + "/"
	}
	if a.Has(CompCassandra) {
		t.Cassandra, t.CassandraUser, t.CassandraPassword = hp("cassandra"), s[keyCassandraUser], s[keyCassandraPassword]
	}
	if a.Has(CompSpark) {
		t.SparkMasterURL = "http://" + hp("spark_ui")
		t.SparkWorkers, t.SparkWorkerCores, t.SparkWorkerMemMiB = a.SparkWorkers, a.SparkWorkerCores, int(a.SparkWorkerMemory)
		if a.Has(CompCassandra) {
			t.SparkApp = "dataeco-stream-users"
		}
	}
	if a.Has(CompAirflow) {
		t.AirflowURL, t.AirflowUser, t.AirflowPassword = "http://"+hp("airflow"), s[keyAirflowAdminUser], s[keyAirflowAdminPass]
	}
	return t
}

func pipelineTimeoutFlag() cli.Flag {
	return &cli.DurationFlag{Name: "pipeline-timeout", Value: 2 * time.Minute, Usage: "how long the pipeline smoke check waits for its record in Cassandra", EnvVars: []string{"DATAECO_PIPELINE_TIMEOUT"}}
}

func (a *App) smokeCmd() *cli.Command {
	return &cli.Command{
		Name:  "smoke",
		Usage: "prove each component works: Kafka round trip, schema, CQL login, Spark workers and job, Airflow DAG, and a record through the pipeline",
		Flags: []cli.Flag{dirFlag(), &cli.BoolFlag{Name: "json", Usage: "print JSON"}, pipelineTimeoutFlag()},
		Action: func(c *cli.Context) error {
			inst, err := a.loadInstalled(c)
			if err != nil {
				return err
			}
			results := a.runSmoke(c.Context, inst.Answers, inst.Secrets, c.Duration("pipeline-timeout"))
			if c.Bool("json") {
				if err := a.printJSON(map[string]any{"checks": results}); err != nil {
					return err
				}
			} else {
				writeSmokeTable(a.Streams.Out, results)
			}
			return smokeError(results)
		},
	}
}

func (a *App) runSmoke(ctx context.Context, ans *Answers, s Secrets, timeout time.Duration) []checks.Result {
	env := &checks.Env{Smoke: SmokeTarget(ans, s, timeout)}
	return checks.Run(ctx, env, checks.SmokeChecks(), nil)
}

func smokeError(results []checks.Result) error {
	var failed []string
	for _, r := range results {
		if r.Status == checks.Fail {
			failed = append(failed, r.ID)
		}
	}
	if len(failed) == 0 {
		return nil
	}
	return &Error{Code: ExitFailure, Err: fmt.Errorf("smoke checks failed: %s", strings.Join(failed, ", ")),
		Hint: "each failure above names its fix; `dataeco doctor` looks at every container"}
}

// writeSmokeTable prints one row per check: PASS/FAIL/SKIP, its time and what it found.
func writeSmokeTable(w io.Writer, results []checks.Result) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tRESULT\tTIME\tDETAIL")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%s\t%.1fs\t%s\n", r.ID, strings.ToUpper(string(r.Status)), float64(r.DurationMS)/1000, r.Message)
	}
	tw.Flush()
	for _, r := range results {
		if r.Status == checks.Fail && r.Fix != "" {
			fmt.Fprintf(w, "%s: %s\n", r.ID, r.Fix)
		}
	}
}
