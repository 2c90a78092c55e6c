package model

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestCatalogueIsWhatRenders: the rendered file holds exactly the catalogue's services for
// the answers, each with its row's image, memory limit, component and ports. The template
// asks the catalogue for these; this proves it asks for the right row.
func TestCatalogueIsWhatRenders(t *testing.T) {
	t.Parallel()
	for name, a := range renderCases() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := renderLoaded(t, a)
			builds, err := Builds(a, Inputs{})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := p.ServiceNames(), ServiceNames(a); !slices.Equal(got, want) {
				t.Fatalf("rendered services %v, catalogue says %v", got, want)
			}
			for _, svcName := range p.ServiceNames() {
				svc := p.Services[svcName]
				row, ok := Lookup(svcName)
				if !ok {
					t.Fatalf("%s has no row", svcName)
				}
				image := RewriteImage(a.Registry, row.Image)
				for _, b := range builds {
					if b.Name == row.Build {
						image = b.Tag
						if b.Base != RewriteImage(a.Registry, row.Image) {
							t.Errorf("%s: built FROM %s, row says %s", svcName, b.Base, row.Image)
						}
					}
				}
				if svc.Image != image {
					t.Errorf("%s: image %s, row says %s", svcName, svc.Image, image)
				}
				if want := int64(row.Limit(a)) << 20; int64(svc.MemLimit) != want {
					t.Errorf("%s: mem_limit %d, row says %d", svcName, svc.MemLimit, want)
				}
				if svc.Labels["io.dataeco.component"] != row.Component {
					t.Errorf("%s: component label %q, row says %q", svcName, svc.Labels["io.dataeco.component"], row.Component)
				}
				if (svc.Restart == "no") != row.Job {
					t.Errorf("%s: restart %q but row.Job = %v", svcName, svc.Restart, row.Job)
				}
				var got, want []string
				for _, port := range svc.Ports {
					got = append(got, fmt.Sprintf("%s->%d", port.Published, port.Target))
				}
				for _, port := range row.Ports {
					if port.Published(a) {
						want = append(want, fmt.Sprintf("%d->%d", a.Ports[port.Key], port.Target))
					}
				}
				if !slices.Equal(got, want) {
					t.Errorf("%s: publishes %v, row says %v", svcName, got, want)
				}
			}
		})
	}
}

// TestCatalogueRows: every row is complete, and names, keys and flags are unique.
func TestCatalogueRows(t *testing.T) {
	t.Parallel()
	a := testAnswers(nil)
	names, keys, flags := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, s := range Catalogue() {
		if names[s.Name] {
			t.Errorf("two rows named %s", s.Name)
		}
		names[s.Name] = true
		if !slices.Contains(Components(), s.Component) || !strings.Contains(s.Image, ":") || s.Limit == nil || s.Minimum == nil || s.Timeout <= 0 {
			t.Errorf("%s: incomplete row %+v", s.Name, s)
		}
		if s.Job && s.Minimum(a) != 0 {
			t.Errorf("%s: a job counts no memory at rest", s.Name)
		}
		if !s.Job && (s.Minimum(a) <= 0 || s.Minimum(a) > s.Limit(a)) {
			t.Errorf("%s: minimum %s against limit %s", s.Name, s.Minimum(a), s.Limit(a))
		}
		for _, p := range s.Ports {
			if keys[p.Key] || flags[p.Flag] {
				t.Errorf("%s: port key %q or flag %q used twice", s.Name, p.Key, p.Flag)
			}
			keys[p.Key], flags[p.Flag] = true, true
		}
	}
	// Every image's size for the disk check is on one of its rows.
	sized := map[string]bool{}
	for _, s := range Catalogue() {
		if s.ImageBytes > 0 {
			sized[s.Image] = true
		}
	}
	for _, s := range Catalogue() {
		if !sized[s.Image] {
			t.Errorf("no row gives the size of %s", s.Image)
		}
	}
}

func TestLookup(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"spark-worker-12": "spark-worker", "broker": "broker", "spark-stream": "spark-stream"} {
		if s, ok := Lookup(in); !ok || s.Name != want {
			t.Errorf("Lookup(%q) = %q, %v", in, s.Name, ok)
		}
	}
	for _, in := range []string{"spark-worker-", "spark-worker-x", "nope"} {
		if _, ok := Lookup(in); ok {
			t.Errorf("Lookup(%q) found a row", in)
		}
	}
}

// TestSettingsNameTheirValue: help shows each flag's value by the placeholder in its usage.
func TestSettingsNameTheirValue(t *testing.T) {
	t.Parallel()
	for _, s := range Settings() {
		if !s.Bool && (s.Value == "" || !strings.Contains(s.Usage, s.Value)) || s.Bool && s.Value != "" || s.Default == "" || s.Example == "" {
			t.Errorf("--%s: value %q, usage %q, default %q, example %q", s.Flag, s.Value, s.Usage, s.Default, s.Example)
		}
		if _, err := s.Parse(s.Example); err != nil {
			t.Errorf("--%s: its example %q does not parse: %v", s.Flag, s.Example, err)
		}
	}
}

func TestPlanReset(t *testing.T) {
	t.Parallel()
	def, err := Renderer{Version: "test"}.Define(t.Context(), t.TempDir(), testAnswers(nil), Secrets{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		comps                     []string
		services, volumes, paused []string
	}{
		{[]string{CompCassandra}, []string{"cassandra", "cassandra-init"}, []string{"cassandra-data"}, []string{"spark-stream"}},
		{[]string{CompKafka}, []string{"broker", "kafka-init", "spark-stream", "zookeeper"},
			[]string{"kafka-data", "spark-checkpoints", "zookeeper-data", "zookeeper-log"}, []string{"control-center", "schema-registry"}},
		{[]string{CompAirflow}, []string{"airflow-apiserver", "airflow-dag-processor", "airflow-init", "airflow-scheduler", "airflow-triggerer", "postgres"},
			[]string{"airflow-logs", "postgres-data"}, nil},
		{[]string{CompSpark}, []string{"spark-stream"}, []string{"spark-checkpoints"}, nil},
	} {
		plan, err := PlanReset(def, tt.comps)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(plan.Services, tt.services) || !slices.Equal(plan.Volumes, tt.volumes) || !slices.Equal(plan.Paused, tt.paused) {
			t.Errorf("%v: services %v, volumes %v, paused %v", tt.comps, plan.Services, plan.Volumes, plan.Paused)
		}
		for i, v := range plan.EngineVolumes {
			if v != "dataeco_"+plan.Volumes[i] {
				t.Errorf("%v: engine volume %s", tt.comps, v)
			}
		}
	}
}

// TestDocsFollowTheCatalogue: the memory tables of docs/checks.md and docs/configuration.md
// name every service, and the images table every pinned image.
func TestDocsFollowTheCatalogue(t *testing.T) {
	t.Parallel()
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join("..", "..", "docs", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	checksDoc, configDoc := read("checks.md"), read("configuration.md")
	a, b := testAnswers(nil), testAnswers(func(a *Answers) { a.KafkaHeap, a.CassandraHeap, a.SparkWorkerMemory = 3072, 3072, 3072 })
	for _, s := range Catalogue() {
		name := s.Name
		if s.Replicated {
			name += "-N"
		}
		for doc, text := range map[string]string{"checks.md": checksDoc, "configuration.md": configDoc} {
			if !strings.Contains(text, name) {
				t.Errorf("docs/%s does not name %s", doc, name)
			}
		}
		if s.Limit(a) == s.Limit(b) && !s.Job { // a fixed figure: it must be the one written
			row := regexp.MustCompile(`(?m)^\| [^|]*\b` + regexp.QuoteMeta(name) + `\b[^|]*\|[^|]*\|\s*` + regexp.QuoteMeta(s.Limit(a).String()) + `\s*\|`)
			if !row.MatchString(checksDoc) {
				t.Errorf("docs/checks.md's row for %s does not give its mem_limit %s", name, s.Limit(a))
			}
		}
		if !strings.Contains(configDoc, s.Image) {
			t.Errorf("docs/configuration.md does not name %s's image %s", name, s.Image)
		}
	}
}
