package engine

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/dataeco/dataeco/installer/model"
	"github.com/docker/compose/v5/pkg/compose"
)

// loadDefault renders a default install, changed by mutate, and loads it as Compose would.
func loadDefault(t *testing.T, mutate func(*model.Answers)) *types.Project {
	t.Helper()
	a := model.DefaultAnswers(model.EngineResources{NCPU: 8, MemTotal: 16 << 30})
	if mutate != nil {
		mutate(&a)
	}
	def, err := model.Renderer{Version: "test"}.Define(context.Background(), t.TempDir(), &a, model.Secrets{})
	if err != nil {
		t.Fatal(err)
	}
	return def.Project
}

func TestOneShotJobs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		components []string
		want       []string
	}{
		{"everything", model.Components(), []string{"airflow-init", "cassandra-init", "kafka-init"}},
		{"kafka only", []string{model.CompKafka}, []string{"kafka-init"}},
		{"kafka and cassandra", []string{model.CompKafka, model.CompCassandra}, []string{"cassandra-init", "kafka-init"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := loadDefault(t, func(a *model.Answers) { a.Components = tc.components })
			if got := oneShotJobs(p); !slices.Equal(got, tc.want) {
				t.Errorf("oneShotJobs = %v, want %v", got, tc.want)
			}
		})
	}
}

// Without its jobs, the stack still starts in the same order: whoever waited for a job waits
// for what the job waited for.
func TestWithoutJobsKeepsTheOrder(t *testing.T) {
	t.Parallel()
	p := loadDefault(t, nil)
	jobs := oneShotJobs(p)
	q := withoutJobs(p, jobs)
	for _, j := range jobs {
		if _, ok := q.Services[j]; ok {
			t.Errorf("%s is still enabled", j)
		}
		if _, ok := q.DisabledServices[j]; !ok {
			t.Errorf("%s is not among the disabled services (Compose would call its container an orphan)", j)
		}
	}
	want := map[string]map[string]string{
		"spark-stream":          {"spark-master": "service_healthy", "broker": "service_healthy", "cassandra": "service_healthy"},
		"airflow-apiserver":     {"postgres": "service_healthy"},
		"airflow-scheduler":     {"postgres": "service_healthy"},
		"airflow-dag-processor": {"postgres": "service_healthy"},
	}
	for svc, deps := range want {
		got := map[string]string{}
		for d, cfg := range q.Services[svc].DependsOn {
			got[d] = cfg.Condition
		}
		for d, cond := range deps {
			if got[d] != cond {
				t.Errorf("%s: depends on %s with %q, want %q (all: %v)", svc, d, got[d], cond, got)
			}
		}
		for d := range got {
			if slices.Contains(jobs, d) {
				t.Errorf("%s still depends on the disabled %s", svc, d)
			}
		}
	}
	// The original is untouched: the next command works from it.
	if _, ok := p.Services["spark-stream"].DependsOn["cassandra-init"]; !ok {
		t.Error("withoutJobs changed the project it was given")
	}
	// Dropping depends_on does not change anyone's definition (Compose leaves it out of
	// the config hash), so nothing is recreated for it.
	for name, svc := range q.Services {
		a, _ := compose.ServiceHash(p.Services[name])
		b, _ := compose.ServiceHash(svc)
		if a != b {
			t.Errorf("%s: config hash changed", name)
		}
	}
}

// A changed schema file changes cassandra-init's definition, so a settled job runs again.
func TestSchemaIsPartOfCassandraInit(t *testing.T) {
	t.Parallel()
	p := loadDefault(t, nil)
	label := p.Services["cassandra-init"].Labels["io.dataeco.input"]
	if !strings.HasPrefix(label, "schema.cql sha256:") || len(label) != len("schema.cql sha256:")+64 {
		t.Errorf("cassandra-init input label = %q", label)
	}
}

// TestDependentsOf: the running services to stop before Compose recreates a dependency,
// transitively: ZooKeeper recreated stops the broker and what depends on the broker.
func TestDependentsOf(t *testing.T) {
	t.Parallel()
	dep := func(names ...string) types.DependsOnConfig {
		d := types.DependsOnConfig{}
		for _, n := range names {
			d[n] = types.ServiceDependency{Condition: types.ServiceConditionHealthy}
		}
		return d
	}
	p := &types.Project{Services: types.Services{
		"zookeeper":       {Name: "zookeeper"},
		"broker":          {Name: "broker", WorkloadSpec: types.WorkloadSpec{DependsOn: dep("zookeeper")}},
		"schema-registry": {Name: "schema-registry", WorkloadSpec: types.WorkloadSpec{DependsOn: dep("broker")}},
		"postgres":        {Name: "postgres"},
		"airflow":         {Name: "airflow", WorkloadSpec: types.WorkloadSpec{DependsOn: dep("postgres")}},
	}}
	all := map[string]bool{"zookeeper": true, "broker": true, "schema-registry": true, "postgres": true, "airflow": true}
	for _, tt := range []struct {
		changed, running []string
		want             []string
	}{
		{[]string{"zookeeper"}, []string{"zookeeper", "broker", "schema-registry", "postgres", "airflow"}, []string{"broker", "schema-registry"}},
		{[]string{"zookeeper", "broker"}, []string{"zookeeper", "broker", "schema-registry"}, []string{"broker", "schema-registry"}},
		{[]string{"broker"}, []string{"zookeeper", "broker"}, nil},
		{[]string{"zookeeper"}, []string{"zookeeper", "schema-registry"}, []string{"schema-registry"}},
		{nil, []string{"zookeeper", "broker"}, nil},
	} {
		changed, running := map[string]bool{}, map[string]bool{}
		for _, n := range tt.changed {
			changed[n] = true
		}
		for _, n := range tt.running {
			running[n] = all[n]
		}
		if got := dependentsOf(p, changed, running); !slices.Equal(got, tt.want) {
			t.Errorf("changed %v, running %v: %v, want %v", tt.changed, tt.running, got, tt.want)
		}
	}
}
