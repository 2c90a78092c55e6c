//go:build linux

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dataeco/dataeco/installer/engine"
)

// A swarm of three machines is played by three private dockerds, each in a network namespace
// of the test's own, on one Ethernet segment: a bridge in a fourth namespace, which this
// machine joins too (10.251.N.1) to reach the manager's API and the published ports. The
// bridge lives in a namespace of its own because in this one the shared daemon's iptables
// (FORWARD policy DROP, with bridge netfilter on) would drop what the nodes send each other.
// Every node's registry serves one storage at the same loopback address, so --registry is
// one answer for all, and the manager's takes the images dataeco pushes.

// startSwarm starts n engines, the first a swarm manager and the others workers joined to it
// over their namespace addresses; seq tells apart the swarms of tests that run at once (its
// namespaces, interfaces and 10.251.ID.0/24). bins[i] is the dockerd node i runs (none or
// "": the machine's).
func startSwarm(t *testing.T, registry string, n, seq int, bins ...string) []*remoteEngine {
	t.Helper()
	id := os.Getpid()%100*2 + seq
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	sw := fmt.Sprintf("dataeco-sw-%d", id)
	hostIF := fmt.Sprintf("dswh%d", id)
	_ = exec.Command("ip", "link", "del", hostIF).Run()
	_ = exec.Command("ip", "netns", "del", sw).Run()
	ip("netns", "add", sw)
	t.Cleanup(func() {
		_ = exec.Command("ip", "link", "del", hostIF).Run()
		_ = exec.Command("ip", "netns", "del", sw).Run()
	})
	ip("-n", sw, "link", "add", "br0", "type", "bridge")
	ip("-n", sw, "link", "set", "br0", "up")
	attach := func(ns, nsIF, addr string) {
		t.Helper()
		swIF := nsIF + "s"
		ip("link", "add", nsIF, "type", "veth", "peer", "name", swIF)
		ip("link", "set", swIF, "netns", sw)
		ip("-n", sw, "link", "set", swIF, "master", "br0")
		ip("-n", sw, "link", "set", swIF, "up")
		if ns != "" {
			ip("link", "set", nsIF, "netns", ns)
			ip("-n", ns, "addr", "add", addr+"/24", "dev", nsIF)
			ip("-n", ns, "link", "set", nsIF, "up")
			ip("-n", ns, "link", "set", "lo", "up")
			return
		}
		ip("addr", "add", addr+"/24", "dev", nsIF)
		ip("link", "set", nsIF, "up")
	}
	attach("", hostIF, fmt.Sprintf("10.251.%d.1", id))

	// One storage for every node's registry: the stand-ins, linked rather than copied, and
	// what the manager pushes.
	storage := filepath.Join(t.TempDir(), "registry")
	if out, err := exec.Command("cp", "-al", filepath.Join(e2e.tmp, "data"), storage).CombinedOutput(); err != nil {
		if out, err := exec.Command("cp", "-a", filepath.Join(e2e.tmp, "data"), storage).CombinedOutput(); err != nil {
			t.Fatalf("copying the stand-in registry's storage: %v\n%s", err, out)
		}
		t.Logf("hard links refused (%s); copied", strings.TrimSpace(string(out)))
	}

	var nodes []*remoteEngine
	for i := range n {
		ns := fmt.Sprintf("dataeco-swn%d-%d", i+1, id)
		_ = exec.Command("ip", "netns", "del", ns).Run()
		ip("netns", "add", ns)
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
		addr := fmt.Sprintf("10.251.%d.%d", id, 11+i)
		attach(ns, fmt.Sprintf("dsw%dn%d", i+1, id), addr)
		// Its own /var/run/docker.sock, as each machine of a swarm has: uninstall --purge
		// reaches a node's volumes through it.
		bin := ""
		if i < len(bins) {
			bin = bins[i]
		}
		node := startNetnsEngine(t, fmt.Sprintf("ds%d", i+1), ns, addr, true, bin)
		netnsRegistry(t, ns, registry, storage, false)
		// Before its daemon is destroyed (cleanups run last first): a node that leaves
		// first stops in seconds rather than waiting for its peers.
		t.Cleanup(func() { _, _ = node.docker("swarm", "leave", "--force") })
		nodes = append(nodes, node)
	}
	mgr := nodes[0]
	if out, err := mgr.docker("swarm", "init", "--advertise-addr", mgr.ip, "--listen-addr", mgr.ip+":2377"); err != nil {
		t.Fatalf("docker swarm init: %v\n%s", err, out)
	}
	token, err := mgr.docker("swarm", "join-token", "-q", "worker")
	if err != nil {
		t.Fatalf("docker swarm join-token: %v\n%s", err, token)
	}
	for _, w := range nodes[1:] {
		if out, err := w.docker("swarm", "join", "--token", strings.TrimSpace(token), "--advertise-addr", w.ip, "--listen-addr", w.ip+":2377", mgr.ip+":2377"); err != nil {
			t.Fatalf("docker swarm join on %s: %v\n%s", w.ip, err, out)
		}
	}
	return nodes
}

// swarmServices is `dataeco status --json` on a swarm install, by service.
func swarmServices(t *testing.T, ctx context.Context, mgr *remoteEngine, dir string) map[string]engine.SwarmService {
	t.Helper()
	r := mgr.dataeco(t, ctx, "status", "--json", "--dir", dir)
	mustSucceed(t, r, "status on the swarm")
	var st struct {
		Swarm    bool                  `json:"swarm"`
		Services []engine.SwarmService `json:"services"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || !st.Swarm {
		t.Fatalf("status --json on a swarm install (swarm %v): %v\n%s", st.Swarm, err, r.stdout)
	}
	out := map[string]engine.SwarmService{}
	for _, s := range st.Services {
		out[s.Service] = s
	}
	return out
}

// workerNodes are the nodes (by address) the Spark workers run on, and how many run.
func workerNodes(s engine.SwarmService) (map[string]int, int) {
	nodes, running := map[string]int{}, 0
	for _, task := range s.Tasks {
		if task.State == "running" {
			running++
			addr := task.Node[strings.LastIndex(task.Node, "(")+1:]
			nodes[strings.TrimSuffix(addr, ")")]++
		}
	}
	return nodes, running
}

func smokePasses(t *testing.T, ctx context.Context, mgr *remoteEngine, dir string, ids ...string) {
	t.Helper()
	status := smokeStatus(t, ctx, mgr, dir)
	for _, id := range ids {
		if !strings.HasPrefix(status[id], "pass") {
			t.Errorf("%s: %q", id, status[id])
		}
	}
}

// cassandraRing is `nodetool status` in the first Cassandra node's container, on the manager.
func cassandraRing(t *testing.T, mgr *remoteEngine, project string) string {
	t.Helper()
	id, err := mgr.docker("ps", "-q", "--filter", "label=com.docker.swarm.service.name="+project+"_cassandra")
	if err != nil || strings.TrimSpace(id) == "" {
		t.Fatalf("the first Cassandra node's container on the manager: %v %q", err, id)
	}
	out, err := mgr.docker("exec", strings.TrimSpace(id), "nodetool", "status")
	if err != nil {
		t.Fatalf("nodetool status: %v\n%s", err, out)
	}
	return out
}

// smokeStatus is `dataeco smoke --json`: each check's status and message, by ID.
func smokeStatus(t *testing.T, ctx context.Context, mgr *remoteEngine, dir string) map[string]string {
	t.Helper()
	r := mgr.dataeco(t, ctx, "smoke", "--json", "--dir", dir)
	var smoke struct {
		Checks []struct{ ID, Status, Message string } `json:"checks"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &smoke); err != nil {
		t.Fatalf("smoke --json: %v\n%s\n%s", err, r.stdout, r.stderr)
	}
	status := map[string]string{}
	for _, c := range smoke.Checks {
		status[c.ID] = c.Status + " " + c.Message
	}
	return status
}

// TestIntegrationSwarm: dataeco deploys the stack to a three-node swarm from a manager it
// reaches over TLS. The Spark workers are one service of three replicas, one on each node;
// Kafka is three brokers and Cassandra three nodes, one of each on each node, each with its
// volume there (a broker advertising its node's address, the Cassandra nodes one ring); the
// other services that keep data or publish ports run on the manager; the one-shot jobs ran
// once; smoke passes through the published ports. When a worker node's engine stops, its
// Spark worker moves to another node and smoke passes again, saying that broker is missing,
// and the ring shows that Cassandra node down. Uninstall leaves nothing of the stack on any
// node, volumes included.
func TestIntegrationSwarm(t *testing.T) {
	// Its engines are its own, in namespaces of its own: it runs beside the remote engine's
	// test (the only other such), after the tests on the shared engine.
	t.Parallel()
	newer := newerDockerd(t)
	registry := standinRegistry(t)
	// A swarm in the middle of an upgrade: the manager on a newer engine, the workers still
	// on 20.10. The manager's orchestrator removes a swarm job's tasks, so the jobs are swarm
	// jobs, wherever their tasks run.
	nodes := startSwarm(t, registry, 3, 0, newer)
	mgr := nodes[0]
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	const project, base = "dataeco-swarm", 18520 // fixedPortArgs: kafka +0, Spark UI +6, master +7
	dir := filepath.Join(t.TempDir(), "install")
	args := append([]string{"install", "--yes", "--dir", dir, "--project", project, "--registry", registry, "--swarm",
		"--components", "kafka,spark,cassandra", "--spark-workers", "3", "--kafka-brokers", "3", "--cassandra-nodes", "3",
		"--listen", "0.0.0.0", "--expose", "spark-ui", "--allow-unauthenticated", "--timeout", "3m"}, fixedPortArgs(base)...)

	// Without --swarm, install says the engine manages a swarm and leaves the choice to the
	// user (here it stops before anything is done: no terminal to ask the questions on).
	r := mgr.dataeco(t, ctx, "install", "--dir", filepath.Join(t.TempDir(), "alone"))
	if r.code == 0 || !strings.Contains(r.stderr, "This engine manages a swarm of 3 nodes") || !strings.Contains(r.stderr, "no terminal to ask on") {
		t.Errorf("install without --swarm on a swarm's manager (exit %d):\n%s", r.code, r.stderr)
	}

	// The stand-in Cassandra speaks no CQL, so install's smoke would fail on it: the checks that
	// can run are run after.
	r = mgr.dataeco(t, ctx, append(args, "--no-smoke")...)
	mustSucceed(t, r, "install --swarm")
	if !strings.Contains(r.stdout, "tasks running on the swarm") || !strings.Contains(r.stdout, fmt.Sprintf("%s:%d", mgr.ip, base)) {
		t.Errorf("the summary does not give the swarm's tasks and Kafka at the manager's address:\n%s", r.stdout)
	}

	svcs := swarmServices(t, ctx, mgr, dir)
	workers, running := workerNodes(svcs["spark-worker"])
	if running != 3 || len(workers) != 3 {
		t.Errorf("the 3 Spark workers are not one on each node: %d running on %v", running, workers)
	}
	for _, name := range []string{"zookeeper", "broker", "spark-master"} {
		s := svcs[name]
		if s.Running != 1 || len(s.Tasks) != 1 || !strings.Contains(s.Tasks[0].Node, "("+mgr.ip+")") {
			t.Errorf("%s is not running on the manager: %+v", name, s)
		}
	}
	// Three brokers, one on each node, each reached at its node's address.
	brokerNodes := map[string]bool{}
	for _, name := range []string{"broker", "broker-2", "broker-3"} {
		s := svcs[name]
		if s.Running != 1 || len(s.Tasks) != 1 {
			t.Errorf("%s does not run once: %+v", name, s)
			continue
		}
		brokerNodes[s.Tasks[0].Node] = true
	}
	if len(brokerNodes) != 3 {
		t.Errorf("the 3 brokers are not one on each node: %v", brokerNodes)
	}
	for _, n := range nodes {
		if !strings.Contains(r.stdout, fmt.Sprintf("%s:%d", n.ip, base)) {
			t.Errorf("the summary does not list the broker at %s:%d:\n%s", n.ip, base, r.stdout)
		}
	}
	// Three Cassandra nodes, one on each node, in one ring; the keyspace and the logins
	// replicated over the three.
	cassandraNodes := map[string]bool{}
	for _, name := range []string{"cassandra", "cassandra-2", "cassandra-3"} {
		if s := svcs[name]; s.Running == 1 && len(s.Tasks) == 1 {
			cassandraNodes[s.Tasks[0].Node] = true
		}
	}
	if len(cassandraNodes) != 3 {
		t.Errorf("the 3 Cassandra nodes are not one on each node: %v", cassandraNodes)
	}
	if ring := cassandraRing(t, mgr, project); strings.Count(ring, "UN ") != 3 {
		t.Errorf("nodetool status on the first node does not show 3 nodes up:\n%s", ring)
	}
	r = mgr.dataeco(t, ctx, "logs", "--dir", dir, "--tail", "all", "cassandra-init")
	if !strings.Contains(r.stdout, "logins replicated to 3 nodes") || !strings.Contains(r.stdout, "spark_streams replicated to 3 nodes") {
		t.Errorf("cassandra-init did not replicate the logins and the keyspace over 3 nodes:\n%s", r.stdout)
	}
	for _, j := range []string{"kafka-init", "cassandra-init"} {
		if s := svcs[j]; s.Mode != "job" || s.Done != 1 {
			t.Errorf("%s did not complete as a job: %+v", j, s)
		}
		if out, err := mgr.docker("service", "inspect", "--format", "{{json .Spec.Mode}}", project+"_"+j); err != nil || !strings.Contains(out, "ReplicatedJob") {
			t.Errorf("%s is not a swarm job: %v %s", j, err, out)
		}
	}
	smokePasses(t, ctx, mgr, dir, "smoke-kafka", "smoke-spark")
	if msg := smokeStatus(t, ctx, mgr, dir)["smoke-kafka"]; !strings.Contains(msg, "3 brokers") {
		t.Errorf("smoke-kafka does not count three brokers: %q", msg)
	}
	r = mgr.dataeco(t, ctx, "status", "--all", "--json")
	mustSucceed(t, r, "status --all on the swarm")
	var all struct {
		Installs []struct {
			engine.Install
			State string `json:"state"`
		} `json:"installs"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &all); err != nil || len(all.Installs) != 1 {
		t.Fatalf("status --all --json: %v\n%s", err, r.stdout)
	}
	if in := all.Installs[0]; in.Project != project || !in.Swarm || in.Dir != dir || in.State != "running (swarm)" {
		t.Errorf("status --all lists the swarm install as %+v", in)
	}
	// Logs come from every node's tasks, each line named by its task.
	r = mgr.dataeco(t, ctx, "logs", "--dir", dir, "--tail", "all", "spark-master", "spark-worker-2")
	mustSucceed(t, r, "logs on the swarm")
	if n := strings.Count(r.stdout, "spark-master.1 | "); n < 3 || !strings.Contains(r.stdout, "Registering worker") {
		t.Errorf("logs spark-master: %d lines of spark-master.1, want the 3 workers' registrations:\n%s", n, r.stdout)
	}
	if !strings.Contains(r.stdout, "spark-worker.2 | ") || strings.Contains(r.stdout, "spark-worker.1 | ") {
		t.Errorf("logs spark-worker-2 is not the second worker's lines only:\n%s", r.stdout)
	}
	r = mgr.dataeco(t, ctx, "doctor", "--json", "--check", "containers", "--dir", dir)
	var doc struct {
		Checks []struct {
			ID, Status, Message string
		} `json:"checks"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || len(doc.Checks) != 1 {
		t.Fatalf("doctor --json: %v\n%s", err, r.stdout)
	}
	if c := doc.Checks[0]; c.Status != "pass" || !strings.Contains(c.Message, "services of the swarm stack "+project) {
		t.Errorf("doctor's containers check on the swarm: %s %s", c.Status, c.Message)
	}

	// Stopped: no task runs, the job is not run again by start, and start brings all back.
	r = mgr.dataeco(t, ctx, "stop", "--dir", dir)
	mustSucceed(t, r, "stop on the swarm")
	for name, s := range swarmServices(t, ctx, mgr, dir) {
		if s.Running != 0 {
			t.Errorf("after stop, %s has %d tasks running", name, s.Running)
		}
	}
	jobRuns := func() int {
		t.Helper()
		out, err := mgr.docker("service", "ps", "-q", project+"_kafka-init")
		if err != nil {
			t.Fatalf("docker service ps: %v\n%s", err, out)
		}
		return len(strings.Fields(out))
	}
	runs := jobRuns()
	r = mgr.dataeco(t, ctx, "start", "--dir", dir)
	mustSucceed(t, r, "start on the swarm")
	svcs = swarmServices(t, ctx, mgr, dir)
	if _, running := workerNodes(svcs["spark-worker"]); running != 3 || svcs["broker"].Running != 1 {
		t.Errorf("after start: %d workers and %d brokers running", running, svcs["broker"].Running)
	}
	if n := jobRuns(); n != runs {
		t.Errorf("start ran kafka-init again: %d tasks, %d before", n, runs)
	}
	smokePasses(t, ctx, mgr, dir, "smoke-kafka", "smoke-spark")

	// Restarted: the workers get new tasks, ready again when restart returns.
	tasks := func(services ...string) string {
		t.Helper()
		args := []string{"service", "ps", "-q", "--filter", "desired-state=running"}
		for _, s := range services {
			args = append(args, project+"_"+s)
		}
		out, err := mgr.docker(args...)
		if err != nil {
			t.Fatalf("docker service ps: %v\n%s", err, out)
		}
		return out
	}
	workersBefore := tasks("spark-worker")
	r = mgr.dataeco(t, ctx, "restart", "--dir", dir, "spark-worker-1")
	mustSucceed(t, r, "restart on the swarm")
	if after := tasks("spark-worker"); after == workersBefore || len(strings.Fields(after)) != 3 {
		t.Errorf("restart spark-worker: tasks before\n%s\nafter\n%s", workersBefore, after)
	}
	if _, running := workerNodes(swarmServices(t, ctx, mgr, dir)["spark-worker"]); running != 3 {
		t.Errorf("after restart %d workers run", running)
	}

	// Again with nothing changed: no task is replaced and the job does not run again.
	before := tasks("kafka-init", "spark-worker", "broker", "broker-2", "broker-3") + fmt.Sprint(jobRuns())
	r = mgr.dataeco(t, ctx, append(args, "--no-smoke")...)
	mustSucceed(t, r, "install --swarm again")
	if strings.Contains(r.stderr, "Image changes") {
		t.Errorf("a second install with the same images saw image changes:\n%s", r.stderr)
	}
	if after := tasks("kafka-init", "spark-worker", "broker", "broker-2", "broker-3") + fmt.Sprint(jobRuns()); after != before {
		t.Errorf("a second install that changes nothing replaced tasks:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	// One more worker: the three that run go on (the tasks' definition is the same), a fourth
	// starts.
	workersBefore = tasks("spark-worker")
	r = mgr.dataeco(t, ctx, append(args, "--no-smoke", "--spark-workers", "4")...)
	mustSucceed(t, r, "install --swarm --spark-workers 4")
	workersAfter := tasks("spark-worker")
	for _, id := range strings.Fields(workersBefore) {
		if !strings.Contains(workersAfter, id) {
			t.Errorf("adding a worker replaced task %s:\nbefore\n%s\nafter\n%s", id, workersBefore, workersAfter)
		}
	}
	if n := len(strings.Fields(workersAfter)); n != 4 {
		t.Errorf("%d workers after --spark-workers 4", n)
	}

	// The engine of a node with a worker stops: swarm starts that worker on another node.
	victim := nodes[2]
	if err := victim.stop(); err != nil {
		t.Fatalf("stopping the engine of %s: %v", victim.ip, err)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		workers, running = workerNodes(swarmServices(t, ctx, mgr, dir)["spark-worker"])
		if running == 4 && workers[victim.ip] == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("3 minutes after %s's engine stopped, the workers run on %v (%d running)", victim.ip, workers, running)
		}
		time.Sleep(2 * time.Second)
	}
	t.Logf("after %s's engine stopped, the Spark workers run on %v", victim.ip, workers)
	// Its broker is down with it (pinned to its volume): the cluster works on the others, and
	// smoke says so.
	smokePasses(t, ctx, mgr, dir, "smoke-spark")
	if msg := smokeStatus(t, ctx, mgr, dir)["smoke-kafka"]; !strings.HasPrefix(msg, "warn 2 of 3 brokers") {
		t.Errorf("smoke-kafka with a broker's node down: %q", msg)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Second) {
		ring := cassandraRing(t, mgr, project)
		if strings.Count(ring, "UN ") == 2 && strings.Count(ring, "DN ") == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("a minute after a node's engine stopped, the Cassandra ring is not 2 up and 1 down:\n%s", ring)
			break
		}
	}

	// The node comes back (as it would after a reboot). Cassandra dropped: its services go, as
	// the stack file no longer has them, and its volumes stay (uninstall --purge below still
	// reaches those on the other nodes).
	victim.start()
	r = mgr.dataeco(t, ctx, append(args, "--no-smoke", "--components", "kafka,spark")...)
	mustSucceed(t, r, "install --swarm without Cassandra")
	for name := range swarmServices(t, ctx, mgr, dir) {
		if strings.HasPrefix(name, "cassandra") || name == "spark-stream" {
			t.Errorf("%s is still deployed after Cassandra was dropped", name)
		}
	}
	// And uninstall clears every node.
	r = mgr.dataeco(t, ctx, "uninstall", "--purge", "--yes", "--dir", dir)
	mustSucceed(t, r, "uninstall --purge on the swarm")
	label := "label=com.docker.stack.namespace=" + project
	deadline = time.Now().Add(2 * time.Minute)
	for _, n := range nodes {
		for _, what := range [][]string{{"ps", "-aq", "--filter", label}, {"volume", "ls", "-q", "--filter", label}, {"network", "ls", "-q", "--filter", label}} {
			for {
				out, err := n.docker(what...)
				if err == nil && strings.TrimSpace(out) == "" {
					break
				}
				if time.Now().After(deadline) {
					all, _ := n.docker("ps", "-a", "--filter", label, "--format", "{{.Names}} {{.Status}}")
					t.Errorf("after uninstall, %s on %s: %v %s\n%s", strings.Join(what, " "), n.ip, err, out, all)
					break
				}
				time.Sleep(time.Second)
			}
		}
	}
	for _, what := range [][]string{{"service", "ls", "-q", "--filter", label}, {"config", "ls", "-q", "--filter", label}} {
		if out, err := mgr.docker(what...); err != nil || strings.TrimSpace(out) != "" {
			t.Errorf("after uninstall, %s: %v %s", strings.Join(what, " "), err, out)
		}
	}
	// Nor a task in the swarm's records, the swarm jobs' included.
	ids, err := mgr.docker("node", "ls", "-q")
	if err != nil {
		t.Fatalf("docker node ls: %v\n%s", err, ids)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Second) {
		out, err := mgr.docker(append([]string{"node", "ps", "-q"}, strings.Fields(ids)...)...)
		if err == nil && strings.TrimSpace(out) == "" {
			break
		}
		if time.Now().After(deadline) {
			all, _ := mgr.docker(append([]string{"node", "ps"}, strings.Fields(ids)...)...)
			t.Errorf("a minute after uninstall the swarm still has tasks: %v\n%s", err, all)
			break
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("uninstall --purge left %s: %v", dir, err)
	}
}
