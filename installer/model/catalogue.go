// Package model is the stack as dataeco understands it, with no Docker and no command line in
// it: the user's answers and the table of settings they come from, the catalogue of services,
// the rendering of the compose file, the generated secrets, and the install dir that holds
// them. The engine driver runs what this package renders; the CLI asks and prints.
package model

import (
	"fmt"
	"slices"
	"strings"
	"time"
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

// Smoke roles: which smoke check an endpoint is the address of.
const (
	SmokeKafka          = "kafka"
	SmokeSchemaRegistry = "schema-registry"
	SmokeControlCenter  = "control-center"
	SmokeAirflow        = "airflow"
	SmokeSparkUI        = "spark-ui"
	SmokeCassandra      = "cassandra"
)

// Port is one host port a service publishes, remappable by its flag.
type Port struct {
	Key     string // its key in the answers file
	Flag    string // the flag that moves it, without dashes
	Default int
	Target  int // the port inside the container
	What    string
	// Auth is how a client proves who it is there; empty when anyone who reaches the port
	// gets in. The exposure check lists it for every port open to the network.
	Auth string
	// Guard is the authentication dataeco turns on for the port when the stack is published
	// off loopback (Answers.Guarded): a SASL user on Kafka's host listener, Spark's shared
	// secret, HTTP basic auth. On loopback nothing changes, as users of the default expect.
	Guard string
	// Admin ports are for operators (JMX, ZooKeeper): off loopback they are not published
	// at all, unless named in --expose.
	Admin bool
	// Local ports (the Spark UI, which has no login and can kill jobs) stay on 127.0.0.1
	// when the rest is published off loopback, unless named in --expose.
	Local bool
	// Endpoint is how the summary and the smoke checks present it; nil: not listed.
	Endpoint *Endpoint
}

// Name is the port's name in --expose and in the exposure check: its flag without "-port".
func (p Port) Name() string { return strings.TrimSuffix(p.Flag, "-port") }

// Published says whether the answers publish the port on the host: an admin port only on a
// loopback address or when named in --expose.
func (p Port) Published(a *Answers) bool {
	switch {
	case p.exposed(a):
		return true
	case p.Admin:
		return a.Loopback()
	case p.Local && a.Swarm:
		return false // a swarm cannot keep it on loopback: see SwarmFile
	}
	return true
}

func (p Port) exposed(a *Answers) bool { return slices.Contains(a.Expose, p.Name()) }

// HostIP is the address the port is published on: the listen address, or loopback for a
// local port the user did not name in --expose.
func (p Port) HostIP(a *Answers) string {
	if p.Local && !a.Loopback() && !p.exposed(a) {
		return "127.0.0.1"
	}
	return a.Listen
}

// Guarded says whether the answers put dataeco's guard on the port: it has no login of its
// own, and the stack is published off loopback.
func (p Port) Guarded(a *Answers) bool { return p.Auth == "" && p.Guard != "" && a.Guarded() }

// AuthOf is how a client proves who it is at the port under the answers: its own login, or
// the guard dataeco adds off loopback; empty when anyone who reaches it gets in.
func (p Port) AuthOf(a *Answers) string {
	if p.Guarded(a) {
		return p.Guard
	}
	return p.Auth
}

// Endpoint is something a user connects to through a published port.
type Endpoint struct {
	Name   string
	Scheme string // "http", "spark", or "" for a bare host:port
	Note   string
	Smoke  string // the smoke role it serves, or ""
	// Env is the variable `dataeco env` gives it in, for the user's own code.
	Env string
	// Open is the name `dataeco open` knows a web UI by; empty for what is no web page.
	Open string
}

// Service is one row of the catalogue: every fact dataeco keeps about a service. The
// template refers to rows by name (image, memory limit, published ports, whether it is
// installed); the checks, the readiness watcher, the summary and the smoke checks derive
// their figures from the same rows.
type Service struct {
	Name      string
	Component string
	// Image is the pinned reference, before --registry rewrites it.
	Image string
	// ImageBytes is roughly what pulling the image takes on disk (download and extract),
	// for the disk check. Images of one vendor share layers, hence smaller figures after the
	// first.
	ImageBytes int64
	// Job runs once and exits 0 (restart "no"); it is not counted for memory at rest.
	Job bool
	// Limit is the service's mem_limit; Minimum is the least it starts with (0 for jobs):
	// below it the JVMs or Python processes fail to start or thrash.
	Limit   func(a *Answers) Size
	Minimum func(a *Answers) Size
	// SizedBy is the flag that changes its memory, when there is one.
	SizedBy string
	// Timeout is how long it may take from its container starting to being ready. The slow
	// starters are the JVMs with a lot to do at first start, and Airflow's migration.
	Timeout time.Duration
	Ports   []Port
	// Installed decides whether the answers include it; nil means "its component is chosen".
	Installed func(a *Answers) bool
	// Build names the image dataeco builds FROM Image for this service ("airflow", "spark");
	// empty when the service runs Image as it is.
	Build string
	// Replicated rows stand for N services named NAME-1 … NAME-N (--spark-workers), kept as
	// separate services rather than replicas so the file works the same under Compose 1.29.
	Replicated bool
	// Members, when set, makes the row a cluster of that many members, each its own service
	// with its own volumes: NAME, NAME-2 … NAME-N (Kafka's brokers). The first keeps the plain
	// name, so a cluster of one is the stack as it always was; under swarm each member is
	// pinned to a node of its own (Inputs.SwarmPlaces).
	Members func(a *Answers) int
	// MembersFlag is the flag that sets Members.
	MembersFlag string
	// Volume is the data volume of a cluster's first member; the others' carry their number
	// after it (kafka-data-2).
	Volume string
	// MajorBound says why the data on the service's volumes opens only with the major
	// version that wrote it, and what to do instead of moving it to another major (an image
	// change with a new dataeco release, or --image); empty when any version can take over.
	MajorBound string
}

func fixed(n Size) func(*Answers) Size { return func(*Answers) Size { return n } }

// Images, pinned. A row's image is the only place its tag is written.
const (
	imageZooKeeper      = "confluentinc/cp-zookeeper:7.9.9"
	imageKafka          = "confluentinc/cp-server:7.9.9"
	imageSchemaRegistry = "confluentinc/cp-schema-registry:7.9.9"
	imageControlCenter  = "confluentinc/cp-enterprise-control-center:7.9.9"
	imagePostgres       = "postgres:17.11-bookworm"
	imageAirflow        = "apache/airflow:3.3.2-python3.12"
	imageSpark          = "apache/spark:3.5.8-scala2.12-java17-python3-ubuntu"
	imageCassandra      = "cassandra:5.0.9"
)

// Catalogue lists every service dataeco can install, by component, in the order the summary
// lists their endpoints.
func Catalogue() []Service {
	airflow := func(name string, limit, minimum Size) Service {
		return Service{Name: name, Component: CompAirflow, Image: imageAirflow, ImageBytes: 2 << 30, Build: "airflow",
			Limit: fixed(limit), Minimum: fixed(minimum), Timeout: 5 * time.Minute}
	}
	apiserver := airflow("airflow-apiserver", 1536, 768)
	apiserver.Ports = []Port{{Key: "airflow", Flag: "airflow-port", Default: 8080, Target: 8080, What: "Airflow UI and API",
		Auth: "password (the Airflow admin, or users made in Airflow)", Endpoint: &Endpoint{Name: "Airflow", Scheme: "http", Note: "user admin", Smoke: SmokeAirflow, Env: "AIRFLOW_URL", Open: "airflow"}}}
	airflowInit := airflow("airflow-init", 1024, 0)
	airflowInit.Job, airflowInit.Timeout = true, 10*time.Minute
	return []Service{
		{Name: "broker", Component: CompKafka, Image: imageKafka, ImageBytes: 2 << 30,
			Limit:   func(a *Answers) Size { return a.KafkaHeap + 768 },
			Minimum: func(a *Answers) Size { return a.KafkaHeap + 256 }, SizedBy: "kafka-heap", Timeout: 3 * time.Minute,
			Members: func(a *Answers) int { return a.Brokers() }, MembersFlag: "kafka-brokers", Volume: "kafka-data",
			Ports: []Port{
				{Key: "kafka", Flag: "kafka-port", Default: 9092, Target: 9092, What: "Kafka (host listener)",
					Guard:    "SASL/PLAIN with the generated user",
					Endpoint: &Endpoint{Name: "Kafka bootstrap", Note: "inside the stack: broker:29092", Smoke: SmokeKafka, Env: "KAFKA_BOOTSTRAP_SERVERS"}},
				{Key: "kafka_jmx", Flag: "kafka-jmx-port", Default: 9101, Target: 9101, What: "Kafka JMX", Admin: true},
			}},
		{Name: "zookeeper", Component: CompKafka, Image: imageZooKeeper, ImageBytes: 300 << 20,
			Limit: fixed(512), Minimum: fixed(256), Timeout: 2 * time.Minute,
			Ports: []Port{{Key: "zookeeper", Flag: "zookeeper-port", Default: 2181, Target: 2181, What: "ZooKeeper client", Admin: true,
				Endpoint: &Endpoint{Name: "ZooKeeper", Env: "ZOOKEEPER_CONNECT"}}}},
		{Name: "kafka-init", Component: CompKafka, Image: imageKafka, Job: true,
			Limit: fixed(512), Minimum: fixed(0), Timeout: 2 * time.Minute},
		{Name: "schema-registry", Component: CompSchemaRegistry, Image: imageSchemaRegistry, ImageBytes: 400 << 20,
			Limit: fixed(768), Minimum: fixed(384), Timeout: 3 * time.Minute,
			Ports: []Port{{Key: "schema_registry", Flag: "schema-registry-port", Default: 8081, Target: 8081, What: "Schema Registry",
				Guard:    "HTTP basic auth with the generated user",
				Endpoint: &Endpoint{Name: "Schema Registry", Scheme: "http", Smoke: SmokeSchemaRegistry, Env: "SCHEMA_REGISTRY_URL", Open: "schema-registry"}}}},
		{Name: "control-center", Component: CompControlCenter, Image: imageControlCenter, ImageBytes: 1 << 30,
			Limit: fixed(2048), Minimum: fixed(1024), Timeout: 5 * time.Minute,
			Ports: []Port{{Key: "control_center", Flag: "control-center-port", Default: 9021, Target: 9021, What: "Control Center UI",
				Guard:    "HTTP basic auth with the generated user",
				Endpoint: &Endpoint{Name: "Control Center", Scheme: "http", Smoke: SmokeControlCenter, Env: "CONTROL_CENTER_URL", Open: "control-center"}}}},
		{Name: "postgres", Component: CompAirflow, Image: imagePostgres, ImageBytes: 450 << 20,
			Limit: fixed(512), Minimum: fixed(128), Timeout: 2 * time.Minute,
			MajorBound: "PostgreSQL opens a data directory only with the major version that wrote it (a move needs pg_dumpall and a restore); " +
				"to start Airflow's database afresh instead, `dataeco reset airflow`"},
		airflowInit,
		apiserver,
		airflow("airflow-scheduler", 1536, 768),
		// Measured on the real image (docs/performance.md): peaks of 175 and 249 MiB with
		// job_alive.py as the healthcheck. `airflow jobs check` needed 1g beside them, as
		// checks piled up on a loaded machine; 768m leaves three times the peak for DAGs.
		airflow("airflow-dag-processor", 768, 384),
		airflow("airflow-triggerer", 768, 384),
		{Name: "spark-master", Component: CompSpark, Image: imageSpark, ImageBytes: 1200 << 20, Build: "spark",
			Limit: fixed(768), Minimum: fixed(512), Timeout: 2 * time.Minute,
			Ports: []Port{
				{Key: "spark_ui", Flag: "spark-ui-port", Default: 9090, Target: 8080, What: "Spark master UI", Local: true,
					Endpoint: &Endpoint{Name: "Spark master UI", Scheme: "http", Smoke: SmokeSparkUI, Env: "SPARK_UI_URL", Open: "spark"}},
				{Key: "spark_master", Flag: "spark-master-port", Default: 7077, Target: 7077, What: "Spark master RPC",
					Guard:    "Spark authentication with the generated secret",
					Endpoint: &Endpoint{Name: "Spark master", Scheme: "spark", Env: "SPARK_MASTER_URL"}},
			}},
		{Name: "spark-worker", Component: CompSpark, Image: imageSpark, Replicated: true, Build: "spark",
			Limit:   func(a *Answers) Size { return a.SparkWorkerMemory + 768 },
			Minimum: func(a *Answers) Size { return a.SparkWorkerMemory + 256 }, SizedBy: "spark-worker-memory", Timeout: 2 * time.Minute},
		{Name: "cassandra", Component: CompCassandra, Image: imageCassandra, ImageBytes: 400 << 20,
			MajorBound: "Cassandra moves between major versions one at a time, with `nodetool upgradesstables` after each, and never back; " +
				"to start its data afresh instead, `dataeco reset cassandra` (or `dataeco backup FILE` first)",
			Limit:   func(a *Answers) Size { return max(2*a.CassandraHeap, a.CassandraHeap+1024) },
			Minimum: func(a *Answers) Size { return a.CassandraHeap + 512 }, SizedBy: "cassandra-heap", Timeout: 8 * time.Minute,
			Members: func(a *Answers) int { return a.Nodes() }, MembersFlag: "cassandra-nodes", Volume: "cassandra-data",
			Ports: []Port{{Key: "cassandra", Flag: "cassandra-port", Default: 9042, Target: 9042, What: "Cassandra CQL",
				Auth: "password (Cassandra roles)", Endpoint: &Endpoint{Name: "Cassandra CQL", Note: "user dataeco_admin", Smoke: SmokeCassandra, Env: "CASSANDRA_CONTACT_POINT"}}}},
		{Name: "cassandra-init", Component: CompCassandra, Image: imageCassandra, Job: true,
			Limit: fixed(512), Minimum: fixed(0), Timeout: 2 * time.Minute},
		// The streaming job needs both ends of the pipeline.
		{Name: "spark-stream", Component: CompSpark, Image: imageSpark, Build: "spark",
			Limit: fixed(1024), Minimum: fixed(640), Timeout: 2 * time.Minute,
			Installed: func(a *Answers) bool { return a.Has(CompSpark) && a.Has(CompCassandra) }},
	}
}

// Instances names the compose services a row stands for under the answers: one, the workers
// of a replicated row, or the members of a cluster.
func (s Service) Instances(a *Answers) []string {
	switch {
	case s.Replicated:
		names := make([]string, a.SparkWorkers)
		for i := range names {
			names[i] = fmt.Sprintf("%s-%d", s.Name, i+1)
		}
		return names
	case s.Members != nil:
		return MemberNames(s.Name, s.Members(a))
	}
	return []string{s.Name}
}

// MemberNames are the services of a cluster of n: name, name-2 … name-n.
func MemberNames(name string, n int) []string {
	names := []string{name}
	for i := 2; i <= n; i++ {
		names = append(names, fmt.Sprintf("%s-%d", name, i))
	}
	return names
}

// On says whether the answers install the service.
func (s Service) On(a *Answers) bool {
	if s.Installed != nil {
		return s.Installed(a)
	}
	return a.Has(s.Component)
}

// Lookup finds the row of a compose service: "spark-worker-2" is a spark-worker, "broker-3"
// a broker.
func Lookup(service string) (Service, bool) {
	for _, s := range Catalogue() {
		if s.Name == service {
			return s, true
		}
		if s.Replicated || s.Members != nil {
			if n, ok := strings.CutPrefix(service, s.Name+"-"); ok && n != "" && strings.Trim(n, "0123456789") == "" {
				return s, true
			}
		}
	}
	return Service{}, false
}

// Ports lists every host port of the catalogue, in start order.
func Ports() []Port {
	var out []Port
	for _, s := range Catalogue() {
		out = append(out, s.Ports...)
	}
	return out
}

// PortsOf lists the ports the answers publish, in start order.
func PortsOf(a *Answers) []Port {
	var out []Port
	for _, s := range Catalogue() {
		if s.On(a) {
			for _, p := range s.Ports {
				if p.Published(a) {
					out = append(out, p)
				}
			}
		}
	}
	return out
}

// AdminPorts names the ports --expose takes: the admin ports and the local ones.
func AdminPorts() []string {
	var out []string
	for _, p := range Ports() {
		if p.Admin || p.Local {
			out = append(out, p.Name())
		}
	}
	return out
}

// Timeout is how long a compose service may take to become ready.
func Timeout(service string) time.Duration {
	if s, ok := Lookup(service); ok {
		return s.Timeout
	}
	return 2 * time.Minute
}
