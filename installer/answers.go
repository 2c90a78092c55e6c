package installer

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Component names a user can choose. Kafka (with ZooKeeper) is always installed: every other
// component talks to it.
const (
	CompKafka          = "kafka"
	CompSchemaRegistry = "schema-registry"
	CompControlCenter  = "control-center"
	CompAirflow        = "airflow"
	CompSpark          = "spark"
	CompCassandra      = "cassandra"
)

// Components lists every component in the order they start.
func Components() []string {
	return []string{CompKafka, CompSchemaRegistry, CompControlCenter, CompAirflow, CompSpark, CompCassandra}
}

// PortSpec is one host port the stack can publish.
type PortSpec struct {
	Key       string // key in the answers file and in the template
	Flag      string
	Default   int
	Component string
	What      string
}

// PortSpecs lists every host port with the flag that remaps it.
func PortSpecs() []PortSpec {
	return []PortSpec{
		{"zookeeper", "zookeeper-port", 2181, CompKafka, "ZooKeeper client"},
		{"kafka", "kafka-port", 9092, CompKafka, "Kafka (host listener)"},
		{"kafka_jmx", "kafka-jmx-port", 9101, CompKafka, "Kafka JMX"},
		{"schema_registry", "schema-registry-port", 8081, CompSchemaRegistry, "Schema Registry"},
		{"control_center", "control-center-port", 9021, CompControlCenter, "Control Center UI"},
		{"airflow", "airflow-port", 8080, CompAirflow, "Airflow UI and API"},
		{"spark_ui", "spark-ui-port", 9090, CompSpark, "Spark master UI"},
		{"spark_master", "spark-master-port", 7077, CompSpark, "Spark master RPC"},
		{"cassandra", "cassandra-port", 9042, CompCassandra, "Cassandra CQL"},
	}
}

// answersVersion is bumped when the answers file changes shape, so old files can be migrated.
const answersVersion = 1

// Answers is everything the user decided about their install. It is saved in the install
// dir and reused by every later command, so a re-run converges to the same stack.
type Answers struct {
	Version           int            `yaml:"version"`
	Project           string         `yaml:"project"`
	Components        []string       `yaml:"components"`
	SparkWorkers      int            `yaml:"spark_workers"`
	SparkWorkerCores  int            `yaml:"spark_worker_cores"`
	SparkWorkerMemory Size           `yaml:"spark_worker_memory"`
	CassandraHeap     Size           `yaml:"cassandra_heap"`
	KafkaHeap         Size           `yaml:"kafka_heap"`
	Listen            string         `yaml:"listen"`
	Registry          string         `yaml:"registry,omitempty"`
	Ports             map[string]int `yaml:"ports"`
}

// EngineResources is what the Docker engine reports it can give containers. Defaults come
// from here, not from the host: on Docker Desktop the VM is much smaller than the laptop.
type EngineResources struct {
	NCPU     int
	MemTotal int64 // bytes
}

// DefaultAnswers sizes the stack to the engine: roughly half the VM's cores for Spark and
// heaps that leave room for the rest of the stack.
func DefaultAnswers(res EngineResources) Answers {
	memGiB := res.MemTotal >> 30
	a := Answers{
		Version:           answersVersion,
		Project:           "dataeco",
		Components:        Components(),
		SparkWorkers:      1,
		SparkWorkerCores:  max(1, min(4, res.NCPU/2)),
		SparkWorkerMemory: 1024,
		CassandraHeap:     1024,
		KafkaHeap:         1024,
		Listen:            "127.0.0.1",
		Ports:             map[string]int{},
	}
	switch {
	case memGiB >= 16:
		a.SparkWorkerMemory = 2048
	case memGiB < 8:
		a.SparkWorkerMemory = 512
		a.CassandraHeap = 512
		a.KafkaHeap = 512
	}
	for _, p := range PortSpecs() {
		a.Ports[p.Key] = p.Default
	}
	return a
}

// Has reports whether component c is part of the install.
func (a *Answers) Has(c string) bool { return c == CompKafka || slices.Contains(a.Components, c) }

// ParseComponents reads a comma-separated component list; "all" means every component.
// Kafka is added when missing, since nothing else works without it.
func ParseComponents(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("the list is empty")
	}
	if s == "all" {
		return Components(), nil
	}
	chosen := map[string]bool{CompKafka: true}
	for _, part := range strings.Split(s, ",") {
		name := strings.TrimSpace(strings.ToLower(part))
		if !slices.Contains(Components(), name) {
			return nil, fmt.Errorf("unknown component %q (known: %s)", part, strings.Join(Components(), ", "))
		}
		chosen[name] = true
	}
	var out []string
	for _, c := range Components() {
		if chosen[c] {
			out = append(out, c)
		}
	}
	return out, nil
}

// Validate checks rules that span several answers; single values are checked as they are
// parsed. The flag named in each error is the one that fixes it.
func (a *Answers) Validate() error {
	if a.SparkWorkers < 1 || a.SparkWorkers > 16 {
		return UsageError("--spark-workers", "2", "%d is outside 1-16", a.SparkWorkers)
	}
	if a.SparkWorkerCores < 1 || a.SparkWorkerCores > 64 {
		return UsageError("--spark-worker-cores", "2", "%d is outside 1-64", a.SparkWorkerCores)
	}
	if a.SparkWorkerMemory < 256 {
		return UsageError("--spark-worker-memory", "1g", "%s is below the 256m a worker needs", a.SparkWorkerMemory)
	}
	if a.CassandraHeap < 256 {
		return UsageError("--cassandra-heap", "1g", "%s is below the 256m Cassandra needs", a.CassandraHeap)
	}
	if a.KafkaHeap < 256 {
		return UsageError("--kafka-heap", "1g", "%s is below the 256m Kafka needs", a.KafkaHeap)
	}
	if !validProject(a.Project) {
		return UsageError("--project", "dataeco", "%q must be lower-case letters, digits, - or _", a.Project)
	}
	seen := map[int]string{}
	for _, p := range PortSpecs() {
		if !a.Has(p.Component) {
			continue
		}
		port := a.Ports[p.Key]
		if port < 1 || port > 65535 {
			return UsageError("--"+p.Flag, fmt.Sprint(p.Default), "%d is outside 1-65535", port)
		}
		if other, dup := seen[port]; dup {
			return UsageError("--"+p.Flag, fmt.Sprint(p.Default+10000),
				"port %d is already used for %s", port, other)
		}
		seen[port] = "--" + p.Flag
	}
	return nil
}

func validProject(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || (i > 0 && (r == '-' || r == '_'))
		if !ok {
			return false
		}
	}
	return true
}

// Marshal renders the answers file.
func (a *Answers) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString("# dataeco answers: edit with flags (`dataeco install --help`), or here and re-run `dataeco install`.\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(a); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// ParseAnswers reads an answers file, refusing unknown keys so a typo is not silently ignored.
func ParseAnswers(b []byte) (*Answers, error) {
	var a Answers
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&a); err != nil {
		return nil, err
	}
	if a.Version != answersVersion {
		return nil, fmt.Errorf("answers file version %d is not %d", a.Version, answersVersion)
	}
	if a.Ports == nil {
		a.Ports = map[string]int{}
	}
	for _, p := range PortSpecs() {
		if _, ok := a.Ports[p.Key]; !ok {
			a.Ports[p.Key] = p.Default
		}
	}
	if a.Listen != "" {
		if _, err := ParseListen(strings.Trim(a.Listen, "[]")); err != nil {
			return nil, fmt.Errorf("listen: %w", err)
		}
	}
	if _, err := ParseRegistry(a.Registry); err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	for _, c := range a.Components {
		if !slices.Contains(Components(), c) {
			return nil, fmt.Errorf("components: unknown component %q", c)
		}
	}
	if err := a.Validate(); err != nil {
		return nil, err
	}
	return &a, nil
}

// LoadAnswers reads the saved answers; it returns (nil, nil) when there are none yet.
func LoadAnswers(dir string) (*Answers, error) {
	path := filepath.Join(dir, answersFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading answers: %w", err)
	}
	a, err := ParseAnswers(b)
	if err != nil {
		return nil, &Error{Code: ExitFailure, Err: fmt.Errorf("%s is damaged: %w", path, err),
			Hint: fmt.Sprintf("fix the file, or move it away and run `dataeco install` to answer again (your data volumes are kept)")}
	}
	return a, nil
}
