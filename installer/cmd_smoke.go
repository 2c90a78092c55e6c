package installer

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/dataeco/dataeco/checks"
	"github.com/dataeco/dataeco/embedded/pipeline"
	"github.com/dataeco/dataeco/installer/hint"
	"github.com/dataeco/dataeco/installer/model"
	"github.com/urfave/cli/v2"
)

func (a *App) smokeCmd() *cli.Command {
	return &cli.Command{
		Name:  "smoke",
		Usage: "prove each component works, and a record goes through the pipeline",
		Description: "A Kafka round trip, a schema stored and read back, a CQL login with the generated user, Spark's\n" +
			"workers and the streaming job, Airflow's health and the DAG, the Control Center UI, and a\n" +
			"marked record from Kafka through Spark into Cassandra.",
		Flags: []cli.Flag{dirFlag(), jsonFlag(), pipelineTimeoutFlag()},
		Action: func(c *cli.Context) error {
			def, err := a.load(c)
			if err != nil {
				return err
			}
			results := a.runSmoke(c.Context, def, c.Duration("pipeline-timeout"))
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

func (a *App) runSmoke(ctx context.Context, def *model.Definition, timeout time.Duration) []checks.Result {
	target, skip := smokeTarget(def.Answers, def.Secrets, timeout, def.Inputs.RemoteHost)
	return checks.RunConcurrently(ctx, &checks.Env{Smoke: target}, checks.SmokeChecks(), skip)
}

// smokeTarget says where the installed stack answers from this machine: each endpoint of the
// catalogue that serves a smoke check, at the address this machine reaches it on (remote: the
// engine's machine, when the ports are published on all its addresses). On a remote engine a
// port published on loopback is on that machine's loopback: its check is skipped, saying why
// (from here 127.0.0.1 is this machine, where another stack may answer in its stead).
func smokeTarget(a *model.Answers, s model.Secrets, pipelineTimeout time.Duration, remote string) (*checks.SmokeTarget, map[string]string) {
	host := a.Listen
	if host == "0.0.0.0" || host == "[::]" || host == "" {
		host = "127.0.0.1"
		if remote != "" {
			host = remote
			if strings.Contains(remote, ":") {
				host = "[" + remote + "]"
			}
		}
	}
	t := &checks.SmokeTarget{Topic: pipeline.Topic, Keyspace: pipeline.Keyspace, Table: pipeline.Table, PipelineTimeout: pipelineTimeout}
	skip := map[string]string{}
	for _, p := range model.PortsOf(a) {
		if p.Endpoint == nil || p.Endpoint.Smoke == "" {
			continue
		}
		h := host
		if ip := p.HostIP(a); ip != a.Listen {
			h = ip // a local port, on loopback whatever the listen address
		}
		if remote != "" && ip(h).IsLoopback() {
			why := fmt.Sprintf("%s is published on the loopback of %s, where the engine runs, out of reach from this machine; ", p.What, remote)
			if a.Loopback() {
				why += "install with --listen 0.0.0.0 to reach the stack from here (with the generated credentials), or run `dataeco smoke` on " + remote
			} else {
				why += "--expose " + p.Name() + " publishes it on " + a.Listen + ", or run `dataeco smoke` on " + remote
			}
			id := "smoke-" + p.Endpoint.Smoke
			if p.Endpoint.Smoke == model.SmokeSparkUI {
				id = checks.IDSmokeSpark
			}
			skip[id] = why
			if id == checks.IDSmokeKafka || id == checks.IDSmokeCassandra {
				skip[checks.IDSmokePipeline] = why
			}
			continue
		}
		addr := fmt.Sprintf("%s:%d", h, a.Ports[p.Key]) // IPv6 listen addresses keep their brackets
		guarded := p.Guarded(a)
		switch p.Endpoint.Smoke {
		case model.SmokeKafka:
			// The first connection; the broker then sends the client to its advertised host.
			t.Kafka = addr
			if guarded {
				t.KafkaUser, t.KafkaPassword = s[model.KeyKafkaUser], s[model.KeyKafkaPassword]
			}
		case model.SmokeSchemaRegistry:
			t.SchemaRegistryURL = "http://" + addr
			if guarded {
				t.SchemaRegistryLogin = &checks.Login{User: s[model.KeySchemaRegistryUser], Password: s[model.KeySchemaRegistryPassword]}
			}
		case model.SmokeControlCenter:
			t.ControlCenterURL = "http://" + addr + "/"
			if guarded {
				t.ControlCenterLogin = &checks.Login{User: s[model.KeyControlCenterUser], Password: s[model.KeyControlCenterPassword]}
			}
		case model.SmokeCassandra:
			t.Cassandra, t.CassandraUser, t.CassandraPassword = addr, s[model.KeyCassandraUser], s[model.KeyCassandraPassword]
		case model.SmokeSparkUI:
			t.SparkMasterURL = "http://" + addr
			t.SparkWorkers, t.SparkWorkerCores, t.SparkWorkerMemMiB = a.SparkWorkers, a.SparkWorkerCores, int(a.SparkWorkerMemory)
		case model.SmokeAirflow:
			t.AirflowURL, t.AirflowUser, t.AirflowPassword = "http://"+addr, s[model.KeyAirflowAdminUser], s[model.KeyAirflowAdminPass]
		}
	}
	if stream, ok := model.Lookup("spark-stream"); ok && stream.On(a) {
		t.SparkApp = pipeline.App
	}
	return t, skip
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
	return hint.New("each failure above names its fix; `dataeco doctor` looks at every container",
		fmt.Errorf("smoke checks failed: %s", strings.Join(failed, ", ")))
}
