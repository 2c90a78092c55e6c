package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestParseKafkaTopicsArgs(t *testing.T) {
	a, err := parseKafkaTopicsArgs(strings.Fields("--bootstrap-server localhost:29092 --create --if-not-exists --topic users_created --partitions 1 --replication-factor 1"))
	if err != nil {
		t.Fatal(err)
	}
	if a.action != "create" || a.topic != "users_created" || a.partitions != 1 || a.replicationFactor != 1 || !a.ifNotExists ||
		len(a.bootstrap) != 1 || a.bootstrap[0] != "localhost:29092" {
		t.Errorf("create: %+v", a)
	}
	a, err = parseKafkaTopicsArgs([]string{"--create", "--bootstrap-server=PLAINTEXT://b:9092", "--topic=t", "--config", "retention.ms=1000"})
	if err != nil || a.partitions != -1 || a.replicationFactor != -1 || a.bootstrap[0] != "b:9092" || *a.configs["retention.ms"] != "1000" {
		t.Errorf("create with defaults: %+v %v", a, err)
	}
	a, err = parseKafkaTopicsArgs(strings.Fields("--list --bootstrap-server b:9092"))
	if err != nil || a.action != "list" {
		t.Errorf("list: %+v %v", a, err)
	}
	a, err = parseKafkaTopicsArgs(strings.Fields("--bootstrap-server b:9092 --describe --topic t"))
	if err != nil || a.action != "describe" || a.topic != "t" {
		t.Errorf("describe: %+v %v", a, err)
	}
	for _, bad := range []string{
		"--create --topic t",                                  // no bootstrap server
		"--bootstrap-server b:9092 --topic t",                 // no action
		"--bootstrap-server b:9092 --create --list --topic t", // two actions
		"--bootstrap-server b:9092 --create",                  // no topic
		"--bootstrap-server b:9092 --create --topic t --partitions 0",
		"--bootstrap-server b:9092 --create --topic t --partitions x",
		"--bootstrap-server b:9092 --create --topic t --replication-factor 0",
		"--bootstrap-server b:9092 --create --topic t --config novalue",
		"--bootstrap-server b:9092 --list --partitions 3",           // create-only option
		"--bootstrap-server b:9092 --delete --topic t",              // not implemented
		"--zookeeper zk:2181 --list",                                // removed in Kafka 3
		"--bootstrap-server b:9092 --list --frobnicate",             // unknown
		"--bootstrap-server",                                        // missing value
		"--bootstrap-server b:9092 --create --topic --partitions 1", // --topic without value
		"stray --list --bootstrap-server b:9092",
	} {
		if a, err := parseKafkaTopicsArgs(strings.Fields(bad)); err == nil {
			t.Errorf("%q accepted: %+v", bad, a)
		}
	}
}

func runKafkaTopics(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	a, err := parseKafkaTopicsArgs(args)
	if err != nil {
		t.Fatalf("parse %q: %v", args, err)
	}
	var out, errb bytes.Buffer
	code := kafkaTopics(a, &out, &errb)
	return code, out.String(), errb.String()
}

func TestKafkaTopics(t *testing.T) {
	seed := startTestBroker(t, "")[0]
	create := []string{"--bootstrap-server", seed, "--create", "--topic", "users_created", "--partitions", "2", "--replication-factor", "1"}

	code, out, _ := runKafkaTopics(t, create...)
	if code != 0 || out != "Created topic users_created.\n" {
		t.Fatalf("create: %d %q", code, out)
	}
	code, out, errOut := runKafkaTopics(t, create...)
	if code != 1 || out != "Error while executing topic command : Topic 'users_created' already exists.\n" ||
		!strings.Contains(errOut, "TopicExistsException") {
		t.Errorf("create again: %d %q %q", code, out, errOut)
	}
	code, out, _ = runKafkaTopics(t, append(create, "--if-not-exists")...)
	if code != 0 || out != "" {
		t.Errorf("create --if-not-exists of an existing topic: %d %q", code, out)
	}
	code, out, _ = runKafkaTopics(t, "--bootstrap-server", seed, "--create", "--if-not-exists", "--topic", "second")
	if code != 0 || out != "Created topic second.\n" {
		t.Errorf("create --if-not-exists of a new topic: %d %q", code, out)
	}
	code, out, _ = runKafkaTopics(t, "--bootstrap-server", seed, "--create", "--topic", "rf3", "--replication-factor", "3")
	if code != 1 || !strings.Contains(out, "Replication factor: 3 larger than available brokers: 1.") {
		t.Errorf("replication factor 3: %d %q", code, out)
	}

	code, out, _ = runKafkaTopics(t, "--bootstrap-server", seed, "--list")
	if code != 0 || out != "second\nusers_created\n" {
		t.Errorf("list: %d %q", code, out)
	}

	code, out, _ = runKafkaTopics(t, "--bootstrap-server", seed, "--describe", "--topic", "users_created")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if code != 0 || len(lines) != 3 {
		t.Fatalf("describe: %d %q", code, out)
	}
	f := strings.Split(lines[0], "\t")
	if len(f) != 5 || f[0] != "Topic: users_created" || !strings.HasPrefix(f[1], "TopicId: ") || len(f[1]) != len("TopicId: ")+22 ||
		f[2] != "PartitionCount: 2" || f[3] != "ReplicationFactor: 1" || f[4] != "Configs: " {
		t.Errorf("describe summary: %q", lines[0])
	}
	if !strings.HasPrefix(lines[1], "\tTopic: users_created\tPartition: 0\tLeader: 1\tReplicas: 1\tIsr: 1") {
		t.Errorf("describe partition line: %q", lines[1])
	}

	code, out, _ = runKafkaTopics(t, "--bootstrap-server", seed, "--describe", "--topic", "nope")
	if code != 1 || out != "Error while executing topic command : Topic 'nope' does not exist as expected\n" {
		t.Errorf("describe unknown: %d %q", code, out)
	}
	code, out, _ = runKafkaTopics(t, "--bootstrap-server", seed, "--describe", "--topic", "nope", "--if-exists")
	if code != 0 || out != "" {
		t.Errorf("describe unknown --if-exists: %d %q", code, out)
	}
	code, out, _ = runKafkaTopics(t, "--bootstrap-server", seed, "--describe")
	if code != 0 || strings.Count(out, "PartitionCount:") != 2 {
		t.Errorf("describe all: %d %q", code, out)
	}
}

func TestKafkaTopicsUnreachable(t *testing.T) {
	old := kafkaTopicsTimeout
	kafkaTopicsTimeout = 1500 * time.Millisecond
	defer func() { kafkaTopicsTimeout = old }()
	start := time.Now()
	code, out, _ := runKafkaTopics(t, "--bootstrap-server", "127.0.0.1:1", "--list")
	if code != 1 || !strings.Contains(out, "Timed out waiting for a node assignment") || !strings.Contains(out, "127.0.0.1:1") {
		t.Errorf("unreachable: %d %q", code, out)
	}
	if d := time.Since(start); d < time.Second || d > 6*time.Second {
		t.Errorf("gave up after %v", d)
	}
}

func TestKafkaTopicsUnhealthy(t *testing.T) {
	t.Setenv("STANDIN_UNHEALTHY", "1")
	if code := kafkaTopicsMain(strings.Fields("--bootstrap-server 127.0.0.1:1 --list")); code != 1 {
		t.Errorf("exit %d", code)
	}
}
