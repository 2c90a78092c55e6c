package model

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/dataeco/dataeco/installer/hint"
	"gopkg.in/yaml.v3"
)

// answersVersion is the format of the answers file, and so of the install dir. It is bumped
// when an older dataeco must no longer run an install dir (it would change what it does not
// know) or the file changes shape; each older format has its step in migration.
//
// 2: the install dir holds what dataeco releases before it do not know: images dataeco builds
// (with requirements.txt and spark-packages.txt), docker-compose.override.yml, --image
// overrides. Those releases would rewrite the stack without them; they refuse format 2.
const answersVersion = 2

// migration takes answers of format from to from+1 and says what it changed.
func migration(from int) (func(a *Answers) string, bool) {
	switch from {
	case 1:
		return func(*Answers) string {
			return "nothing in it changes; dataeco releases before this one no longer run this install dir"
		}, true
	}
	return nil, false
}

// Answers is everything the user decided about their install. It is saved in the install
// dir and reused by every later command, so a re-run converges to the same stack.
type Answers struct {
	Version      int      `yaml:"version"`
	Project      string   `yaml:"project"`
	Components   []string `yaml:"components"`
	SparkWorkers int      `yaml:"spark_workers"`
	// KafkaBrokers is how many brokers Kafka runs (Brokers); 0, as in files written before
	// it, is one.
	KafkaBrokers int `yaml:"kafka_brokers,omitempty"`
	// CassandraNodes is how many Cassandra nodes the stack runs (Nodes); 0 is one.
	CassandraNodes    int    `yaml:"cassandra_nodes,omitempty"`
	SparkWorkerCores  int    `yaml:"spark_worker_cores"`
	SparkWorkerMemory Size   `yaml:"spark_worker_memory"`
	CassandraHeap     Size   `yaml:"cassandra_heap"`
	KafkaHeap         Size   `yaml:"kafka_heap"`
	Listen            string `yaml:"listen"`
	// Advertise is the host clients elsewhere reach the stack by; empty: derived (Advertised).
	Advertise string `yaml:"advertise,omitempty"`
	// Expose names the admin ports published even on an address that is not loopback.
	Expose []string `yaml:"expose,omitempty"`
	// AllowUnauthenticated accepts ports that let anyone in open to the network.
	AllowUnauthenticated bool `yaml:"allow_unauthenticated,omitempty"`
	// Subnet is the address range of the stack's network (a VPN may own the engine's default).
	Subnet   string `yaml:"subnet,omitempty"`
	Registry string `yaml:"registry,omitempty"`
	// Images replace pinned images by name (--image NAME=REF): another patch or the user's build.
	Images map[string]string `yaml:"images,omitempty"`
	Ports  map[string]int    `yaml:"ports"`
	// Swarm deploys the stack to the Docker Swarm the engine manages instead of running it on
	// the engine alone: Spark workers spread over the nodes, the rest on the manager.
	Swarm bool `yaml:"swarm,omitempty"`
	// Migrated says how the file was brought from an older format when read, for install to
	// say once before it writes the file in the current one; empty when it was current.
	Migrated string `yaml:"-"`
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
	for _, p := range Ports() {
		a.Ports[p.Key] = p.Default
	}
	return a
}

// Clone copies the answers, ports included, so a change to the copy leaves a untouched.
func (a *Answers) Clone() *Answers {
	c := *a
	c.Components = slices.Clone(a.Components)
	c.Expose = slices.Clone(a.Expose)
	c.Ports = maps.Clone(a.Ports)
	c.Images = maps.Clone(a.Images)
	if c.Ports == nil {
		c.Ports = map[string]int{}
	}
	return &c
}

// Advertised is the host the stack gives out in its URLs and in Kafka's metadata for clients
// outside the containers: --advertise when given; else, on a loopback address, localhost (as
// always); on one specific address, that address; on every address, this machine's host name.
func (a *Answers) Advertised(hostname string) string {
	if a.Advertise != "" {
		return a.Advertise
	}
	ip := net.ParseIP(strings.Trim(a.Listen, "[]"))
	switch {
	case ip == nil || ip.IsLoopback():
		return "localhost"
	case ip.IsUnspecified():
		if hostname != "" {
			return hostname
		}
		return "localhost"
	}
	return a.Listen
}

// Loopback says whether the published ports bind to a loopback address only, out of reach
// of other machines.
func (a *Answers) Loopback() bool {
	ip := net.ParseIP(strings.Trim(a.Listen, "[]"))
	return ip == nil || ip.IsLoopback()
}

// Guarded says whether dataeco puts authentication on the ports that have none of their
// own (Port.Guard): whenever they are published off loopback.
func (a *Answers) Guarded() bool { return !a.Loopback() }

// ParseExpose reads --expose: a comma-separated list of the ports kept off the network by
// default (admin and local ports), or "none".
func ParseExpose(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "none" {
		return nil, nil
	}
	var out []string
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		if !slices.Contains(AdminPorts(), name) {
			return nil, fmt.Errorf("%q is not a port --expose takes; those are %s", name, strings.Join(AdminPorts(), ", "))
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out, nil
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

// Brokers is how many Kafka brokers the stack runs.
func (a *Answers) Brokers() int { return max(1, a.KafkaBrokers) }

// Nodes is how many Cassandra nodes the stack runs.
func (a *Answers) Nodes() int { return max(1, a.CassandraNodes) }

// CassandraReplication is the replication factor of the pipeline's keyspace and of the
// logins (system_auth): every node up to three.
func (a *Answers) CassandraReplication() int { return min(3, a.Nodes()) }

// KafkaReplication is the replication factor of the pipeline's topic and Kafka's internal
// topics: every broker up to three, the usual production figure.
func (a *Answers) KafkaReplication() int { return min(3, a.Brokers()) }

// Validate checks rules that span several answers; single values are checked as they are
// parsed. The flag named in each error is the one that fixes it.
func (a *Answers) Validate() error {
	if a.SparkWorkers < 1 || a.SparkWorkers > 16 {
		return hint.Usage("--spark-workers", "2", "%d is outside 1-16", a.SparkWorkers)
	}
	if a.SparkWorkerCores < 1 || a.SparkWorkerCores > 64 {
		return hint.Usage("--spark-worker-cores", "2", "%d is outside 1-64", a.SparkWorkerCores)
	}
	for _, m := range []struct {
		flag string
		size Size
		who  string
	}{{"--spark-worker-memory", a.SparkWorkerMemory, "a worker"}, {"--cassandra-heap", a.CassandraHeap, "Cassandra"}, {"--kafka-heap", a.KafkaHeap, "Kafka"}} {
		if m.size < 256 {
			return hint.Usage(m.flag, "1g", "%s is below the 256m %s needs", m.size, m.who)
		}
	}
	if a.Brokers() > 1 && !a.Swarm {
		// Several brokers on one engine would replicate nothing a failure of that machine
		// does not take with them, and share one host port: a cluster is a swarm's.
		return hint.Usage("--kafka-brokers", "1", "%d brokers need --swarm: each runs on its own node of a swarm (one engine runs one broker)", a.Brokers())
	}
	if a.Nodes() > 1 && !a.Swarm {
		return hint.Usage("--cassandra-nodes", "1", "%d nodes need --swarm: each runs on its own node of a swarm (one engine runs one Cassandra node)", a.Nodes())
	}
	if a.Swarm && a.Loopback() {
		// A swarm publishes a port on every address of its node: it cannot keep one on
		// loopback, so the user says so, and the stack's guard goes on.
		return hint.Usage("--listen", "0.0.0.0", "a swarm cannot publish ports on %s only: its ports are on every address of their node, so --swarm needs --listen 0.0.0.0 (the ports then require the generated credentials)", a.Listen)
	}
	if a.Swarm && a.Registry == "" {
		return hint.Usage("--registry", "registry.lan:5000", "every node of a swarm pulls the stack's images from a registry, and dataeco pushes the images it builds there: --swarm needs --registry")
	}
	if !validProject(a.Project) {
		return hint.Usage("--project", "dataeco", "%q must be lower-case letters, digits, - or _", a.Project)
	}
	seen := map[int]string{}
	for _, p := range PortsOf(a) {
		port := a.Ports[p.Key]
		if port < 1 || port > 65535 {
			return hint.Usage("--"+p.Flag, fmt.Sprint(p.Default), "%d is outside 1-65535", port)
		}
		if other, dup := seen[port]; dup {
			return hint.Usage("--"+p.Flag, fmt.Sprint(p.Default+10000), "port %d is already used for %s", port, other)
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

// NewerFormatError is an answers file written by a newer dataeco: this one must not read it
// (it would drop what it does not know) nor write over it.
type NewerFormatError struct{ Format int }

func (e *NewerFormatError) Error() string {
	return fmt.Sprintf("written by a newer dataeco (answers format %d; this one reads format %d)", e.Format, answersVersion)
}

// ParseAnswers reads an answers file, refusing unknown keys so a typo is not silently ignored.
// A file of a newer format is refused first, with a NewerFormatError, whatever keys it has.
func ParseAnswers(b []byte) (*Answers, error) {
	var head struct {
		Version int `yaml:"version"`
	}
	if yaml.Unmarshal(b, &head) == nil && head.Version > answersVersion {
		return nil, &NewerFormatError{Format: head.Version}
	}
	var a Answers
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&a); err != nil {
		return nil, err
	}
	if err := a.migrate(); err != nil {
		return nil, err
	}
	if a.Ports == nil {
		a.Ports = map[string]int{}
	}
	for _, p := range Ports() {
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
	if a.Advertise != "" {
		if _, err := ParseHost(a.Advertise); err != nil {
			return nil, fmt.Errorf("advertise: %w", err)
		}
	}
	if a.Subnet != "" {
		if _, err := ParseSubnet(a.Subnet); err != nil {
			return nil, fmt.Errorf("subnet: %w", err)
		}
	}
	for name, ref := range a.Images {
		if _, err := ParseImages(name + "=" + ref); err != nil || ref == "" {
			return nil, fmt.Errorf("images: %s=%s is not an image override", name, ref)
		}
	}
	if _, err := ParseExpose(strings.Join(a.Expose, ",")); err != nil {
		return nil, fmt.Errorf("expose: %w", err)
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

// migrate brings answers of an older format to the current one, noting each step.
func (a *Answers) migrate() error {
	if a.Version < 1 {
		return fmt.Errorf("no format version (version: %d)", a.Version)
	}
	var steps []string
	for a.Version < answersVersion {
		m, ok := migration(a.Version)
		if !ok {
			return fmt.Errorf("answers format %d has no migration to %d", a.Version, a.Version+1)
		}
		steps = append(steps, fmt.Sprintf("format %d to %d: %s", a.Version, a.Version+1, m(a)))
		a.Version++
	}
	a.Migrated = strings.Join(steps, "; ")
	return nil
}

// LoadAnswers reads the saved answers; it returns (nil, nil) when there are none yet.
func LoadAnswers(dir string) (*Answers, error) {
	path := filepath.Join(dir, AnswersFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading answers: %w", err)
	}
	a, err := ParseAnswers(b)
	var newer *NewerFormatError
	if errors.As(err, &newer) {
		return nil, hint.New("run the dataeco release that wrote it, or a later one (install.sh installs the latest: see the README); nothing was changed",
			fmt.Errorf("the install in %s was %w", dir, err))
	}
	if err != nil {
		return nil, hint.New("fix the file, or move it away and run `dataeco install` to answer again (your data volumes are kept)",
			fmt.Errorf("%s is damaged: %w", path, err))
	}
	return a, nil
}
