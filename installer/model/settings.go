package model

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/dataeco/dataeco/installer/hint"
)

// Setting is one answer the user can give by flag, by DATAECO_* variable, by prompt (when
// Prompt is set) or in the answers file. The same table builds the flags, parses their
// values and asks the questions, so the three can't drift apart.
type Setting struct {
	Flag    string // without dashes
	Usage   string // names its value by the placeholder Value
	Value   string // the placeholder in help: N, SIZE, LIST…
	Default string // what happens when nobody answers, for help
	Example string
	Prompt  string // empty: flag and env only, never asked
	// Bool settings are switches: given means true, and they take no value.
	Bool bool
	// Repeat settings may be given more than once; the values reach Parse comma-joined.
	Repeat bool
	// Get renders the current answer as the flag would take it.
	Get func(a *Answers) string
	// Parse reads a value once into what applies it; the typed value lives in the closure.
	Parse func(v string) (Apply, error)
}

// Apply sets one parsed answer.
type Apply func(a *Answers)

// EnvName is the environment variable that stands for a flag.
func EnvName(flag string) string {
	return "DATAECO_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

func sizeSetting(flag, usage, def, prompt string, field func(a *Answers) *Size) Setting {
	return Setting{Flag: flag, Usage: usage, Value: "SIZE", Default: def, Example: "1g", Prompt: prompt,
		Get: func(a *Answers) string { return field(a).String() },
		Parse: func(v string) (Apply, error) {
			s, err := ParseSize(v)
			return func(a *Answers) { *field(a) = s }, err
		}}
}

func intSetting(flag, usage, def, prompt, example string, lo, hi int, field func(a *Answers) *int) Setting {
	return Setting{Flag: flag, Usage: usage, Value: "N", Default: def, Example: example, Prompt: prompt,
		Get: func(a *Answers) string { return strconv.Itoa(*field(a)) },
		Parse: func(v string) (Apply, error) {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return nil, fmt.Errorf("%q is not a whole number", v)
			}
			if n < lo || n > hi {
				return nil, fmt.Errorf("%d is outside %d-%d", n, lo, hi)
			}
			return func(a *Answers) { *field(a) = n }, nil
		}}
}

// memberSetting is how many members a cluster has (1-9). One is written as 0, as in answers
// files from before the setting: they read the same.
func memberSetting(flag, usage string, field func(a *Answers) *int) Setting {
	return Setting{Flag: flag, Usage: usage, Value: "N", Default: "1", Example: "3",
		Get: func(a *Answers) string { return strconv.Itoa(max(1, *field(a))) },
		Parse: func(v string) (Apply, error) {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return nil, fmt.Errorf("%q is not a whole number", v)
			}
			if n < 1 || n > 9 {
				return nil, fmt.Errorf("%d is outside 1-9", n)
			}
			if n == 1 {
				n = 0
			}
			return func(a *Answers) { *field(a) = n }, nil
		}}
}

func boolSetting(flag, usage string, field func(a *Answers) *bool) Setting {
	return Setting{Flag: flag, Usage: usage, Default: "false", Example: "true", Bool: true,
		Get: func(a *Answers) string { return strconv.FormatBool(*field(a)) },
		Parse: func(v string) (Apply, error) {
			b, err := strconv.ParseBool(strings.TrimSpace(v))
			if err != nil {
				return nil, fmt.Errorf("%q is not true or false", v)
			}
			return func(a *Answers) { *field(a) = b }, nil
		}}
}

func stringSetting(flag, usage, value, def, example, prompt string, get func(a *Answers) string,
	parse func(string) (string, error), field func(a *Answers) *string) Setting {
	return Setting{Flag: flag, Usage: usage, Value: value, Default: def, Example: example, Prompt: prompt, Get: get,
		Parse: func(v string) (Apply, error) {
			s, err := parse(v)
			return func(a *Answers) { *field(a) = s }, err
		}}
}

// Settings lists every answer, questions first in the order they are asked.
func Settings() []Setting {
	out := []Setting{
		{Flag: "components", Usage: "the components to install, a comma-separated LIST or all: " + strings.Join(Components(), ","),
			Value: "LIST", Default: "all", Example: "kafka,spark,cassandra", Prompt: "Components to install (Kafka is always included)",
			Get: func(a *Answers) string { return strings.Join(a.Components, ",") },
			Parse: func(v string) (Apply, error) {
				c, err := ParseComponents(v)
				return func(a *Answers) { a.Components = c }, err
			}},
		intSetting("spark-worker-cores", "N CPU cores for each Spark worker to offer", "half the engine's CPUs, 1-4", "Spark worker cores", "2", 1, 64,
			func(a *Answers) *int { return &a.SparkWorkerCores }),
		sizeSetting("spark-worker-memory", "the SIZE of memory each Spark worker offers to executors, like 512m or 2g", "512m, 1g or 2g by engine memory", "Spark worker memory",
			func(a *Answers) *Size { return &a.SparkWorkerMemory }),
		sizeSetting("cassandra-heap", "Cassandra's JVM heap SIZE, like 512m or 1g", "512m below 8 GiB of engine memory, else 1g", "Cassandra heap",
			func(a *Answers) *Size { return &a.CassandraHeap }),
		sizeSetting("kafka-heap", "the Kafka broker's JVM heap SIZE, like 512m or 1g", "512m below 8 GiB of engine memory, else 1g", "Kafka heap",
			func(a *Answers) *Size { return &a.KafkaHeap }),
		stringSetting("listen", "the IP address published ports bind to; 0.0.0.0 exposes the stack to your network", "IP", "127.0.0.1", "127.0.0.1",
			"Address to publish ports on (127.0.0.1 keeps the stack private)",
			func(a *Answers) string { return strings.Trim(a.Listen, "[]") }, ParseListen, func(a *Answers) *string { return &a.Listen }),
		stringSetting("advertise", "the HOST clients on other machines reach the stack by, in Kafka's metadata and every URL printed",
			"HOST", "the listen address, or this machine's name when listening on all", "dataeco.example.lan", "",
			func(a *Answers) string { return a.Advertise }, ParseHost, func(a *Answers) *string { return &a.Advertise }),
		{Flag: "expose", Usage: "publish these ports (" + strings.Join(AdminPorts(), ", ") + ") on the --listen address too when it is not loopback, a LIST",
			Value: "LIST", Default: "none", Example: "zookeeper",
			Get: func(a *Answers) string { return strings.Join(a.Expose, ",") },
			Parse: func(v string) (Apply, error) {
				e, err := ParseExpose(v)
				return func(a *Answers) { a.Expose = e }, err
			}},
		boolSetting("swarm", "deploy to the Docker Swarm this engine manages: Spark workers spread over its nodes (needs --registry and --listen 0.0.0.0)",
			func(a *Answers) *bool { return &a.Swarm }),
		boolSetting("allow-unauthenticated", "publish ports that let anyone in (those named in --expose) on an address other machines reach",
			func(a *Answers) *bool { return &a.AllowUnauthenticated }),
		intSetting("spark-workers", "run N Spark workers", "1", "", "2", 1, 16,
			func(a *Answers) *int { return &a.SparkWorkers }),
		memberSetting("kafka-brokers", "run N Kafka brokers, each on its own swarm node (with --swarm), topics replicated over up to three",
			func(a *Answers) *int { return &a.KafkaBrokers }),
		memberSetting("cassandra-nodes", "run N Cassandra nodes, each on its own swarm node (with --swarm), the keyspace replicated over up to three",
			func(a *Answers) *int { return &a.CassandraNodes }),
		stringSetting("subnet", "the CIDR address range of the stack's network, when the engine's default collides with a VPN", "CIDR",
			"the engine's choice", "10.123.0.0/24", "",
			func(a *Answers) string { return a.Subnet }, ParseSubnet, func(a *Answers) *string { return &a.Subnet }),
		stringSetting("registry", "pull every image through the registry or mirror at HOST[:PORT][/PATH]", "HOST[:PORT][/PATH]", "Docker Hub", "mirror.local:5000", "",
			func(a *Answers) string { return a.Registry }, ParseRegistry, func(a *Answers) *string { return &a.Registry }),
		{Flag: "image", Usage: "run REF in place of a pinned image, as NAME=REF (repeatable; NAME= goes back to the pinned one): " + strings.Join(imageNames(), ", "),
			Value: "REF", Default: "the pinned set (dataeco images)", Example: "kafka=confluentinc/cp-server:7.9.10", Repeat: true,
			Get: func(a *Answers) string {
				var pairs []string
				for _, name := range slices.Sorted(maps.Keys(a.Images)) {
					pairs = append(pairs, name+"="+a.Images[name])
				}
				return strings.Join(pairs, ",")
			},
			Parse: func(v string) (Apply, error) {
				given, err := ParseImages(v)
				return func(a *Answers) { a.Images = MergeImages(a.Images, given) }, err
			}},
		stringSetting("project", "the Compose project NAME; containers are named NAME-SERVICE-1", "NAME", "dataeco", "dataeco", "",
			func(a *Answers) string { return a.Project }, ParseProject, func(a *Answers) *string { return &a.Project }),
	}
	for _, p := range Ports() {
		key := p.Key
		out = append(out, Setting{Flag: p.Flag, Usage: "the host PORT for " + p.What, Value: "PORT", Default: strconv.Itoa(p.Default),
			Example: strconv.Itoa(p.Default + 10000),
			Get:     func(a *Answers) string { return strconv.Itoa(a.Ports[key]) },
			Parse: func(v string) (Apply, error) {
				n, err := ParsePort(v)
				return func(a *Answers) { a.Ports[key] = n }, err
			}})
	}
	return out
}

func ParseProject(v string) (string, error) {
	if !validProject(v) {
		return "", fmt.Errorf("%q must be lower-case letters, digits, - or _", v)
	}
	return v, nil
}

// Given are the answers given on this run by flag or environment, each parsed once.
type Given map[string]Apply

// ReadGiven parses every value given on this run (value returns it and whether it was set)
// and checks it alone and together with the saved answers — two services on one port, a heap
// below the minimum — before anything else happens.
func ReadGiven(value func(flag string) (string, bool), saved *Answers) (Given, error) {
	g := Given{}
	probe := DefaultAnswers(EngineResources{NCPU: 2, MemTotal: 8 << 30})
	if saved != nil {
		probe = *saved.Clone()
	}
	for _, s := range Settings() {
		v, ok := value(s.Flag)
		if !ok {
			continue
		}
		apply, err := s.Parse(v)
		if err != nil {
			return nil, hint.Usage("--"+s.Flag, s.Example, "%v", err)
		}
		apply(&probe)
		g[s.Flag] = apply
	}
	if err := probe.Validate(); err != nil {
		return nil, err
	}
	return g, nil
}

// Asker asks the user the questions nobody answered; the CLI implements it over a prompt.
type Asker interface {
	// Ask asks one setting and returns its parsed answer.
	Ask(s Setting, current *Answers) (Apply, error)
}

// Resolve merges, in order of precedence: this run's flags, the saved answers, then the
// user's replies (when ask gives an Asker) or the defaults (with yes). Without a way to ask
// and without yes, a question nobody answered is a usage error naming its flag: never a hang.
func Resolve(given Given, saved *Answers, defaults Answers, yes bool, ask func() (Asker, error)) (*Answers, error) {
	a := defaults.Clone()
	if saved != nil {
		a = saved.Clone()
	}
	var missing []string
	var asker Asker
	for _, s := range Settings() {
		if apply, ok := given[s.Flag]; ok {
			apply(a)
			continue
		}
		if saved != nil || s.Prompt == "" || yes {
			continue
		}
		if asker == nil {
			p, err := ask()
			if err != nil {
				missing = append(missing, "--"+s.Flag)
				continue
			}
			asker = p
		}
		apply, err := asker.Ask(s, a)
		if err != nil {
			return nil, err
		}
		apply(a)
	}
	if len(missing) > 0 {
		return nil, hint.UsageHint("pass --yes to take the defaults sized to your Docker engine, or give each flag (or its DATAECO_* variable)",
			fmt.Errorf("no terminal to ask on, and no answer for %s", strings.Join(missing, ", ")))
	}
	a.Version = answersVersion
	if err := a.Validate(); err != nil {
		return nil, err
	}
	return a, nil
}
