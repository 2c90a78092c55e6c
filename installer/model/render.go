package model

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"strings"
	"text/template"

	"github.com/dataeco/dataeco/embedded"
	"github.com/dataeco/dataeco/embedded/pipeline"
)

// renderData is what the compose template sees beside its functions. Everything derived is
// computed here or in the catalogue, so the template stays declarative.
type renderData struct {
	Version          string
	Ports            map[string]int
	KafkaHeap        Size
	CassandraHeap    Size
	CassandraNewSize Size
	WorkerCores      int
	WorkerMemory     Size
	// The streaming job takes what one worker offers, leaving the rest of the cluster free.
	ExecutorMemory Size
	StreamCores    int
	// Advertise is the host the broker gives host clients in its metadata.
	Advertise string
	// Subnet is the stack network's address range; empty: the engine picks one.
	Subnet string
	// Guarded: the ports are published off loopback, so Kafka's host listener, Spark, Schema
	// Registry and Control Center require the generated credentials (Answers.Guarded).
	Guarded bool
	// The pipeline's names, from the pipeline package.
	Topic, Keyspace, Table, App string
	// Brokers are Kafka's brokers; KafkaBootstrap lists their internal listeners, which every
	// client in the stack starts from; KafkaReplication and KafkaMinISR are the replication
	// factor of every topic and how many replicas a write waits for.
	Brokers                       []Member
	KafkaBootstrap                string
	KafkaReplication, KafkaMinISR int
	// CassandraNodes are Cassandra's nodes, the first the seed; CassandraReplication the
	// replication factor of the pipeline's keyspace and of the logins.
	CassandraNodes       []Member
	CassandraReplication int
	// StartInterval is the cheap healthchecks' start_interval; empty: the engine or a
	// compose here would not take the key (Inputs.HealthStartInterval).
	StartInterval string
}

// Render produces the compose file for the answers and the user's files from the embedded
// template, or from source when it is not empty (tests play a newer dataeco that way). The
// output is deterministic: the same inputs give the same bytes, which is what lets a re-run
// recreate nothing.
func Render(a *Answers, version, source string, user Inputs) ([]byte, error) {
	if source == "" {
		source = embedded.ComposeTemplate
	}
	builds, err := Builds(a, user)
	if err != nil {
		return nil, err
	}
	data := renderData{
		Version:          version,
		Ports:            a.Ports,
		KafkaHeap:        a.KafkaHeap,
		CassandraHeap:    a.CassandraHeap,
		CassandraNewSize: max(128, min(a.CassandraHeap/4, 800)),
		WorkerCores:      a.SparkWorkerCores,
		WorkerMemory:     a.SparkWorkerMemory,
		ExecutorMemory:   max(256, a.SparkWorkerMemory/2),
		StreamCores:      max(1, a.SparkWorkerCores/2),
		Advertise:        a.Advertised(user.MachineName()),
		Subnet:           a.Subnet,
		Guarded:          a.Guarded(),
		Topic:            pipeline.Topic, Keyspace: pipeline.Keyspace, Table: pipeline.Table, App: pipeline.App,
	}
	data.Brokers = members(a, "broker", data.Advertise, user)
	var bootstrap []string
	for _, b := range data.Brokers {
		bootstrap = append(bootstrap, b.Name+":29092")
	}
	data.KafkaBootstrap = strings.Join(bootstrap, ",")
	// With three replicas a write waits for two, so one broker may be down; with fewer, one.
	data.KafkaReplication = a.KafkaReplication()
	data.KafkaMinISR = max(1, data.KafkaReplication-1)
	data.CassandraNodes = members(a, "cassandra", data.Advertise, user)
	data.CassandraReplication = a.CassandraReplication()
	if user.HealthStartInterval {
		data.StartInterval = startInterval
	}
	tmpl, err := template.New("compose").Funcs(templateFuncs(a, builds)).Option("missingkey=error").Parse(source)
	if err != nil {
		return nil, fmt.Errorf("parsing the embedded compose template: %w", err)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, data); err != nil {
		return nil, fmt.Errorf("rendering the compose file: %w", err)
	}
	return buf.Bytes(), nil
}

// Member is one member of a cluster row as the template writes it.
type Member struct {
	Name string // the service: broker, broker-2, …
	ID   int    // 1, 2, …: the broker ID
	// Volume is the member's data volume: the row's for the first, with the member's number
	// after it for the others.
	Volume string
	// Advertise is the host clients elsewhere reach the member at: its swarm node's address
	// when it is pinned to another node than the home one.
	Advertise string
	// After is the member before this one ("" for the first), for a cluster whose members
	// join one at a time.
	After string
}

func members(a *Answers, service, advertise string, user Inputs) []Member {
	row, _ := Lookup(service)
	var out []Member
	for i, name := range row.Instances(a) {
		m := Member{Name: name, ID: i + 1, Volume: MemberVolume(name), Advertise: advertise}
		if i > 0 {
			m.After = out[i-1].Name
		}
		if p, ok := user.SwarmPlaces[name]; ok && p.Addr != "" {
			m.Advertise = p.Addr
		}
		out = append(out, m)
	}
	return out
}

// templateFuncs give the template the catalogue's facts, by service name, so a service's
// image, memory and ports are written once, in its row.
func templateFuncs(a *Answers, builds []Build) template.FuncMap {
	row := func(service string) (Service, error) {
		s, ok := Lookup(service)
		if !ok {
			return s, fmt.Errorf("no service %q in the catalogue", service)
		}
		return s, nil
	}
	return template.FuncMap{
		"on": func(service string) (bool, error) {
			s, err := row(service)
			return err == nil && s.On(a), err
		},
		// image is what the service runs: the pinned image, or the one dataeco builds from it.
		"image": func(service string) (string, error) {
			s, err := row(service)
			for _, b := range builds {
				if b.Name == s.Build {
					return b.Tag, err
				}
			}
			return a.ImageOf(s.Image), err
		},
		"limit": func(service string) (string, error) {
			s, err := row(service)
			if err != nil {
				return "", err
			}
			return s.Limit(a).String(), nil
		},
		"component": func(service string) (string, error) {
			s, err := row(service)
			return s.Component, err
		},
		"instances": func(service string) ([]string, error) {
			s, err := row(service)
			return s.Instances(a), err
		},
		// published says whether the answers publish the port (admin ports: on loopback or
		// when exposed by name).
		"published": func(key string) (bool, error) {
			for _, p := range Ports() {
				if p.Key == key {
					return p.Published(a), nil
				}
			}
			return false, fmt.Errorf("no port %q in the catalogue", key)
		},
		// publish is a port mapping, "ADDRESS:HOST_PORT:CONTAINER_PORT".
		"publish": func(key string) (string, error) {
			for _, p := range Ports() {
				if p.Key == key {
					return fmt.Sprintf("%s:%d:%d", p.HostIP(a), a.Ports[key], p.Target), nil
				}
			}
			return "", fmt.Errorf("no port %q in the catalogue", key)
		},
		"mem": func(s Size) string { return s.String() },
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
}
