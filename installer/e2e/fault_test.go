package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/dataeco/dataeco/installer"
	"github.com/dataeco/dataeco/installer/model"
)

// slowRegistry fronts the test registry with a proxy whose blob downloads can be throttled,
// so a test can interrupt an install in the middle of its pulls.
type slowRegistry struct {
	addr     string
	throttle atomic.Bool
}

func startSlowRegistry(t *testing.T, upstream string) *slowRegistry {
	t.Helper()
	target, _ := url.Parse("http://" + upstream)
	s := &slowRegistry{}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(resp *http.Response) error {
		// Only layers: the image check's registry look-ups fetch small config blobs, and
		// those must stay quick or the install never gets as far as pulling.
		if s.throttle.Load() && strings.Contains(resp.Request.URL.Path, "/blobs/") && resp.ContentLength > 64<<10 {
			resp.Body = &slowBody{r: resp.Body}
		}
		return nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: proxy}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	s.addr = l.Addr().String()
	return s
}

// slowBody trickles 8 KiB every 100 ms, about 80 KB/s: every stand-in image has a layer of
// its own of some 300 KB, so each pull takes seconds even when the shared layers are present.
type slowBody struct{ r io.ReadCloser }

func (b *slowBody) Read(p []byte) (int, error) {
	time.Sleep(100 * time.Millisecond)
	if len(p) > 8<<10 {
		p = p[:8<<10]
	}
	return io.ReadFull(b.r, p)
}
func (b *slowBody) Close() error { return b.r.Close() }

// startDataeco runs the real binary, streaming its stderr lines to a channel.
func startDataeco(t *testing.T, args ...string) (*exec.Cmd, <-chan string, *lineWriter) {
	t.Helper()
	return startDataecoEnv(t, nil, args...)
}

func startDataecoEnv(t *testing.T, env []string, args ...string) (*exec.Cmd, <-chan string, *lineWriter) {
	t.Helper()
	cmd := exec.Command(dataecoBinary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	// A writer rather than StderrPipe: Wait then returns only after every byte was copied.
	w := &lineWriter{lines: make(chan string, 1000)}
	cmd.Stderr = w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, w.lines, w
}

// lineWriter keeps everything written to it and passes each complete line to a channel.
type lineWriter struct {
	mu      sync.Mutex
	all     strings.Builder
	partial string
	lines   chan string
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.all.Write(p)
	w.partial += string(p)
	for {
		i := strings.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		select {
		case w.lines <- w.partial[:i]:
		default:
		}
		w.partial = w.partial[i+1:]
	}
	return len(p), nil
}

func (w *lineWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.all.String()
}

func waitForLine(t *testing.T, lines <-chan string, substr string, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("no more output before %q", substr)
			}
			if strings.Contains(l, substr) {
				return
			}
		case <-deadline:
			t.Fatalf("no %q within %s", substr, timeout)
		}
	}
}

// interruptAndWait sends SIGINT and returns the exit code and how long the exit took.
func interruptAndWait(t *testing.T, cmd *exec.Cmd) (int, time.Duration) {
	t.Helper()
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("dataeco did not exit within 30s of Ctrl-C")
	}
	return cmd.ProcessState.ExitCode(), time.Since(start)
}

// TestIntegrationInterrupt: Ctrl-C during pulls and during starts exits 130 promptly, saying
// where it stopped, and a re-run completes.
func TestIntegrationInterrupt(t *testing.T) {
	registry := standinRegistry(t)
	c := dockerAPI(t)
	removeImagesUnder(registry) // their layers would make the slow registry's pulls instant
	slow := startSlowRegistry(t, registry)
	project := "dataeco-intr"
	removeProject(t, c, project)
	t.Cleanup(func() { removeProject(t, c, project); removeImagesUnder(slow.addr) })
	dir := filepath.Join(t.TempDir(), "install")
	args := []string{"install", "--yes", "--dir", dir, "--project", project, "--registry", slow.addr,
		"--components", "kafka,spark,cassandra", "--timeout", "3m", "--no-smoke"}
	args = append(args, fixedPortArgs(14000)...)

	slow.throttle.Store(true)
	cmd, lines, stderr := startDataeco(t, args...)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("first run's stderr:\n%s", stderr.String())
		}
	})
	waitForLine(t, lines, "Pulling images", 3*time.Minute)
	time.Sleep(500 * time.Millisecond)
	code, took := interruptAndWait(t, cmd)
	t.Logf("interrupted during pulls: exit %d after %s\n%s", code, took, stderr.String())
	if code != installer.ExitInterrupted || !strings.Contains(stderr.String(), "while pulling images") {
		t.Errorf("Ctrl-C during pulls: exit %d, stderr:\n%s", code, stderr.String())
	}
	if took > 10*time.Second {
		t.Errorf("exit took %s after Ctrl-C", took)
	}

	slow.throttle.Store(false)
	cmd, lines, stderr = startDataeco(t, args...)
	waitForLine(t, lines, "Starting services", 2*time.Minute)
	time.Sleep(3 * time.Second)
	code, took = interruptAndWait(t, cmd)
	t.Logf("interrupted during starts: exit %d after %s\n%s", code, took, stderr.String())
	if code != installer.ExitInterrupted || !strings.Contains(stderr.String(), "while starting services") {
		t.Errorf("Ctrl-C during starts: exit %d, stderr:\n%s", code, stderr.String())
	}
	if took > 10*time.Second {
		t.Errorf("exit took %s after Ctrl-C", took)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	mustSucceed(t, runCLI(t, ctx, args...), "install after two interruptions")
	mustSucceed(t, runCLI(t, ctx, "uninstall", "--purge", "--yes", "--dir", dir), "uninstall")
}

// TestIntegrationConcurrentCommands: while one command holds the install, a second refuses
// at once, naming the first.
func TestIntegrationConcurrentCommands(t *testing.T) {
	requireIntegration(t)
	dir := filepath.Join(t.TempDir(), "install")
	ans := model.DefaultAnswers(model.EngineResources{NCPU: 2, MemTotal: 8 << 30})
	s := model.Secrets{}
	s.EnsureSecrets(ans.Project)
	b, _ := model.Render(&ans, "test", "", model.Inputs{})
	if err := model.WriteInstall(dir, &ans, s, b); err != nil {
		t.Fatal(err)
	}
	release, err := model.Lock(dir, "install")
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	// A separate process, as a user's second terminal would be.
	out, err := exec.Command(dataecoBinary(t), "stop", "--dir", dir).CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	if code != installer.ExitFailure || !strings.Contains(string(out), fmt.Sprintf("busy: dataeco install (PID %d) is changing it", os.Getpid())) {
		t.Errorf("second command: exit %d\n%s", code, out)
	}
}

// TestIntegrationUpgradeKeepsData: a newer dataeco whose definition moves an image to a new
// tag recreates that service on install, and its data survives.
func TestIntegrationUpgradeKeepsData(t *testing.T) {
	registry := standinRegistry(t)
	c := dockerAPI(t)
	project := "dataeco-upgrade"
	freshProject(t, c, project)
	// The "new" ZooKeeper image: the stand-in under a newer tag.
	old, newer := model.RewriteImage(registry, imageOf(t, "zookeeper")), model.RewriteImage(registry, imageOf(t, "zookeeper")+"9")
	for _, args := range [][]string{{"pull", "-q", old}, {"tag", old, newer}, {"push", newer}, {"image", "rm", newer}} {
		if out, err := exec.Command("docker", args...).CombinedOutput(); err != nil {
			t.Fatalf("docker %v: %v\n%s", args, err, out)
		}
	}
	dir := filepath.Join(t.TempDir(), "install")
	args := []string{"install", "--yes", "--no-smoke", "--dir", dir, "--project", project, "--registry", registry,
		"--components", "kafka", "--timeout", "2m"}
	args = append(args, fixedPortArgs(15000)...)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	mustSucceed(t, runCLI(t, ctx, args...), "install")
	for _, svc := range []string{"zookeeper", "broker"} {
		path := map[string]string{"zookeeper": "/var/lib/zookeeper/data", "broker": "/var/lib/kafka/data"}[svc] + "/upgrade-marker"
		if out, err := execIn(t, project, svc, "echo kept > "+path); err != nil {
			t.Fatalf("%s: %v %s", svc, err, out)
		}
	}
	before := projectContainers(t, c, project)

	streams, _, out, errOut := installer.TestStreams()
	app := &installer.App{Streams: streams, Build: installer.BuildInfo{Version: "e2e-next"},
		// A newer dataeco whose ZooKeeper tag is 7.9.99 (the stand-in registry has it).
		Template: strings.Replace(embeddedTemplate(), `image: {{ image "zookeeper" }}`, `image: {{ image "zookeeper" }}9`, 1)}
	if code := installer.Main(ctx, app, append([]string{"dataeco"}, args...)); code != 0 {
		t.Fatalf("upgrade install: exit %d\n%s%s", code, out, errOut)
	}
	after := projectContainers(t, c, project)
	if after["zookeeper"].ID == before["zookeeper"].ID {
		t.Error("the service whose image changed was not recreated")
	}
	for _, svc := range []string{"zookeeper", "broker"} {
		path := map[string]string{"zookeeper": "/var/lib/zookeeper/data", "broker": "/var/lib/kafka/data"}[svc] + "/upgrade-marker"
		if got, err := execIn(t, project, svc, "cat "+path); err != nil || got != "kept" {
			t.Errorf("after the upgrade %s lost its data: %v %q", svc, err, got)
		}
	}
	mustSucceed(t, runCLI(t, ctx, "uninstall", "--purge", "--yes", "--dir", dir), "uninstall")
}

// engineProxy stands between dataeco and the engine on a unix socket of its own; cut() drops
// every connection and stops answering, which is what a client sees when dockerd dies.
type engineProxy struct {
	path  string
	l     net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func startEngineProxy(t *testing.T) *engineProxy {
	t.Helper()
	upstream := "/var/run/docker.sock"
	if h := os.Getenv("DOCKER_HOST"); strings.HasPrefix(h, "unix://") {
		upstream = strings.TrimPrefix(h, "unix://")
	}
	p := &engineProxy{path: filepath.Join(t.TempDir(), "docker.sock")}
	l, err := net.Listen("unix", p.path)
	if err != nil {
		t.Fatal(err)
	}
	p.l = l
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("unix", upstream)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go func() { io.Copy(u, c); u.Close() }()
			go func() { io.Copy(c, u); c.Close() }()
		}
	}()
	t.Cleanup(p.cut)
	return p
}

func (p *engineProxy) cut() {
	p.l.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
}

// TestIntegrationEngineLost: when the engine goes away during pulls or during starts,
// install says so and how to go on, exits 1, and a re-run converges once it is back.
func TestIntegrationEngineLost(t *testing.T) {
	registry := standinRegistry(t)
	c := dockerAPI(t)
	removeImagesUnder(registry) // their layers would make the slow registry's pulls instant
	slow := startSlowRegistry(t, registry)
	project := "dataeco-lost"
	removeProject(t, c, project)
	t.Cleanup(func() { removeProject(t, c, project); removeImagesUnder(slow.addr) })
	dir := filepath.Join(t.TempDir(), "install")
	args := []string{"install", "--yes", "--no-smoke", "--dir", dir, "--project", project, "--registry", slow.addr,
		"--components", "kafka,spark", "--timeout", "2m"}
	args = append(args, fixedPortArgs(16000)...)
	for _, tc := range []struct {
		phase, line string
		throttle    bool
	}{
		{"pulling images", "Pulling images", true},
		{"starting services", "Starting services", false},
	} {
		slow.throttle.Store(tc.throttle)
		proxy := startEngineProxy(t)
		cmd, lines, stderr := startDataecoEnv(t, []string{"DOCKER_HOST=unix://" + proxy.path}, args...)
		waitForLine(t, lines, tc.line, 2*time.Minute)
		time.Sleep(time.Second)
		proxy.cut()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("dataeco did not notice the engine was gone within 60s\n%s", stderr.String())
		}
		out := stderr.String()
		if code := cmd.ProcessState.ExitCode(); code != installer.ExitFailure || !strings.Contains(out, "lost the Docker engine while "+tc.phase) ||
			!strings.Contains(out, "run `dataeco install`") {
			t.Errorf("engine lost while %s: exit %d\n%s", tc.phase, code, out)
		}
	}
	slow.throttle.Store(false)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	mustSucceed(t, runCLI(t, ctx, args...), "install once the engine is back")
	mustSucceed(t, runCLI(t, ctx, "uninstall", "--purge", "--yes", "--dir", dir), "uninstall")
}
