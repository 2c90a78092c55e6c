package installer

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
)

// setting is one answer the user can give by flag, by DATAECO_* variable, by prompt (when
// Prompt is set) or by the answers file. The same table builds the flags, parses their
// values and asks the questions, so the three can't drift apart.
type setting struct {
	Flag    string
	Usage   string
	Example string
	Prompt  string // empty: flag and env only, never asked
	// get renders the current answer as the flag would take it; set parses and applies.
	get func(a *Answers) string
	set func(a *Answers, v string) error
}

// EnvName is the environment variable that stands for a flag.
func EnvName(flag string) string {
	return "DATAECO_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

func sizeSetting(flag, usage, prompt string, field func(a *Answers) *Size) setting {
	return setting{Flag: flag, Usage: usage, Example: "1g", Prompt: prompt,
		get: func(a *Answers) string { return field(a).String() },
		set: func(a *Answers, v string) error {
			s, err := ParseSize(v)
			if err != nil {
				return err
			}
			*field(a) = s
			return nil
		}}
}

func intSetting(flag, usage, prompt, example string, lo, hi int, field func(a *Answers) *int) setting {
	return setting{Flag: flag, Usage: usage, Example: example, Prompt: prompt,
		get: func(a *Answers) string { return strconv.Itoa(*field(a)) },
		set: func(a *Answers, v string) error {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return fmt.Errorf("%q is not a whole number", v)
			}
			if n < lo || n > hi {
				return fmt.Errorf("%d is outside %d-%d", n, lo, hi)
			}
			*field(a) = n
			return nil
		}}
}

// settings lists every answer, questions first in the order they are asked.
func settings() []setting {
	out := []setting{
		{Flag: "components", Usage: "comma-separated components to install, or all: " + strings.Join(Components(), ","),
			Example: "kafka,spark,cassandra", Prompt: "Components to install (Kafka is always included)",
			get: func(a *Answers) string { return strings.Join(a.Components, ",") },
			set: func(a *Answers, v string) error {
				c, err := ParseComponents(v)
				if err != nil {
					return err
				}
				a.Components = c
				return nil
			}},
		intSetting("spark-worker-cores", "CPU cores each Spark worker offers", "Spark worker cores", "2", 1, 64,
			func(a *Answers) *int { return &a.SparkWorkerCores }),
		sizeSetting("spark-worker-memory", "memory each Spark worker offers to executors (like 512m or 2g)", "Spark worker memory",
			func(a *Answers) *Size { return &a.SparkWorkerMemory }),
		sizeSetting("cassandra-heap", "Cassandra JVM heap (like 512m or 1g)", "Cassandra heap",
			func(a *Answers) *Size { return &a.CassandraHeap }),
		sizeSetting("kafka-heap", "Kafka broker JVM heap (like 512m or 1g)", "Kafka heap",
			func(a *Answers) *Size { return &a.KafkaHeap }),
		{Flag: "listen", Usage: "address published ports bind to; 0.0.0.0 exposes the stack to your network",
			Example: "127.0.0.1", Prompt: "Address to publish ports on (127.0.0.1 keeps the stack private)",
			get: func(a *Answers) string { return strings.Trim(a.Listen, "[]") },
			set: func(a *Answers, v string) error {
				l, err := ParseListen(v)
				if err != nil {
					return err
				}
				a.Listen = l
				return nil
			}},
		intSetting("spark-workers", "number of Spark workers", "", "2", 1, 16,
			func(a *Answers) *int { return &a.SparkWorkers }),
		{Flag: "registry", Usage: "pull every image through this registry or mirror, HOST[:PORT][/PATH]",
			Example: "mirror.local:5000",
			get:     func(a *Answers) string { return a.Registry },
			set: func(a *Answers, v string) error {
				r, err := ParseRegistry(v)
				if err != nil {
					return err
				}
				a.Registry = r
				return nil
			}},
		{Flag: "project", Usage: "Compose project name; containers are named PROJECT-SERVICE-1",
			Example: "dataeco",
			get:     func(a *Answers) string { return a.Project },
			set: func(a *Answers, v string) error {
				if !validProject(v) {
					return fmt.Errorf("%q must be lower-case letters, digits, - or _", v)
				}
				a.Project = v
				return nil
			}},
	}
	for _, p := range PortSpecs() {
		key := p.Key
		out = append(out, setting{Flag: p.Flag, Usage: "host port for " + p.What, Example: strconv.Itoa(p.Default + 10000),
			get: func(a *Answers) string { return strconv.Itoa(a.Ports[key]) },
			set: func(a *Answers, v string) error {
				n, err := ParsePort(v)
				if err != nil {
					return err
				}
				a.Ports[key] = n
				return nil
			}})
	}
	return out
}

// settingFlags builds the urfave flags; values are strings so every parse error is ours,
// naming the flag and a good value.
func settingFlags() []cli.Flag {
	var out []cli.Flag
	for _, s := range settings() {
		out = append(out, &cli.StringFlag{Name: s.Flag, Usage: s.Usage, EnvVars: []string{EnvName(s.Flag)}, Category: "Answers"})
	}
	return out
}

// overrides are answers given on this run by flag or environment, already validated.
type overrides map[string]string

// readOverrides validates every given value before anything else happens, alone and
// together with the saved answers (two services on one port, a heap below the minimum).
func readOverrides(c *cli.Context, saved *Answers) (overrides, error) {
	o := overrides{}
	probe := DefaultAnswers(EngineResources{NCPU: 2, MemTotal: 8 << 30})
	if saved != nil {
		probe = *saved
		probe.Ports = map[string]int{}
		for k, v := range saved.Ports {
			probe.Ports[k] = v
		}
	}
	for _, s := range settings() {
		if !c.IsSet(s.Flag) {
			continue
		}
		v := c.String(s.Flag)
		if err := s.set(&probe, v); err != nil {
			return nil, UsageError("--"+s.Flag, s.Example, "%v", err)
		}
		o[s.Flag] = v
	}
	if err := probe.Validate(); err != nil {
		return nil, err
	}
	return o, nil
}

// resolveAnswers merges, in order of precedence: this run's flags, the saved answers, then
// the user's replies (on a terminal) or the defaults (with --yes). Without a terminal and
// without --yes, a question nobody answered is a usage error naming its flag: never a hang.
func resolveAnswers(o overrides, saved *Answers, defaults Answers, yes bool, ask func() (Prompter, error)) (*Answers, error) {
	a := defaults
	a.Ports = map[string]int{}
	for k, v := range defaults.Ports {
		a.Ports[k] = v
	}
	if saved != nil {
		a = *saved
		a.Ports = map[string]int{}
		for k, v := range saved.Ports {
			a.Ports[k] = v
		}
	}
	var missing []string
	var prompter Prompter
	for _, s := range settings() {
		if v, ok := o[s.Flag]; ok {
			if err := s.set(&a, v); err != nil {
				return nil, UsageError("--"+s.Flag, s.Example, "%v", err)
			}
			continue
		}
		if saved != nil || s.Prompt == "" || yes {
			continue
		}
		if prompter == nil {
			p, err := ask()
			if err != nil {
				missing = append(missing, "--"+s.Flag)
				continue
			}
			prompter = p
		}
		if err := askSetting(prompter, s, &a); err != nil {
			return nil, err
		}
	}
	if len(missing) > 0 {
		return nil, &Error{Code: ExitUsage,
			Err:  fmt.Errorf("no terminal to ask on, and no answer for %s", strings.Join(missing, ", ")),
			Hint: "pass --yes to take the defaults sized to your Docker engine, or give each flag (or its DATAECO_* variable)"}
	}
	a.Version = answersVersion
	if err := a.Validate(); err != nil {
		return nil, err
	}
	return &a, nil
}

func askSetting(p Prompter, s setting, a *Answers) error {
	if s.Flag == "components" {
		chosen, err := p.MultiSelect(s.Prompt, Components(), a.Components)
		if err != nil {
			return err
		}
		if len(chosen) == 0 {
			chosen = []string{CompKafka}
		}
		return s.set(a, strings.Join(chosen, ","))
	}
	probe := *a
	v, err := p.Input(s.Prompt, s.get(a), func(v string) error { return s.set(&probe, v) })
	if err != nil {
		return err
	}
	return s.set(a, v)
}
