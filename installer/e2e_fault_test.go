package installer

import (
	"bufio"
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
	"sync/atomic"
	"syscall"
	"testing"
	"time"
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
		if s.throttle.Load() && strings.Contains(resp.Request.URL.Path, "/blobs/") {
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

// slowBody trickles 64 KiB every 100 ms, about 640 KB/s.
type slowBody struct{ r io.ReadCloser }

func (b *slowBody) Read(p []byte) (int, error) {
	time.Sleep(100 * time.Millisecond)
	if len(p) > 64<<10 {
		p = p[:64<<10]
	}
	return io.ReadFull(b.r, p)
}
func (b *slowBody) Close() error { return b.r.Close() }

// startDataeco runs the real binary, streaming its stderr lines to a channel.
func startDataeco(t *testing.T, args ...string) (*exec.Cmd, <-chan string, *strings.Builder) {
	t.Helper()
	cmd := exec.Command(dataecoBinary(t), args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	var all strings.Builder
	lines := make(chan string, 1000)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			all.WriteString(sc.Text() + "\n")
			select {
			case lines <- sc.Text():
			default:
			}
		}
		close(lines)
	}()
	return cmd, lines, &all
}

func waitForLine(t *testing.T, lines <-chan string, substr string, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("dataeco ended before printing %q", substr)
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
	slow := startSlowRegistry(t, registry)
	project := "dataeco-intr"
	removeProject(t, c, project)
	t.Cleanup(func() { removeProject(t, c, project); removeImagesUnder(slow.addr) })
	dir := filepath.Join(t.TempDir(), "install")
	args := []string{"install", "--yes", "--dir", dir, "--project", project, "--registry", slow.addr,
		"--components", "kafka,spark,cassandra", "--timeout", "3m", "--no-smoke"}
	for i, p := range PortSpecs() {
		args = append(args, "--"+p.Flag, fmt.Sprint(43000+i))
	}

	slow.throttle.Store(true)
	cmd, lines, stderr := startDataeco(t, args...)
	waitForLine(t, lines, "Pulling images", time.Minute)
	time.Sleep(2 * time.Second)
	code, took := interruptAndWait(t, cmd)
	t.Logf("interrupted during pulls: exit %d after %s\n%s", code, took, stderr.String())
	if code != ExitInterrupted || !strings.Contains(stderr.String(), "while pulling images") {
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
	if code != ExitInterrupted || !strings.Contains(stderr.String(), "while starting services") {
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
	ans := DefaultAnswers(EngineResources{NCPU: 2, MemTotal: 8 << 30})
	s := Secrets{}
	s.EnsureSecrets(ans.Project)
	b, _ := RenderCompose(&ans, "test")
	if err := writeInstall(dir, &ans, s, b); err != nil {
		t.Fatal(err)
	}
	release, err := lockInstall(dir, "install")
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
	if code != ExitFailure || !strings.Contains(string(out), fmt.Sprintf("busy: dataeco install (PID %d) is changing it", os.Getpid())) {
		t.Errorf("second command: exit %d\n%s", code, out)
	}
}
