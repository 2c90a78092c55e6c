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

// TestExposureOverTheCatalogue: for each component installed alone and each listen address,
// the exposure check, fed the rendered file, fails exactly when a port the catalogue says lets
// anyone in would be published off loopback, and names every such port; admin ports stay
// unpublished off loopback unless exposed by name.
func TestExposureOverTheCatalogue(t *testing.T) {
	t.Parallel()
	for _, comp := range model.Components() {
		for _, listen := range []string{"127.0.0.1", "0.0.0.0", "192.0.2.10"} {
			for _, allow := range []bool{false, true} {
				def := defineFor(t, func(a *model.Answers) {
					a.Components, a.Listen, a.AllowUnauthenticated = []string{comp}, listen, allow
				})
				var open []string
				for _, p := range model.PortsOf(def.Answers) {
					if p.Auth == "" && listen != "127.0.0.1" {
						open = append(open, p.What)
					}
					if p.Admin && listen != "127.0.0.1" {
						t.Errorf("%s on %s: admin port %s published without --expose", comp, listen, p.Name())
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
					t.Errorf("%s on %s, allow %v: %s (%s), want %s", comp, listen, allow, r.Status, r.Message, want)
				}
				for _, what := range open {
					if !strings.Contains(r.Message, what) {
						t.Errorf("%s on %s: the message does not name %s: %s", comp, listen, what, r.Message)
					}
				}
			}
		}
	}
	// What the default install would open, in full, on every address.
	def := defineFor(t, func(a *model.Answers) { a.Listen = "0.0.0.0" })
	r := exposure(def)
	for _, want := range []string{"Kafka (host listener)", "Spark master RPC", "Spark master UI", "Schema Registry", "Control Center UI"} {
		if !strings.Contains(r.Message, want) {
			t.Errorf("the full install's exposure does not name %s: %s", want, r.Message)
		}
	}
	for _, safe := range []string{"Airflow", "Cassandra", "ZooKeeper", "JMX"} {
		if strings.Contains(r.Message, safe) {
			t.Errorf("the exposure failure names %s, which has a password or is not published: %s", safe, r.Message)
		}
	}
	if r.Status != checks.Fail {
		t.Errorf("the full install on 0.0.0.0: %s", r.Status)
	}
}
