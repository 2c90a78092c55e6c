package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Fake kafka-topics (/usr/bin/kafka-topics of the Confluent images). It
// implements --create, --list and --describe against --bootstrap-server
// with franz-go's admin client, printing what Apache Kafka's TopicCommand
// prints for the same cases.

const kafkaTopicsUsage = `usage: kafka-topics --bootstrap-server HOST:PORT (--create | --list | --describe) [options]
  --create [--if-not-exists] --topic T [--partitions N] [--replication-factor R] [--config K=V]...
  --list [--exclude-internal]
  --describe [--topic T] [--if-exists] [--exclude-internal]
(the stand-in kafka-topics implements only these, over PLAINTEXT)`

type kafkaTopicsArgs struct {
	bootstrap         []string
	action            string // create, list or describe
	topic             string
	partitions        int32 // -1: the broker's default
	replicationFactor int16 // -1: the broker's default
	configs           map[string]*string
	ifNotExists       bool
	ifExists          bool
}

// kafkaTopicsTimeout bounds how long kafka-topics keeps trying to reach
// the broker. Tests shorten it.
var kafkaTopicsTimeout = 10 * time.Second

func parseKafkaTopicsArgs(args []string) (kafkaTopicsArgs, error) {
	a := kafkaTopicsArgs{partitions: -1, replicationFactor: -1}
	var actions []string
	for i := 0; i < len(args); i++ {
		arg := args[i]
		flag, val, hasVal := strings.Cut(arg, "=")
		if !strings.HasPrefix(flag, "--") {
			return a, fmt.Errorf("Found non-option argument %q; options start with --", arg)
		}
		needVal := func() (string, error) {
			if hasVal {
				return val, nil
			}
			if i+1 >= len(args) || strings.HasPrefix(args[i+1], "--") {
				return "", fmt.Errorf("Option %s requires an argument", flag)
			}
			i++
			return args[i], nil
		}
		noVal := func() error {
			if hasVal {
				return fmt.Errorf("Option %s does not take an argument", flag)
			}
			return nil
		}
		var err error
		switch flag {
		case "--bootstrap-server":
			var v string
			if v, err = needVal(); err == nil {
				a.bootstrap = bootstrapAddrs(v)
				if len(a.bootstrap) == 0 {
					err = fmt.Errorf("--bootstrap-server needs HOST:PORT")
				}
			}
		case "--create", "--list", "--describe":
			if err = noVal(); err == nil {
				actions = append(actions, strings.TrimPrefix(flag, "--"))
			}
		case "--alter", "--delete":
			err = fmt.Errorf("%s is not implemented by the stand-in kafka-topics", flag)
		case "--zookeeper":
			err = fmt.Errorf("zookeeper is not a recognized option")
		case "--topic":
			a.topic, err = needVal()
		case "--partitions":
			var v string
			if v, err = needVal(); err == nil {
				n, perr := strconv.ParseInt(v, 10, 32)
				if perr != nil {
					err = fmt.Errorf("Cannot parse argument '%s' of option partitions", v)
				} else if n < 1 {
					err = fmt.Errorf("The partitions must be greater than 0")
				}
				a.partitions = int32(n)
			}
		case "--replication-factor":
			var v string
			if v, err = needVal(); err == nil {
				n, perr := strconv.ParseInt(v, 10, 32)
				if perr != nil {
					err = fmt.Errorf("Cannot parse argument '%s' of option replication-factor", v)
				} else if n < 1 || n > 32767 {
					err = fmt.Errorf("The replication factor must be between 1 and 32767 inclusive")
				}
				a.replicationFactor = int16(n)
			}
		case "--config":
			var v string
			if v, err = needVal(); err == nil {
				k, cv, ok := strings.Cut(v, "=")
				if !ok || k == "" {
					err = fmt.Errorf("Invalid topic config: all configs to be added must be in the format \"key=val\".")
				} else {
					if a.configs == nil {
						a.configs = map[string]*string{}
					}
					a.configs[k] = kadm.StringPtr(cv)
				}
			}
		case "--if-not-exists":
			a.ifNotExists, err = true, noVal()
		case "--if-exists":
			a.ifExists, err = true, noVal()
		case "--exclude-internal":
			err = noVal() // internal topics are always left out
		case "--command-config":
			_, err = needVal() // PLAINTEXT only: nothing to configure
		default:
			err = fmt.Errorf("%s is not a recognized option", strings.TrimPrefix(flag, "--"))
		}
		if err != nil {
			return a, err
		}
	}
	if len(actions) != 1 {
		return a, fmt.Errorf("Command must include exactly one action: --list, --describe, --create, --alter or --delete")
	}
	a.action = actions[0]
	if len(a.bootstrap) == 0 {
		return a, fmt.Errorf("Missing required argument \"[bootstrap-server]\"")
	}
	if a.action == "create" && a.topic == "" {
		return a, fmt.Errorf("Missing required argument \"[topic]\"")
	}
	if a.action != "create" && (a.partitions != -1 || a.replicationFactor != -1 || a.configs != nil || a.ifNotExists) {
		return a, fmt.Errorf("Option \"[partitions]\", \"[replication-factor]\", \"[config]\" and \"[if-not-exists]\" can only be used with \"[create]\"")
	}
	return a, nil
}

func kafkaTopicsMain(args []string) int {
	a, err := parseKafkaTopicsArgs(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "Exception in thread \"main\" joptsimple.OptionException: %v\n%s\n", err, kafkaTopicsUsage)
		return 1
	}
	if failUnhealthy() {
		return 1
	}
	return kafkaTopics(a, os.Stdout, os.Stderr)
}

// topicCommandError prints an error as TopicCommand does: the message on
// stdout, and a log4j ERROR line on stderr.
func topicCommandError(stdout, stderr io.Writer, exception, msg string) int {
	fmt.Fprintf(stdout, "Error while executing topic command : %s\n", msg)
	fmt.Fprintf(stderr, "[%s] ERROR %s: %s (org.apache.kafka.tools.TopicCommand)\n",
		time.Now().Format("2006-01-02 15:04:05,000"), exception, msg)
	return 1
}

// kafkaTopics runs one parsed kafka-topics command.
func kafkaTopics(a kafkaTopicsArgs, stdout, stderr io.Writer) int {
	cl, err := kgo.NewClient(kgo.SeedBrokers(a.bootstrap...), kgo.DialTimeout(2*time.Second))
	if err != nil {
		return topicCommandError(stdout, stderr, "java.lang.IllegalArgumentException", err.Error())
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), kafkaTopicsTimeout)
	defer cancel()

	// Wait for the broker: metadata with a short deadline per try, until
	// kafkaTopicsTimeout has passed.
	var topics kadm.TopicDetails
	for {
		tctx, tcancel := context.WithTimeout(ctx, 2*time.Second)
		topics, err = adm.ListTopicsWithInternal(tctx)
		tcancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			// The client's own error is a bare deadline; a plain dial
			// says why the broker could not be reached.
			for _, addr := range a.bootstrap {
				c, derr := net.DialTimeout("tcp", addr, time.Second)
				if derr != nil {
					err = derr
					break
				}
				c.Close()
			}
			return topicCommandError(stdout, stderr, "org.apache.kafka.common.errors.TimeoutException",
				fmt.Sprintf("Timed out waiting for a node assignment. Call: %s (stand-in: broker %s not reachable within %v: %v)",
					map[string]string{"create": "createTopics", "list": "listTopics", "describe": "describeTopics"}[a.action],
					strings.Join(a.bootstrap, ","), kafkaTopicsTimeout, err))
		}
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}

	switch a.action {
	case "list":
		for _, name := range topics.Names() {
			if !strings.HasPrefix(name, "__") && !topics[name].IsInternal {
				fmt.Fprintln(stdout, name)
			}
		}
		return 0

	case "create":
		if _, exists := topics[a.topic]; exists && topics[a.topic].Err == nil {
			if a.ifNotExists {
				return 0
			}
			return topicCommandError(stdout, stderr, "org.apache.kafka.common.errors.TopicExistsException",
				fmt.Sprintf("Topic '%s' already exists.", a.topic))
		}
		resp, err := adm.CreateTopic(ctx, a.partitions, a.replicationFactor, a.configs, a.topic)
		switch {
		case err == nil:
			fmt.Fprintf(stdout, "Created topic %s.\n", a.topic)
			return 0
		case errors.Is(err, kerr.TopicAlreadyExists):
			if a.ifNotExists {
				return 0
			}
			return topicCommandError(stdout, stderr, "org.apache.kafka.common.errors.TopicExistsException",
				fmt.Sprintf("Topic '%s' already exists.", a.topic))
		case errors.Is(err, kerr.InvalidReplicationFactor):
			return topicCommandError(stdout, stderr, "org.apache.kafka.common.errors.InvalidReplicationFactorException",
				fmt.Sprintf("Replication factor: %d larger than available brokers: 1.", a.replicationFactor))
		}
		msg := err.Error()
		if resp.ErrMessage != "" {
			msg = resp.ErrMessage
		}
		return topicCommandError(stdout, stderr, "org.apache.kafka.common.KafkaException", msg)

	case "describe":
		var names []string
		if a.topic != "" {
			if d, ok := topics[a.topic]; !ok || d.Err != nil {
				if a.ifExists {
					return 0
				}
				return topicCommandError(stdout, stderr, "java.lang.IllegalArgumentException",
					fmt.Sprintf("Topic '%s' does not exist as expected", a.topic))
			}
			names = []string{a.topic}
		} else {
			for _, n := range topics.Names() {
				if !strings.HasPrefix(n, "__") && !topics[n].IsInternal {
					names = append(names, n)
				}
			}
		}
		configs := map[string]string{}
		if rcs, err := adm.DescribeTopicConfigs(ctx, names...); err == nil {
			for _, rc := range rcs {
				configs[rc.Name] = dynamicConfigs(rc.Configs)
			}
		}
		for _, n := range names {
			writeTopicDescription(stdout, topics[n], configs[n])
		}
		return 0
	}
	return topicCommandError(stdout, stderr, "java.lang.IllegalArgumentException", "unknown action "+a.action)
}

// dynamicConfigs renders the configs set on the topic itself as "k=v,k=v",
// as the Configs column of --describe shows them.
func dynamicConfigs(cs []kadm.Config) string {
	var out []string
	for _, c := range cs {
		if c.Source != kmsg.ConfigSourceDynamicTopicConfig {
			continue
		}
		v := ""
		if c.Value != nil {
			v = *c.Value
		}
		if c.Sensitive {
			v = "<redacted>" // Kafka hides sensitive values as well
		}
		out = append(out, c.Key+"="+v)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

// kafkaUUID renders a topic id as Kafka's Uuid.toString does: URL-safe
// base64 without padding.
func kafkaUUID(id kadm.TopicID) string {
	return base64.RawURLEncoding.EncodeToString(id[:])
}

func joinInt32s(xs []int32) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(int(x))
	}
	return strings.Join(s, ",")
}

// writeTopicDescription prints one topic as kafka-topics --describe does:
// a summary line, then one tab-indented line per partition.
func writeTopicDescription(w io.Writer, d kadm.TopicDetail, configs string) {
	parts := d.Partitions.Sorted()
	rf := 0
	if len(parts) > 0 {
		rf = len(parts[0].Replicas)
	}
	fmt.Fprintf(w, "Topic: %s\tTopicId: %s\tPartitionCount: %d\tReplicationFactor: %d\tConfigs: %s\n",
		d.Topic, kafkaUUID(d.ID), len(parts), rf, configs)
	for _, p := range parts {
		leader := strconv.Itoa(int(p.Leader))
		if p.Leader < 0 {
			leader = "none"
		}
		fmt.Fprintf(w, "\tTopic: %s\tPartition: %d\tLeader: %s\tReplicas: %s\tIsr: %s\tElr: N/A\tLastKnownElr: N/A\n",
			d.Topic, p.Partition, leader, joinInt32s(p.Replicas), joinInt32s(p.ISR))
	}
}
