package e2e

import (
	"bufio"
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// TestIntegrationProbeReadiness: dataeco starts a dependent as soon as its dependency's own
// healthcheck command passes, run by dataeco before the engine's first check, and never
// before. ZooKeeper here answers its healthcheck only after 5 s (STANDIN_READY_AFTER): the
// broker must start after that, and its first connection to ZooKeeper, which ZooKeeper's log
// records, must come after it too. Once the engine reports ZooKeeper healthy, dataeco's probes
// have stopped: no exec of theirs runs on, and no new one is made.
func TestIntegrationProbeReadiness(t *testing.T) {
	registry := standinRegistry(t)
	c := dockerAPI(t)
	const readyAfter = 5 * time.Second
	const prefix = "lateready"
	pushVariant(t, registry, prefix, imageOf(t, "zookeeper"), map[string]string{"STANDIN_READY_AFTER": readyAfter.String()})
	pushVariant(t, registry, prefix, imageOf(t, "broker"), nil)
	const project = "dataeco-probe"
	freshProject(t, c, project)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "install")
	args := append([]string{"install", "--yes", "--dir", dir, "--project", project, "--components", "kafka",
		"--registry", registry + "/" + prefix, "--no-smoke"}, fixedPortArgs(13500)...)
	if r := runCLI(t, ctx, args...); r.code != 0 {
		t.Fatalf("install: exit %d\n%s", r.code, r.stderr)
	}

	facts := projectContainers(t, c, project)
	zkStart := parseTime(t, facts["zookeeper"].StartedAt)
	brokerStart := parseTime(t, facts["broker"].StartedAt)
	ready := zkStart.Add(readyAfter)
	if brokerStart.Before(ready) {
		t.Errorf("the broker started %s after ZooKeeper, before ZooKeeper's healthcheck could pass (%s)",
			brokerStart.Sub(zkStart).Round(time.Millisecond), readyAfter)
	}
	t.Logf("the broker started %s after ZooKeeper could first pass its check", brokerStart.Sub(ready).Round(time.Millisecond))

	// The broker stand-in dials ZooKeeper before it serves; ZooKeeper logs each connection.
	ins, err := c.ContainerInspect(ctx, facts["broker"].ID, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var brokerIP string
	for _, n := range ins.Container.NetworkSettings.Networks {
		if n.IPAddress.IsValid() {
			brokerIP = n.IPAddress.String()
		}
	}
	connected := firstLogLine(t, c, facts["zookeeper"].ID, "from "+brokerIP+":")
	if connected.IsZero() {
		t.Fatalf("ZooKeeper's log has no connection from the broker (%s)", brokerIP)
	}
	if connected.Before(ready) {
		t.Errorf("the broker connected to ZooKeeper %s after its start, before it was ready (%s)", connected.Sub(zkStart), readyAfter)
	}

	// The engine takes over: once it says healthy, the probes are done and leave nothing.
	deadline := time.Now().Add(30 * time.Second)
	for {
		zk, err := c.ContainerInspect(ctx, facts["zookeeper"].ID, client.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if h := zk.Container.State.Health; h != nil && h.Status == "healthy" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the engine never reported ZooKeeper healthy")
		}
		time.Sleep(500 * time.Millisecond)
	}
	before := execIDs(t, c, facts["zookeeper"].ID)
	time.Sleep(3 * time.Second) // more than one interval of the engine's own check (2 s)
	after := execIDs(t, c, facts["zookeeper"].ID)
	for _, id := range after {
		e, err := c.ExecInspect(ctx, id, client.ExecInspectOptions{})
		if err == nil && e.Running {
			// The engine's own check runs for milliseconds; a probe left behind runs on.
			time.Sleep(time.Second)
			if e, err := c.ExecInspect(ctx, id, client.ExecInspectOptions{}); err == nil && e.Running {
				t.Errorf("exec %s still runs in ZooKeeper after the engine reported it healthy", id)
			}
		}
	}
	if len(after) > len(before) {
		t.Errorf("ZooKeeper had %d exec sessions when the engine reported it healthy and %d three seconds later: something still probes it", len(before), len(after))
	}
}

func parseTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("time %q: %v", s, err)
	}
	return v
}

// firstLogLine is the time of the container's first log line containing substr, from the
// stand-ins' own timestamps; zero when there is none.
func firstLogLine(t *testing.T, c client.APIClient, id, substr string) time.Time {
	t.Helper()
	rc, err := c.ContainerLogs(context.Background(), id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	sc := bufio.NewScanner(rc)
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, substr) {
			continue
		}
		if at, err := time.Parse("2006-01-02T15:04:05.000Z", standinTime.FindString(line)); err == nil {
			return at
		}
	}
	return time.Time{}
}

// standinTime is the time that starts each line of a stand-in's log (after the engine's
// stream header).
var standinTime = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z`)

func execIDs(t *testing.T, c client.APIClient, id string) []string {
	t.Helper()
	ins, err := c.ContainerInspect(context.Background(), id, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return ins.Container.ExecIDs
}
