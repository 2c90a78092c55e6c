package installer

import (
	"strings"
	"testing"
	"time"

	"github.com/dataeco/dataeco/checks"
	"github.com/dataeco/dataeco/installer/model"
)

// TestRemoteEngineAddresses: with the engine on another machine, what this machine connects
// to (smoke) and what it prints (endpoints) name that machine when the ports are published on
// all its addresses, and a port left on its loopback is never looked for on this machine's:
// its smoke check is skipped saying how to reach it, and its URL says how to tunnel to it.
func TestRemoteEngineAddresses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name             string
		listen, remote   string
		expose           []string
		kafka, sparkUI   string // "" when skipped
		skipHas          string
		kafkaURL, uiNote string
	}{
		{"local", "127.0.0.1", "", nil, "127.0.0.1:9092", "http://127.0.0.1:9090", "", "localhost:9092", ""},
		{"remote, every address", "0.0.0.0", "10.9.8.7", nil, "10.9.8.7:9092", "", "--expose spark-ui publishes it", "10.9.8.7:9092", "ssh -N -L 9090:127.0.0.1:9090 10.9.8.7"},
		{"remote, ui exposed", "0.0.0.0", "build.example", []string{"spark-ui"}, "build.example:9092", "http://build.example:9090", "", "build.example:9092", ""},
		{"remote, loopback", "127.0.0.1", "fd00::7", nil, "", "", "or install with --listen 0.0.0.0", "localhost:9092", "from here: ssh -N -L 9090:127.0.0.1:9090 fd00::7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			def := defineFor(t, func(a *model.Answers) {
				a.Components, a.Listen, a.Expose = []string{model.CompKafka, model.CompSpark}, tt.listen, tt.expose
			})
			def.Inputs.RemoteHost = tt.remote
			target, skip := smokeTarget(def.Answers, def.Secrets, time.Minute, tt.remote, nil)
			if target.Kafka != tt.kafka || target.SparkMasterURL != tt.sparkUI {
				t.Errorf("smoke connects to Kafka %q and Spark %q, want %q and %q", target.Kafka, target.SparkMasterURL, tt.kafka, tt.sparkUI)
			}
			if tt.sparkUI == "" && tt.remote != "" && !strings.Contains(skip[checks.IDSmokeSpark], tt.skipHas) {
				t.Errorf("Spark's smoke check skipped with %q, want it to say %q", skip[checks.IDSmokeSpark], tt.skipHas)
			}
			if tt.kafka == "" && (skip[checks.IDSmokeKafka] == "" || skip[checks.IDSmokePipeline] == "") {
				t.Errorf("Kafka out of reach, but its checks are not skipped: %v", skip)
			}
			if tt.remote == "" && len(skip) > 0 {
				t.Errorf("a local engine skipped %v", skip)
			}
			var kafkaURL, uiNote string
			for _, e := range endpoints(def) {
				switch e.Name {
				case "Kafka bootstrap":
					kafkaURL = e.URL
				case "Spark master UI":
					uiNote = e.Note
				}
			}
			if kafkaURL != tt.kafkaURL || !strings.Contains(uiNote, tt.uiNote) {
				t.Errorf("endpoints: Kafka at %q, Spark UI noted %q; want %q and a note with %q", kafkaURL, uiNote, tt.kafkaURL, tt.uiNote)
			}
		})
	}
}
