package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestIntegrationAdvertise: with --listen 0.0.0.0 and --advertise, a Kafka client on another
// "machine" — a network namespace of the test's own, joined to this one by a veth pair —
// produces and consumes through the published port, because the broker sends it to the
// advertised address, not to localhost. With the default listen address it cannot even
// connect; without --allow-unauthenticated install refuses to open Kafka to the network; the
// admin ports (ZooKeeper, JMX) stay unpublished.
func TestIntegrationAdvertise(t *testing.T) {
	registry := standinRegistry(t)
	c := dockerAPI(t)
	ns, hostIP := otherMachine(t)
	project := "dataeco-advertise"
	freshProject(t, c, project)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "install")
	const base = 17800
	install := func(extra ...string) runResult {
		args := append([]string{"install", "--yes", "--no-smoke", "--dir", dir, "--project", project, "--registry", registry,
			"--components", "kafka", "--timeout", "2m"}, fixedPortArgs(base)...)
		return runCLI(t, ctx, append(args, extra...)...)
	}
	kafka := fmt.Sprintf("%s:%d", hostIP, base) // --kafka-port is the first of fixedPortArgs

	mustSucceed(t, install(), "install on 127.0.0.1")
	if out, err := fromOtherMachine(t, ns, kafka); err == nil {
		t.Errorf("a client on another machine reached Kafka published on 127.0.0.1:\n%s", out)
	}

	// Kafka lets anyone in: on the network only when the user says so.
	r := install("--listen", "0.0.0.0", "--advertise", hostIP)
	if r.code != 1 || !strings.Contains(r.stderr, "reachable from your network with no authentication: Kafka (host listener) "+fmt.Sprint(base)) ||
		!strings.Contains(r.stderr, "--allow-unauthenticated") {
		t.Errorf("install on 0.0.0.0 without --allow-unauthenticated: exit %d\n%s", r.code, r.stderr)
	}
	if out, err := fromOtherMachine(t, ns, kafka); err == nil {
		t.Errorf("a refused install opened Kafka to another machine:\n%s", out)
	}
	r = install("--listen", "0.0.0.0", "--advertise", hostIP, "--allow-unauthenticated")
	mustSucceed(t, r, "install with --listen 0.0.0.0 --advertise --allow-unauthenticated")
	if !strings.Contains(r.stdout, "Kafka bootstrap    "+kafka) || !strings.Contains(r.stdout, "reachable from your network, as "+hostIP) ||
		!strings.Contains(r.stdout, "with no password (--allow-unauthenticated): Kafka (host listener) "+fmt.Sprint(base)+".") {
		t.Errorf("the summary does not give the advertised address and what is open:\n%s", r.stdout)
	}
	// ZooKeeper and JMX are admin ports: not published off loopback unless named.
	for svc, want := range map[string]string{"zookeeper": "", "broker": fmt.Sprintf("9092/tcp -> 0.0.0.0:%d\n", base)} {
		if out, err := exec.Command("docker", "port", project+"-"+svc+"-1").Output(); err != nil || string(out) != want {
			t.Errorf("%s publishes %q (%v), want %q", svc, out, err, want)
		}
	}
	if out, err := fromOtherMachine(t, ns, kafka); err != nil {
		t.Errorf("a client on another machine could not produce and consume: %v\n%s", err, out)
	}
	// The smoke check still works from this machine.
	mustSucceed(t, runCLI(t, ctx, "smoke", "--dir", dir), "smoke")
}

// otherMachine makes a network namespace joined to this one by a veth pair and returns its
// name and the address of this machine's end, which the namespace reaches it by. Traffic
// stays between the two.
func otherMachine(t *testing.T) (ns, hostIP string) {
	t.Helper()
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatalf("ip (iproute2) is needed: %v", err)
	}
	id := os.Getpid() % 200
	ns = fmt.Sprintf("dataeco-e2e-%d", id)
	hostIF, nsIF := fmt.Sprintf("dec%dh", id), fmt.Sprintf("dec%dn", id)
	hostIP, nsIP := fmt.Sprintf("10.213.%d.1", id), fmt.Sprintf("10.213.%d.2", id)
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	_ = exec.Command("ip", "netns", "del", ns).Run()
	_ = exec.Command("ip", "link", "del", hostIF).Run()
	run("netns", "add", ns)
	t.Cleanup(func() {
		_ = exec.Command("ip", "link", "del", hostIF).Run()
		_ = exec.Command("ip", "netns", "del", ns).Run()
	})
	run("link", "add", hostIF, "type", "veth", "peer", "name", nsIF)
	run("link", "set", nsIF, "netns", ns)
	run("addr", "add", hostIP+"/30", "dev", hostIF)
	run("link", "set", hostIF, "up")
	run("-n", ns, "addr", "add", nsIP+"/30", "dev", nsIF)
	run("-n", ns, "link", "set", nsIF, "up")
	run("-n", ns, "link", "set", "lo", "up")
	return ns, hostIP
}

// fromOtherMachine runs this test binary inside the namespace as a Kafka client (see
// TestOtherMachineKafkaClient) against bootstrap.
func fromOtherMachine(t *testing.T, ns, bootstrap string) (string, error) {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns, os.Args[0], "-test.run=^TestOtherMachineKafkaClient$", "-test.v")
	cmd.Env = append(os.Environ(), "DATAECO_E2E_KAFKA_CLIENT="+bootstrap)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestOtherMachineKafkaClient is not a test: it is the client fromOtherMachine runs in a
// network namespace. It produces a record and reads it back through bootstrap.
func TestOtherMachineKafkaClient(t *testing.T) {
	bootstrap := os.Getenv("DATAECO_E2E_KAFKA_CLIENT")
	if bootstrap == "" {
		t.Skip("run by TestIntegrationAdvertise inside a network namespace")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	topic := fmt.Sprintf("advertised-%d", time.Now().UnixNano())
	cl := kafkaTestClient(t, bootstrap, kgo.AllowAutoTopicCreation(), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.RequestRetries(1), kgo.RetryTimeout(10*time.Second))
	defer cl.Close()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("from another machine")}).FirstErr(); err != nil {
		t.Fatalf("produce through %s: %v", bootstrap, err)
	}
	for ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		for _, r := range fs.Records() {
			if string(r.Value) == "from another machine" {
				return
			}
		}
	}
	t.Fatalf("the record did not come back through %s", bootstrap)
}
