package model

import (
	"slices"
	"strings"
	"testing"
)

func TestImageMoves(t *testing.T) {
	t.Parallel()
	def, err := Renderer{Version: "test"}.Define(t.Context(), t.TempDir(), testAnswers(nil), Secrets{})
	if err != nil {
		t.Fatal(err)
	}
	pg, cass, broker := def.Project.Services["postgres"].Image, def.Project.Services["cassandra"].Image, def.Project.Services["broker"].Image
	for _, tt := range []struct {
		name    string
		running map[string]string
		want    []string // service=refused?
		reason  string
	}{
		{"nothing changes", map[string]string{"postgres": pg, "cassandra": cass}, nil, ""},
		{"a Kafka patch moves", map[string]string{"broker": "confluentinc/cp-server:7.9.8"}, []string{"broker=false"}, ""},
		{"a PostgreSQL major is refused", map[string]string{"postgres": "postgres:16.4-bookworm"}, []string{"postgres=true"}, "major 16 to 17"},
		{"a PostgreSQL minor moves", map[string]string{"postgres": "postgres:17.2-bookworm"}, []string{"postgres=false"}, ""},
		{"a Cassandra major is refused", map[string]string{"cassandra": "cassandra:4.1.9", "broker": broker}, []string{"cassandra=true"}, "nodetool upgradesstables"},
		{"a tag with no version moves, with a caution", map[string]string{"cassandra": "cassandra:latest"}, []string{"cassandra=false"}, ""},
		{"services gone from the definition are not moves", map[string]string{"flink": "flink:1.20"}, nil, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			for _, m := range ImageMoves(def, tt.running) {
				got = append(got, m.Service+"="+map[bool]string{true: "true", false: "false"}[m.Refused != ""])
				if m.Refused != "" && !strings.Contains(m.Refused, tt.reason) {
					t.Errorf("%s refused for %q, want it to say %q", m.Service, m.Refused, tt.reason)
				}
				if (m.Caution != "") != strings.HasSuffix(m.From, ":latest") {
					t.Errorf("%s: caution %q", m.Service, m.Caution)
				}
				if m.To != def.Project.Services[m.Service].Image || m.From != tt.running[m.Service] {
					t.Errorf("move %+v", m)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("moves %v, want %v", got, tt.want)
			}
		})
	}
}
