package installer

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"strings"
	"text/template"

	"github.com/dataeco/dataeco/embedded"
	"github.com/dataeco/dataeco/embedded/pipeline"
)

// renderData is what the compose template sees. Everything derived (limits, worker names)
// is computed here so the template stays declarative.
type renderData struct {
	Version          string
	Listen           string
	Ports            map[string]int
	SchemaRegistry   bool
	ControlCenter    bool
	Airflow          bool
	Spark            bool
	Cassandra        bool
	KafkaHeap        Size
	CassandraHeap    Size
	CassandraNewSize Size
	WorkerCores      int
	WorkerMemory     Size
	Workers          []string
	Limits           map[string]Size
	// AirflowPip is the DAG's requirements, space-separated for _PIP_ADDITIONAL_REQUIREMENTS.
	AirflowPip string
	// The streaming job takes what one worker offers, leaving the rest of the cluster free.
	ExecutorMemory Size
	StreamCores    int
}

// MemoryLimits is each service's mem_limit for the given answers. The resource check uses
// the same numbers, so what install asks the engine for is what the check compares.
func MemoryLimits(a *Answers) map[string]Size {
	return map[string]Size{
		"zookeeper":             512,
		"broker":                a.KafkaHeap + 768,
		"schema_registry":       768,
		"control_center":        2048,
		"postgres":              512,
		"airflow_init":          1024,
		"airflow_apiserver":     1536,
		"airflow_scheduler":     1536,
		"airflow_dag_processor": 768,
		"spark_master":          768,
		"spark_worker":          a.SparkWorkerMemory + 768,
		"cassandra":             max(2*a.CassandraHeap, a.CassandraHeap+1024),
	}
}

// WorkerNames names the Spark worker services; they are separate services rather than
// replicas so the file works the same under docker-compose 1.29.
func WorkerNames(n int) []string {
	names := make([]string, n)
	for i := range n {
		names[i] = fmt.Sprintf("spark-worker-%d", i+1)
	}
	return names
}

// RenderCompose produces the compose file for the answers. The output is deterministic: the same
// answers give the same bytes, which is what lets a re-run recreate nothing.
func RenderCompose(a *Answers, version string) ([]byte, error) {
	return renderTemplate(embedded.ComposeTemplate, a, version)
}

func renderTemplate(source string, a *Answers, version string) ([]byte, error) {
	data := renderData{
		Version:          version,
		Listen:           a.Listen,
		Ports:            a.Ports,
		SchemaRegistry:   a.Has(CompSchemaRegistry),
		ControlCenter:    a.Has(CompControlCenter),
		Airflow:          a.Has(CompAirflow),
		Spark:            a.Has(CompSpark),
		Cassandra:        a.Has(CompCassandra),
		KafkaHeap:        a.KafkaHeap,
		CassandraHeap:    a.CassandraHeap,
		CassandraNewSize: max(128, min(a.CassandraHeap/4, 800)),
		WorkerCores:      a.SparkWorkerCores,
		WorkerMemory:     a.SparkWorkerMemory,
		Workers:          WorkerNames(a.SparkWorkers),
		Limits:           MemoryLimits(a),
		AirflowPip:       airflowRequirements(),
		ExecutorMemory:   max(256, a.SparkWorkerMemory/2),
		StreamCores:      max(1, a.SparkWorkerCores/2),
	}
	funcs := template.FuncMap{
		"image": func(ref string) string { return RewriteImage(a.Registry, ref) },
		"mem":   func(s Size) string { return s.String() },
		// The digest of a pipeline file a one-shot job reads, as a label: the file is
		// mounted, so without it a changed file would not change the job's definition and
		// Compose would not run the job again.
		"assetDigest": func(name string) (string, error) {
			b, err := pipeline.Files.ReadFile(name)
			if err != nil {
				return "", err
			}
			return fmt.Sprintf("sha256:%x", sha256.Sum256(b)), nil
		},
	}
	tmpl, err := template.New("compose").Funcs(funcs).Option("missingkey=error").Parse(source)
	if err != nil {
		return nil, fmt.Errorf("parsing the embedded compose template: %w", err)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, data); err != nil {
		return nil, fmt.Errorf("rendering the compose file: %w", err)
	}
	return buf.Bytes(), nil
}

// airflowRequirements reads the pipeline's requirements file into one line, comments dropped.
func airflowRequirements() string {
	b, err := pipeline.Files.ReadFile("requirements-airflow.txt")
	if err != nil {
		panic(err) // embedded at build time: a missing file is a build bug
	}
	var reqs []string
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			reqs = append(reqs, line)
		}
	}
	return strings.Join(reqs, " ")
}
