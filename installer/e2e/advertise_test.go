package e2e

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
)

// TestIntegrationAdvertise: with --listen 0.0.0.0 and --advertise, clients on another
// "machine" — a network namespace of the test's own, joined to this one by a veth pair —
// reach Kafka, Schema Registry, Control Center and the Spark master through the published
// ports, with the credentials `dataeco env --show-secrets` gives, and are refused without
// them: off loopback dataeco guards each with a generated login (SASL/PLAIN, basic auth,
// Spark's shared secret). The broker sends clients to the advertised address, not to
// localhost. With the default listen address nothing can even be reached; the admin ports
// (ZooKeeper, JMX) stay unpublished and the Spark UI on loopback; naming an unauthenticated
// one in --expose is refused without --allow-unauthenticated.
func TestIntegrationAdvertise(t *testing.T) {
	registry := standinRegistry(t)
	c := dockerAPI(t)
	ns, hostIP := otherMachine(t)
	project := "dataeco-advertise"
	freshProject(t, c, project)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "install")
	const base = 17800 // fixedPortArgs: kafka +0, schema registry +3, control center +4, Spark UI +6, master +7
	install := func(extra ...string) runResult {
		args := append([]string{"install", "--yes", "--no-smoke", "--dir", dir, "--project", project, "--registry", registry,
			"--components", "kafka,schema-registry,control-center,spark", "--spark-workers", "1", "--timeout", "3m"}, fixedPortArgs(base)...)
		return runCLI(t, ctx, append(args, extra...)...)
	}
	kafka := fmt.Sprintf("%s:%d", hostIP, base)
	sr, cc := fmt.Sprintf("http://%s:%d/subjects", hostIP, base+3), fmt.Sprintf("http://%s:%d/", hostIP, base+4)
	sparkUI, master := fmt.Sprintf("http://%s:%d/json/", hostIP, base+6), fmt.Sprintf("%s:%d", hostIP, base+7)

	mustSucceed(t, install(), "install on 127.0.0.1")
	if out, err := fromOtherMachine(t, ns, map[string]string{"kafka": kafka}); err == nil {
		t.Errorf("a client on another machine reached Kafka published on 127.0.0.1:\n%s", out)
	}

	// An admin port with no login, named in --expose: on the network only when the user says so.
	r := install("--listen", "0.0.0.0", "--advertise", hostIP, "--expose", "zookeeper")
	if r.code != 1 || !strings.Contains(r.stderr, "reachable from your network with no authentication: ZooKeeper client "+fmt.Sprint(base+2)) ||
		!strings.Contains(r.stderr, "--allow-unauthenticated") {
		t.Errorf("install on 0.0.0.0 with --expose zookeeper, without --allow-unauthenticated: exit %d\n%s", r.code, r.stderr)
	}
	if out, err := fromOtherMachine(t, ns, map[string]string{"kafka": kafka}); err == nil {
		t.Errorf("a refused install opened Kafka to another machine:\n%s", out)
	}

	// Off loopback, guarded: no --allow-unauthenticated needed.
	r = install("--listen", "0.0.0.0", "--advertise", hostIP, "--expose", "none")
	mustSucceed(t, r, "install with --listen 0.0.0.0 --advertise")
	if !strings.Contains(r.stdout, "Kafka bootstrap    "+kafka) || !strings.Contains(r.stdout, "reachable from your network, as "+hostIP) ||
		!strings.Contains(r.stdout, "Published with the generated credentials") || strings.Contains(r.stdout, "with no password") ||
		!strings.Contains(r.stdout, fmt.Sprintf("http://127.0.0.1:%d", base+6)) {
		t.Errorf("the summary does not give the advertised address and how each port is guarded:\n%s", r.stdout)
	}
	// ZooKeeper and JMX are admin ports: not published off loopback unless named; the Spark
	// UI stays on this machine.
	for svc, want := range map[string]string{
		"zookeeper":    "",
		"broker":       fmt.Sprintf("9092/tcp -> 0.0.0.0:%d\n", base),
		"spark-master": fmt.Sprintf("7077/tcp -> 0.0.0.0:%d\n8080/tcp -> 127.0.0.1:%d\n", base+7, base+6),
	} {
		if out, err := exec.Command("docker", "port", project+"-"+svc+"-1").Output(); err != nil || string(out) != want {
			t.Errorf("%s publishes %q (%v), want %q", svc, out, err, want)
		}
	}
	env := realEnv(t, ctx, dir) // what `eval "$(dataeco env --shell --show-secrets)"` exports
	if env["KAFKA_SECURITY_PROTOCOL"] != "SASL_PLAINTEXT" || env["KAFKA_SASL_MECHANISM"] != "PLAIN" {
		t.Errorf("dataeco env gives no SASL client settings: %v", env)
	}
	// Without credentials every endpoint refuses, or cannot be reached.
	for _, client := range []map[string]string{{"kafka": kafka}, {"http": sr}, {"http": cc}, {"spark": master}, {"http": sparkUI}} {
		if out, err := fromOtherMachine(t, ns, client); err == nil {
			t.Errorf("another machine reached %v without credentials:\n%s", client, out)
		}
	}
	// With them, a Kafka round trip, a schema registration, a Control Center page and an
	// application registered with the Spark master.
	for _, client := range []map[string]string{
		{"kafka": kafka, "user": env["KAFKA_SASL_USERNAME"], "password": env["KAFKA_SASL_PASSWORD"]},
		{"http": sr + "/from-another-machine-value/versions", "user": env["SCHEMA_REGISTRY_USER"], "password": env["SCHEMA_REGISTRY_PASSWORD"],
			"body": `{"schema": "{\"type\":\"string\"}"}`},
		{"http": cc, "user": env["CONTROL_CENTER_USER"], "password": env["CONTROL_CENTER_PASSWORD"]},
		{"spark": master, "password": env["SPARK_AUTH_SECRET"]},
	} {
		if out, err := fromOtherMachine(t, ns, client); err != nil {
			t.Errorf("another machine with the credentials of dataeco env: %v\n%s", err, out)
		}
	}
	// A wrong password is no better than none.
	if out, err := fromOtherMachine(t, ns, map[string]string{"kafka": kafka, "user": env["KAFKA_SASL_USERNAME"], "password": "wrong"}); err == nil {
		t.Errorf("another machine produced to Kafka with a wrong password:\n%s", out)
	}
	// The smoke checks, from this machine, use the credentials too.
	mustSucceed(t, runCLI(t, ctx, "smoke", "--dir", dir), "smoke")
	creds := runCLI(t, ctx, "credentials", "--dir", dir)
	for _, svc := range []string{"kafka", "schema-registry", "control-center", "spark"} {
		if !strings.Contains(creds.stdout, svc+" ") {
			t.Errorf("dataeco credentials does not list %s:\n%s", svc, creds.stdout)
		}
	}
}

// otherMachine makes a network namespace joined to this one by a veth pair and returns its
// name and the address of this machine's end, which the namespace reaches it by. Traffic
// stays between the two.
func otherMachine(t *testing.T) (ns, hostIP string) {
	ns, hostIP, _ = netnsPair(t, "e2e", 213)
	return ns, hostIP
}

// netnsPair makes a network namespace dataeco-TAG-N joined to this one by a veth pair on
// 10.OCTET.N.0/30 (N from the test's process id), with its loopback up, and returns its name,
// this machine's address on the pair and the namespace's. Each caller has a tag and octet of
// its own, so namespaces of tests running at once do not meet.
func netnsPair(t *testing.T, tag string, octet int) (ns, hostIP, nsIP string) {
	t.Helper()
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatalf("ip (iproute2) is needed: %v", err)
	}
	id := os.Getpid() % 200
	ns = fmt.Sprintf("dataeco-%s-%d", tag, id)
	hostIF, nsIF := fmt.Sprintf("d%s%dh", tag, id), fmt.Sprintf("d%s%dn", tag, id)
	hostIP, nsIP = fmt.Sprintf("10.%d.%d.1", octet, id), fmt.Sprintf("10.%d.%d.2", octet, id)
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
	return ns, hostIP, nsIP
}

// fromOtherMachine runs this test binary inside the namespace as a client (see
// TestOtherMachineClient): what says which ("kafka", "http" or "spark": its target), the
// login ("user", "password") and an HTTP body to POST ("body").
func fromOtherMachine(t *testing.T, ns string, what map[string]string) (string, error) {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns, os.Args[0], "-test.run=^TestOtherMachineClient$", "-test.v")
	cmd.Env = os.Environ()
	for k, v := range what {
		cmd.Env = append(cmd.Env, "DATAECO_E2E_CLIENT_"+strings.ToUpper(k)+"="+v)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestOtherMachineClient is not a test: it is the client fromOtherMachine runs in a network
// namespace. For Kafka it produces a record and reads it back; for HTTP it wants a 2xx
// answer (to a POST of the body, when there is one); for the Spark master it registers an application on the stand-in's RPC protocol,
// answering its authentication challenge with the secret when it has one.
func TestOtherMachineClient(t *testing.T) {
	user, password := os.Getenv("DATAECO_E2E_CLIENT_USER"), os.Getenv("DATAECO_E2E_CLIENT_PASSWORD")
	switch {
	case os.Getenv("DATAECO_E2E_CLIENT_KAFKA") != "":
		otherMachineKafka(t, os.Getenv("DATAECO_E2E_CLIENT_KAFKA"), user, password)
	case os.Getenv("DATAECO_E2E_CLIENT_HTTP") != "":
		method, body := http.MethodGet, os.Getenv("DATAECO_E2E_CLIENT_BODY")
		if body != "" { // a schema to register
			method = http.MethodPost
		}
		req, err := http.NewRequest(method, os.Getenv("DATAECO_E2E_CLIENT_HTTP"), strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/vnd.schemaregistry.v1+json")
		}
		if user != "" {
			req.SetBasicAuth(user, password)
		}
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Fatalf("%s: HTTP %d", req.URL, resp.StatusCode)
		}
	case os.Getenv("DATAECO_E2E_CLIENT_SPARK") != "":
		otherMachineSpark(t, os.Getenv("DATAECO_E2E_CLIENT_SPARK"), password)
	default:
		t.Skip("run by TestIntegrationAdvertise inside a network namespace")
	}
}

func otherMachineKafka(t *testing.T, bootstrap, user, password string) {
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	topic := fmt.Sprintf("advertised-%d", time.Now().UnixNano())
	opts := []kgo.Opt{kgo.AllowAutoTopicCreation(), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.RequestRetries(1), kgo.RetryTimeout(10 * time.Second)}
	if user != "" {
		opts = append(opts, kgo.SASL(plain.Auth{User: user, Pass: password}.AsMechanism()))
	}
	cl := kafkaTestClient(t, bootstrap, opts...)
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

// otherMachineSpark registers an application with the stand-in master (its line protocol,
// testdata/standin/spark.go and auth.go): with authentication on, the master first sends
// "CHALLENGE nonce" and wants "AUTH hex(HMAC-SHA256(secret, nonce))".
func otherMachineSpark(t *testing.T, addr, secret string) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	if secret != "" {
		line, err := r.ReadString('\n')
		nonce, ok := strings.CutPrefix(strings.TrimSpace(line), "CHALLENGE ")
		if err != nil || !ok {
			t.Fatalf("no challenge from the master: %q %v", line, err)
		}
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(nonce))
		fmt.Fprintf(c, "AUTH %s\n", hex.EncodeToString(mac.Sum(nil)))
		if line, err = r.ReadString('\n'); strings.TrimSpace(line) != "AUTH_OK" {
			t.Fatalf("the master refused the secret: %q %v", line, err)
		}
	}
	fmt.Fprintf(c, "APP - 1 512 e2e from-another-machine\n")
	line, err := r.ReadString('\n')
	if !strings.HasPrefix(line, "APP_REGISTERED ") {
		t.Fatalf("the master did not register the application: %q %v", line, err)
	}
	fmt.Fprintf(c, "APP_END %s\n", strings.TrimSpace(strings.TrimPrefix(line, "APP_REGISTERED ")))
}
