package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dataeco/dataeco/embedded"
	"github.com/docker/compose/v5/pkg/api"
	"github.com/moby/moby/client"

	"github.com/dataeco/dataeco/installer"
	"github.com/dataeco/dataeco/installer/model"
)

// The end-to-end tests run dataeco against the real Docker engine. No public registry is
// reachable in CI, so they build stand-in images (testdata/standin), push them to a real
// local registry (Debian's docker-registry on 127.0.0.1) and install with --registry, so
// pulls and their progress happen for real.

var e2e struct {
	once     sync.Once
	err      error
	registry string
	cmd      *exec.Cmd
	tmp      string
}

func TestMain(m *testing.M) {
	code := m.Run()
	if e2e.cmd != nil && e2e.cmd.Process != nil {
		_ = e2e.cmd.Process.Kill()
		_ = e2e.cmd.Wait()
	}
	if e2e.tmp != "" {
		os.RemoveAll(e2e.tmp)
	}
	if e2e.registry != "" {
		removeImagesUnder(e2e.registry)
	}
	os.Exit(code)
}

// requireIntegration skips under -short or without the tools, except under CI=true, where a
// missing prerequisite is a failure: CI must never pass by skipping.
func requireIntegration(t *testing.T) {
	t.Helper()
	ci := os.Getenv("CI") == "true"
	if testing.Short() && !ci {
		t.Skip("integration test skipped under -short")
	}
	miss := func(format string, args ...any) {
		t.Helper()
		if ci {
			t.Fatalf(format+" (CI=true: .ci/run must provide it)", args...)
		}
		t.Skipf(format, args...)
	}
	for _, bin := range []string{"docker", "docker-registry", "busybox", "go"} {
		if _, err := exec.LookPath(bin); err != nil {
			miss("%s is not installed", bin)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := client.New(client.FromEnv)
	if err == nil {
		defer c.Close()
		_, err = c.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true})
	}
	if err != nil {
		miss("no Docker engine: %v", err)
	}
}

// standinRegistry starts the registry and pushes the stand-in images once per test binary.
func standinRegistry(t *testing.T) string {
	t.Helper()
	requireIntegration(t)
	e2e.once.Do(func() { e2e.err = setupRegistry() })
	if e2e.err != nil {
		t.Fatalf("setting up the stand-in registry: %v", e2e.err)
	}
	return e2e.registry
}

// freePort finds a free loopback port for a registry the tests start as another process. It
// looks below 32768 (12600-12699), outside the range the kernel hands out for outgoing
// connections: a port the kernel picked for us could be taken by an outgoing connection
// between this check and the registry's bind.
func freePort() (int, error) {
	for port := 12600; port < 12700; port++ {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		l.Close()
		return port, nil
	}
	return 0, fmt.Errorf("no free port on 127.0.0.1 in 12600-12699")
}

func setupRegistry() error {
	tmp, err := os.MkdirTemp("", "dataeco-e2e-registry-")
	if err != nil {
		return err
	}
	e2e.tmp = tmp
	port, err := freePort()
	if err != nil {
		return err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := fmt.Sprintf("version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n", filepath.Join(tmp, "data"), addr)
	cfgPath := filepath.Join(tmp, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return err
	}
	logf, err := os.Create(filepath.Join(tmp, "registry.log"))
	if err != nil {
		return err
	}
	cmd := exec.Command("docker-registry", "serve", cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting docker-registry: %w", err)
	}
	e2e.cmd = cmd
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(tmp, "registry.log"))
			return fmt.Errorf("docker-registry did not answer on %s: %v\n%s", addr, err, b)
		}
		time.Sleep(200 * time.Millisecond)
	}
	e2e.registry = addr

	refs, err := stackImages()
	if err != nil {
		return err
	}
	build := exec.Command("bash", filepath.Join("..", "..", "testdata", "standin", "build.sh"), addr)
	build.Args = append(build.Args, refs...)
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("building stand-in images: %v\n%s", err, out)
	}
	// Drop the local copies so that install pulls them from the registry, as a user's would.
	for _, ref := range refs {
		_ = exec.Command("docker", "image", "rm", "-f", model.RewriteImage(addr, ref)).Run()
	}
	return nil
}

// stackImages lists every image the full stack pulls: the catalogue's pinned images (those
// dataeco builds from are among them).
func stackImages() ([]string, error) {
	seen := map[string]bool{}
	var refs []string
	for _, s := range model.Catalogue() {
		if !seen[s.Image] {
			seen[s.Image] = true
			refs = append(refs, s.Image)
		}
	}
	sort.Strings(refs)
	return refs, nil
}

// runResult is one in-process run of the CLI.
type runResult struct {
	code   int
	stdout string
	stderr string
}

func runCLI(t *testing.T, ctx context.Context, args ...string) runResult {
	t.Helper()
	return runCLIEnv(t, ctx, nil, args...)
}

// runCLIEnv is runCLI with these environment variables over the process's.
func runCLIEnv(t *testing.T, ctx context.Context, env map[string]string, args ...string) runResult {
	t.Helper()
	streams, _, out, errOut := installer.TestStreams()
	app := &installer.App{Streams: streams, Build: installer.BuildInfo{Version: "e2e", Commit: "test", Date: "today"}}
	if env != nil {
		app.Getenv = func(k string) string {
			if v, ok := env[k]; ok {
				return v
			}
			return os.Getenv(k)
		}
	}
	code := installer.Main(ctx, app, append([]string{"dataeco"}, args...))
	r := runResult{code: code, stdout: out.String(), stderr: errOut.String()}
	t.Logf("dataeco %s → exit %d\n--- stdout:\n%s--- stderr:\n%s", strings.Join(args, " "), code, r.stdout, r.stderr)
	return r
}

// dockerAPI is a plain engine client for assertions, independent of dataeco's own code.
func dockerAPI(t *testing.T) client.APIClient {
	t.Helper()
	c, err := client.New(client.FromEnv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func projectFilter(project string) client.Filters {
	return make(client.Filters).Add("label", api.ProjectLabel+"="+project)
}

// removeProject deletes whatever a test left behind, whatever state it is in.
func removeProject(t *testing.T, c client.APIClient, project string) {
	t.Helper()
	ctx := context.Background()
	list, _ := c.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: projectFilter(project)})
	for _, ct := range list.Items {
		_, _ = c.ContainerRemove(ctx, ct.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	}
	nets, _ := c.NetworkList(ctx, client.NetworkListOptions{Filters: projectFilter(project)})
	for _, n := range nets.Items {
		_, _ = c.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{})
	}
	vols, _ := c.VolumeList(ctx, client.VolumeListOptions{Filters: projectFilter(project)})
	for _, v := range vols.Items {
		_, _ = c.VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{Force: true})
	}
}

// freshProject removes whatever an earlier run left of project, and removes the project again
// when the test ends.
func freshProject(t *testing.T, c client.APIClient, project string) {
	t.Helper()
	removeProject(t, c, project)
	t.Cleanup(func() { removeProject(t, c, project) })
}

// leftovers counts containers, networks and volumes still labelled with the project.
func leftovers(t *testing.T, c client.APIClient, project string) (containers, networks, volumes int) {
	t.Helper()
	ctx := context.Background()
	list, err := c.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: projectFilter(project)})
	if err != nil {
		t.Fatal(err)
	}
	nets, err := c.NetworkList(ctx, client.NetworkListOptions{Filters: projectFilter(project)})
	if err != nil {
		t.Fatal(err)
	}
	vols, err := c.VolumeList(ctx, client.VolumeListOptions{Filters: projectFilter(project)})
	if err != nil {
		t.Fatal(err)
	}
	return len(list.Items), len(nets.Items), len(vols.Items)
}

// pushVariant publishes a copy of the stand-in for ref under REGISTRY/PREFIX, with extra
// environment baked in (the stand-ins' failure knobs), so a test can install a stack in which
// one service misbehaves: `--registry REGISTRY/PREFIX`.
func pushVariant(t *testing.T, registry, prefix, ref string, env map[string]string) {
	t.Helper()
	base := model.RewriteImage(registry, ref)
	target := model.RewriteImage(registry+"/"+prefix, ref)
	dir := t.TempDir()
	var df strings.Builder
	fmt.Fprintf(&df, "FROM %s\n", base)
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&df, "ENV %s=%s\n", k, env[k])
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"pull", "-q", base},
		{"build", "-q", "-t", target, dir},
		{"push", target},
		{"image", "rm", "-f", target, base},
	} {
		if out, err := exec.Command("docker", args...).CombinedOutput(); err != nil {
			t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// removeImagesUnder deletes the local images pulled from the test registry, and those dataeco
// built from them, so the tests leave the engine as they found it.
func removeImagesUnder(registry string) {
	c, err := client.New(client.FromEnv)
	if err != nil {
		return
	}
	defer c.Close()
	ctx := context.Background()
	list, err := c.ImageList(ctx, client.ImageListOptions{})
	if err != nil {
		return
	}
	for _, img := range list.Items {
		for _, ref := range img.RepoTags {
			if strings.HasPrefix(ref, registry+"/") || strings.HasPrefix(img.Labels["io.dataeco.built-from"], registry+"/") {
				_, _ = c.ImageRemove(ctx, ref, client.ImageRemoveOptions{Force: true})
			}
		}
	}
}

var builtBinary struct {
	once sync.Once
	path string
	err  error
}

// dataecoBinary builds the real binary once, for tests that run it as another user or need a
// separate process.
func dataecoBinary(t *testing.T) string {
	t.Helper()
	builtBinary.once.Do(func() {
		dir, err := os.MkdirTemp("", "dataeco-bin-")
		if err != nil {
			builtBinary.err = err
			return
		}
		builtBinary.path = filepath.Join(dir, "dataeco")
		out, err := exec.Command("go", "build", "-o", builtBinary.path, "../..").CombinedOutput()
		if err != nil {
			builtBinary.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if builtBinary.err != nil {
		t.Fatal(builtBinary.err)
	}
	return builtBinary.path
}

func embeddedTemplate() string { return embedded.ComposeTemplate }

// imageOf is the image the catalogue pins for a service.
func imageOf(t *testing.T, service string) string {
	t.Helper()
	s, ok := model.Lookup(service)
	if !ok {
		t.Fatalf("no service %q in the catalogue", service)
	}
	return s.Image
}
