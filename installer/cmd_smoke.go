package installer

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/dataeco/dataeco/checks"
	"github.com/dataeco/dataeco/embedded/pipeline"
	"github.com/dataeco/dataeco/installer/engine"
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
	in := def.Inputs
	var tunneled map[int]bool
	if ports := remoteLoopbackPorts(def.Answers, in.RemoteHost, true); len(ports) > 0 && engine.IsSSH(in.Endpoint) {
		if t := a.openTunnel(ctx, in, ports); t != nil {
			defer t.Close()
			tunneled = map[int]bool{}
			for _, p := range t.Ports {
				tunneled[p] = true
			}
		}
	}
	target, skip := smokeTarget(def.Answers, def.Secrets, timeout, in.RemoteHost, tunneled)
	if target.Cassandra != "" {
		target.CassandraNodes = def.Answers.Nodes()
	}
	if n := def.Answers.Brokers(); n > 1 && target.Kafka != "" {
		// A cluster: every broker is a seed (any may be down) and each must answer.
		host, _, _ := net.SplitHostPort(target.Kafka)
		target.Kafka, target.KafkaBrokers = strings.Join(model.KafkaAddrs(def.Answers, in, host), ","), n
	}
	return checks.RunConcurrently(ctx, &checks.Env{Smoke: target}, checks.SmokeChecks(), skip)
}

// openTunnel forwards ports of the remote engine's machine here over SSH, saying so; nil,
// with a note, when it cannot (the checks then say what they could not reach).
func (a *App) openTunnel(ctx context.Context, in model.Inputs, ports []int) *engine.Tunnel {
	a.status("Opening an SSH tunnel to %s for port %s, published on its loopback", in.RemoteHost, joinInts(ports))
	t, err := engine.OpenTunnel(ctx, in.Endpoint, ports)
	if err != nil {
		msg := err.Error()
		if h := hint.Of(err); h != "" {
			msg += " (" + h + ")"
		}
		a.status("Note: no SSH tunnel to %s: %s", in.RemoteHost, msg)
		return nil
	}
	if len(t.Busy) > 0 {
		a.status("Note: port %s is taken on this machine, so not forwarded from %s", joinInts(t.Busy), in.RemoteHost)
	}
	return t
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ", ")
}

// reachHost is the host this machine reaches port p of the stack at: the listen address,
// loopback for a port published there only, and for ports on every address this machine's
// loopback, or the engine's machine when the engine is remote.
func reachHost(a *model.Answers, p model.Port, remote string) string {
	if ip := p.HostIP(a); ip != a.Listen {
		return ip // a local port, on loopback whatever the listen address
	}
	if h := a.Listen; h != "0.0.0.0" && h != "[::]" && h != "" {
		return h
	}
	if remote == "" {
		return "127.0.0.1"
	}
	if strings.Contains(remote, ":") {
		return "[" + remote + "]"
	}
	return remote
}

// remoteLoopbackPorts are the published ports (only those the smoke checks use, with
// smokeOnly) that a remote engine published on its own machine's loopback: out of reach
// from here but through a tunnel. None for a local engine.
func remoteLoopbackPorts(a *model.Answers, remote string, smokeOnly bool) []int {
	if remote == "" {
		return nil
	}
	var out []int
	for _, p := range model.PortsOf(a) {
		if !p.Published(a) || (smokeOnly && (p.Endpoint == nil || p.Endpoint.Smoke == "")) {
			continue
		}
		if ip(reachHost(a, p, remote)).IsLoopback() {
			out = append(out, a.Ports[p.Key])
		}
	}
	return out
}

// smokeTarget says where the installed stack answers from this machine: each endpoint of the
// catalogue that serves a smoke check, at the address this machine reaches it on (remote: the
// engine's machine, when the ports are published on all its addresses). On a remote engine a
// port published on loopback is on that machine's loopback: reached through the tunnel when
// it is among tunneled (the same port here), else its check is skipped, saying why (from here
// 127.0.0.1 is this machine, where another stack may answer in its stead).
func smokeTarget(a *model.Answers, s model.Secrets, pipelineTimeout time.Duration, remote string, tunneled map[int]bool) (*checks.SmokeTarget, map[string]string) {
	t := &checks.SmokeTarget{Topic: pipeline.Topic, Keyspace: pipeline.Keyspace, Table: pipeline.Table, PipelineTimeout: pipelineTimeout}
	skip := map[string]string{}
	for _, p := range model.PortsOf(a) {
		if p.Endpoint == nil || p.Endpoint.Smoke == "" {
			continue
		}
		h := reachHost(a, p, remote)
		if remote != "" && ip(h).IsLoopback() && !tunneled[a.Ports[p.Key]] {
			why := fmt.Sprintf("%s is published on the loopback of %s, where the engine runs, out of reach from this machine; ", p.What, remote)
			switch {
			case a.Loopback():
				why += "with DOCKER_HOST=ssh://" + remote + " dataeco tunnels to it, or install with --listen 0.0.0.0 to reach the stack from here (with the generated credentials)"
			default:
				why += "--expose " + p.Name() + " publishes it on " + a.Listen + ", or with DOCKER_HOST=ssh://" + remote + " dataeco tunnels to it"
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
