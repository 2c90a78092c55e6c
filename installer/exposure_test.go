package installer

import (
	"context"
	"strings"
	"testing"

	"github.com/dataeco/dataeco/checks"
	"github.com/dataeco/dataeco/installer/model"
)

// exposure runs the exposure check on what def would publish.
func exposure(def *model.Definition) checks.Result {
	var only []checks.Check
	for _, c := range checks.Prerequisites() {
		if c.ID == checks.IDExposure {
			only = append(only, c)
		}
	}
	return checks.Run(context.Background(), &checks.Env{Plan: plan(def)}, only, nil)[0]
}

// TestExposureOverTheCatalogue: for each component installed alone, each listen address and
// each choice of --expose, the exposure check, fed the rendered file, fails exactly when a
// port that lets anyone in would be published off loopback, and names every such port. Off
// loopback, Kafka, Spark, Schema Registry and Control Center are guarded with generated
// credentials; admin ports stay unpublished and the Spark UI on loopback unless exposed.
func TestExposureOverTheCatalogue(t *testing.T) {
	t.Parallel()
	for _, comp := range model.Components() {
		for _, listen := range []string{"127.0.0.1", "0.0.0.0", "192.0.2.10"} {
			for _, expose := range [][]string{nil, model.AdminPorts()} {
				for _, allow := range []bool{false, true} {
					def := defineFor(t, func(a *model.Answers) {
						a.Components, a.Listen, a.Expose, a.AllowUnauthenticated = []string{comp}, listen, expose, allow
					})
					a := def.Answers
					var open []string
					for _, p := range model.PortsOf(a) {
						offLoopback := listen != "127.0.0.1" && p.HostIP(a) == listen
						if p.AuthOf(a) == "" && offLoopback {
							open = append(open, p.What)
						}
						if (p.Admin || p.Local) && offLoopback && expose == nil {
							t.Errorf("%s on %s: %s published off loopback without --expose", comp, listen, p.Name())
						}
						if p.Guard != "" && p.AuthOf(a) == "" && listen != "127.0.0.1" {
							t.Errorf("%s on %s: %s is not guarded", comp, listen, p.Name())
						}
					}
					r := exposure(def)
					want := checks.Pass
					switch {
					case len(open) > 0 && allow:
						want = checks.Warn
					case len(open) > 0:
						want = checks.Fail
					}
					if r.Status != want {
						t.Errorf("%s on %s, expose %v, allow %v: %s (%s), want %s", comp, listen, expose, allow, r.Status, r.Message, want)
					}
					for _, what := range open {
						if !strings.Contains(r.Message, what) {
							t.Errorf("%s on %s: the message does not name %s: %s", comp, listen, what, r.Message)
						}
					}
				}
			}
		}
	}
	// The default install on every address: nothing lets anyone in, each port says how it
	// authenticates, the Spark UI stays on this machine.
	def := defineFor(t, func(a *model.Answers) { a.Listen = "0.0.0.0" })
	r := exposure(def)
	if r.Status != checks.Pass {
		t.Errorf("the full install on 0.0.0.0: %s %s", r.Status, r.Message)
	}
	for _, want := range []string{"Kafka (host listener) 9092 (SASL/PLAIN", "Spark master RPC 7077 (Spark authentication", "Schema Registry 8081 (HTTP basic auth",
		"Control Center UI 9021 (HTTP basic auth", "Airflow UI and API 8080 (password", "Cassandra CQL 9042 (password"} {
		if !strings.Contains(r.Message, want) {
			t.Errorf("the full install's exposure does not say %q: %s", want, r.Message)
		}
	}
	for _, hidden := range []string{"Spark master UI", "ZooKeeper", "JMX"} {
		if strings.Contains(r.Message, hidden) {
			t.Errorf("the exposure lists %s, which is not published off loopback: %s", hidden, r.Message)
		}
	}
	// Exposed by name, the ports with no login of their own fail the check.
	def = defineFor(t, func(a *model.Answers) { a.Listen, a.Expose = "0.0.0.0", []string{"spark-ui", "zookeeper"} })
	if r := exposure(def); r.Status != checks.Fail || !strings.Contains(r.Message, "Spark master UI 9090") || !strings.Contains(r.Message, "ZooKeeper client 2181") ||
		!strings.Contains(r.Fix, "--expose") {
		t.Errorf("--expose spark-ui,zookeeper on 0.0.0.0: %s %s (fix: %s)", r.Status, r.Message, r.Fix)
	}
}
