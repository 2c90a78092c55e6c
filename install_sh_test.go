//go:build linux || darwin

package main

// These tests run install.sh the way users run it, with sh, against a release served over
// local HTTP (127.0.0.1) in GitHub's layout:
//
//	<base>/download/v<VERSION>/<file>
//	<base>/latest/download/<file>   (a redirect to the above, as on GitHub)
//
// Each run gets its own HOME and TMPDIR, an environment built from scratch (nothing leaks in
// from the caller, VERSION included) and a new session with no controlling terminal, so it
// can never wait on the developer's terminal.
//
// The real-release tests serve the snapshot release in dist/, which .ci/test builds first
// with goreleaser. Without it, they build a snapshot for this platform alone when goreleaser
// is installed, and skip otherwise, except under CI=true, where they fail. The other tests
// serve a release made here, whose "binary" is a shell script, so that any platform's
// archive can be installed and `dataeco install` can be run without touching Docker.

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"go/build"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// scriptTimeout bounds every run of install.sh: a hang fails the test instead of the suite.
const scriptTimeout = 2 * time.Minute

var tempDirs []string

func TestMain(m *testing.M) {
	code := m.Run()
	for _, d := range tempDirs {
		os.RemoveAll(d)
	}
	os.Exit(code)
}

// release is what the test server serves: a version and its files by name.
type release struct {
	version string
	files   map[string][]byte
}

func (r release) clone() release {
	c := release{version: r.version, files: map[string][]byte{}}
	for k, v := range r.files {
		c.files[k] = slices.Clone(v)
	}
	return c
}

func (r release) archive(goos, goarch string) string {
	return fmt.Sprintf("dataeco_%s_%s_%s.tar.gz", r.version, goos, goarch)
}

// withChecksums writes checksums.txt for every file, as goreleaser does.
func (r release) withChecksums() release {
	var names []string
	for name := range r.files {
		if name != "checksums.txt" {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	var b strings.Builder
	for _, name := range names {
		sum := sha256.Sum256(r.files[name])
		fmt.Fprintf(&b, "%s  %s\n", hex.EncodeToString(sum[:]), name)
	}
	r.files["checksums.txt"] = []byte(b.String())
	return r
}

// realRelease is the goreleaser snapshot: its checksums.txt and this platform's archive.
func realRelease(t *testing.T) release {
	t.Helper()
	snapshot.once.Do(loadSnapshot)
	if snapshot.skip != "" {
		if os.Getenv("CI") == "true" {
			t.Fatal(snapshot.skip)
		}
		t.Skip(snapshot.skip)
	}
	if snapshot.err != nil {
		t.Fatal(snapshot.err)
	}
	return snapshot.rel.clone()
}

var snapshot struct {
	once sync.Once
	rel  release
	skip string
	err  error
}

func loadSnapshot() {
	dist := "dist"
	if _, err := os.Stat(filepath.Join(dist, "checksums.txt")); err != nil {
		if os.Getenv("CI") == "true" {
			snapshot.err = errors.New("dist/checksums.txt is missing: .ci/test builds the snapshot release " +
				"(goreleaser release --snapshot --clean) before it runs the tests")
			return
		}
		dist, snapshot.skip, snapshot.err = buildSnapshot()
		if snapshot.skip != "" || snapshot.err != nil {
			return
		}
	}
	meta, err := os.ReadFile(filepath.Join(dist, "metadata.json"))
	if err != nil {
		snapshot.err = err
		return
	}
	var m struct{ Version string }
	if err := json.Unmarshal(meta, &m); err != nil || m.Version == "" {
		snapshot.err = fmt.Errorf("dist/metadata.json has no version: %v", err)
		return
	}
	rel := release{version: m.Version, files: map[string][]byte{}}
	for _, name := range []string{"checksums.txt", rel.archive(runtime.GOOS, runtime.GOARCH)} {
		b, err := os.ReadFile(filepath.Join(dist, name))
		if err != nil {
			snapshot.err = fmt.Errorf("the snapshot release in %s: %w", dist, err)
			return
		}
		rel.files[name] = b
	}
	snapshot.rel = rel
}

// buildSnapshot runs goreleaser for this platform alone into a temporary dist, for `go test`
// outside CI. The config is .goreleaser.yaml with its targets narrowed and packages skipped.
func buildSnapshot() (dist, skip string, err error) {
	goreleaser, lookErr := exec.LookPath("goreleaser")
	if lookErr != nil {
		goreleaser = filepath.Join(build.Default.GOPATH, "bin", "goreleaser")
		if _, err := os.Stat(goreleaser); err != nil {
			return "", "no snapshot release in dist/ and no goreleaser to build one: run .ci/test, or " +
				"go install github.com/goreleaser/goreleaser/v2@v2.15.1 && goreleaser release --snapshot --clean", nil
		}
	}
	cfg, err := os.ReadFile(".goreleaser.yaml")
	if err != nil {
		return "", "", err
	}
	narrowed := string(cfg)
	for old, repl := range map[string]string{
		"goos: [linux, darwin, windows]": "goos: [" + runtime.GOOS + "]",
		"goarch: [amd64, arm64]":         "goarch: [" + runtime.GOARCH + "]",
	} {
		if !strings.Contains(narrowed, old) {
			return "", "", fmt.Errorf("install_sh_test.go narrows the targets of .goreleaser.yaml by replacing %q, which is no longer there: update the test", old)
		}
		narrowed = strings.Replace(narrowed, old, repl, 1)
	}
	tmp, err := os.MkdirTemp("", "dataeco-snapshot-")
	if err != nil {
		return "", "", err
	}
	tempDirs = append(tempDirs, tmp)
	dist = filepath.Join(tmp, "dist")
	narrowed += "\ndist: " + dist + "\n"
	cfgPath := filepath.Join(tmp, "goreleaser.yaml")
	if err := os.WriteFile(cfgPath, []byte(narrowed), 0o644); err != nil {
		return "", "", err
	}
	cmd := exec.Command(goreleaser, "release", "--snapshot", "--clean", "--skip=nfpm,before", "-f", cfgPath)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("goreleaser release --snapshot for %s/%s: %v\n%s", runtime.GOOS, runtime.GOARCH, err, out)
	}
	return dist, "", nil
}

// fakeRelease is a release whose archives hold a shell script for a binary. It answers
// `version` like dataeco, says in a comment which archive it came from, and records every
// other call in $HOME/dataeco-calls, exiting $FAKE_EXIT.
func fakeRelease(t *testing.T, version string) release {
	t.Helper()
	rel := release{version: version, files: map[string][]byte{}}
	for _, goos := range []string{"linux", "darwin"} {
		for _, goarch := range []string{"amd64", "arm64"} {
			script := "#!/bin/sh\n# fake dataeco for " + goos + "_" + goarch + "\n" +
				"if [ \"$1\" = version ]; then\n" +
				"  if [ \"${2:-}\" = --json ]; then echo '{\"version\":\"" + version + "\",\"commit\":\"fake\",\"date\":\"fake\"}'\n" +
				"  else echo 'dataeco " + version + " (commit fake, built fake)'; fi\n" +
				"  exit 0\nfi\n" +
				"tty=notty; [ -t 0 ] && tty=tty\n" +
				"echo \"$* ($tty)\" >> \"$HOME/dataeco-calls\"\n" +
				"exit \"${FAKE_EXIT:-0}\"\n"
			rel.files[rel.archive(goos, goarch)] = tarGz(t, map[string]string{"dataeco": script, "README.md": "fake\n"})
		}
	}
	return rel.withChecksums()
}

func tarGz(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range files {
			if !yield(n) {
				return
			}
		}
	})
	for _, name := range names {
		mode := int64(0o644)
		if name == "dataeco" {
			mode = 0o755
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: int64(len(files[name])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(files[name])); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// server serves one release and records the paths asked for.
type server struct {
	url      string // the releases base URL, for DATAECO_DOWNLOAD_URL
	mu       sync.Mutex
	requests []string
}

// serve starts a server for rel on 127.0.0.1. With noLatest, <base>/latest/... is 404, so a
// pinned version must not need it.
func serve(t *testing.T, rel release, noLatest bool) *server {
	t.Helper()
	s := &server{}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests = append(s.requests, r.URL.Path)
		s.mu.Unlock()
		if name, ok := strings.CutPrefix(r.URL.Path, "/releases/latest/download/"); ok && !noLatest {
			http.Redirect(w, r, "/releases/download/v"+rel.version+"/"+name, http.StatusFound)
			return
		}
		if name, ok := strings.CutPrefix(r.URL.Path, "/releases/download/v"+rel.version+"/"); ok {
			if b, ok := rel.files[name]; ok {
				http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
				return
			}
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(ts.Close)
	if !strings.HasPrefix(ts.URL, "http://127.0.0.1:") {
		t.Fatalf("test server on %s, not 127.0.0.1", ts.URL)
	}
	s.url = ts.URL + "/releases"
	return s
}

// took returns the requests made since the last call.
func (s *server) took() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.requests
	s.requests = nil
	return r
}

// sandbox is a HOME, a TMPDIR and a directory of stub commands for one user of install.sh.
type sandbox struct {
	t      *testing.T
	root   string
	home   string
	tmp    string
	stubs  string
	script string
	nobody bool // run as uid 65534 (only when the test runs as root)
}

func newSandbox(t *testing.T) *sandbox {
	t.Helper()
	root, err := os.MkdirTemp("", "dataeco-install-sh-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	s := &sandbox{t: t, root: root, home: filepath.Join(root, "home"), tmp: filepath.Join(root, "tmp"), stubs: filepath.Join(root, "stubs")}
	for _, d := range []string{s.home, s.tmp, s.stubs} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	script, err := os.ReadFile("install.sh")
	if err != nil {
		t.Fatal(err)
	}
	s.script = filepath.Join(root, "install.sh")
	s.write(s.script, string(script), 0o644)
	// sudo is never needed in these tests unless they say so: it records its calls and fails
	// as a sudo with nobody to type a password would.
	s.stub("sudo", `echo "sudo $*" >> "$STUB_LOG_DIR/sudo.log"; echo "sudo: a password is required" >&2; exit 1`)
	return s
}

func (s *sandbox) write(path, content string, mode os.FileMode) {
	s.t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		s.t.Fatal(err)
	}
}

// stub puts a shell script named name first on PATH.
func (s *sandbox) stub(name, body string) {
	s.write(filepath.Join(s.stubs, name), "#!/bin/sh\n"+body+"\n", 0o755)
}

// stubPlatform makes uname and sysctl answer like another machine; uname records its calls.
func (s *sandbox) stubPlatform(unameS, unameM, translated string) {
	s.stub("uname", `echo "uname $*" >> "$STUB_LOG_DIR/uname.log"
case "$1" in
-s) echo "`+unameS+`" ;;
-m) echo "`+unameM+`" ;;
*) echo "`+unameS+`" ;;
esac`)
	if translated == "" {
		s.stub("sysctl", `echo "sysctl: unknown oid" >&2; exit 1`)
	} else {
		s.stub("sysctl", `[ "$1 $2" = "-n sysctl.proc_translated" ] && echo "`+translated+`" && exit 0; exit 1`)
	}
}

// log returns what a stub recorded.
func (s *sandbox) log(name string) string {
	b, _ := os.ReadFile(filepath.Join(s.root, name+".log"))
	return string(b)
}

type runOpts struct {
	env   []string // KEY=VALUE on top of the sandbox's
	stdin []byte   // when set, the script comes on stdin: sh -s -- ARGS (curl | sh)
	path  string   // PATH instead of stubs + the test's PATH
	dir   string   // working directory, default HOME
}

type result struct {
	code           int
	stdout, stderr string
	took           time.Duration
}

func (r result) String() string {
	return fmt.Sprintf("exit %d after %s\nstdout:\n%s\nstderr:\n%s", r.code, r.took.Round(time.Millisecond), r.stdout, r.stderr)
}

// run runs install.sh with args and checks that it left nothing in TMPDIR.
func (s *sandbox) run(o runOpts, args ...string) result {
	s.t.Helper()
	path := o.path
	if path == "" {
		path = s.stubs + string(os.PathListSeparator) + os.Getenv("PATH")
	}
	argv := append([]string{s.script}, args...)
	if o.stdin != nil {
		argv = append([]string{"-s", "--"}, args...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", argv...)
	cmd.Env = append([]string{
		"HOME=" + s.home,
		"TMPDIR=" + s.tmp,
		"PATH=" + path,
		"SHELL=/bin/bash",
		"LANG=C",
		"STUB_LOG_DIR=" + s.root,
	}, o.env...)
	cmd.Dir = s.home
	if o.dir != "" {
		cmd.Dir = o.dir
	}
	if o.stdin != nil {
		cmd.Stdin = bytes.NewReader(o.stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// A new session has no controlling terminal: /dev/tty cannot be opened, as under CI or cron.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if s.nobody {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: 65534, Gid: 65534}
	}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String(), took: time.Since(start)}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		s.t.Fatalf("install.sh %v did not finish within %s (a hang):\n%s", args, scriptTimeout, r)
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		s.t.Fatalf("running install.sh: %v", err)
	}
	if left, _ := os.ReadDir(s.tmp); len(left) > 0 {
		s.t.Errorf("install.sh %v left %d temporary files in TMPDIR, %s first\n%s", args, len(left), left[0].Name(), r)
	}
	return r
}

func (s *sandbox) bin() string { return filepath.Join(s.home, ".local", "bin", "dataeco") }

// wantNothingInstalled checks that a failed run left no binary and no install dir behind.
func (s *sandbox) wantNothingInstalled(r result) {
	s.t.Helper()
	if _, err := os.Stat(filepath.Join(s.home, ".local")); err == nil {
		s.t.Errorf("a failed run created ~/.local:\n%s", r)
	}
}

func wantExit(t *testing.T, r result, code int, stderrHas ...string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("want exit %d, got:\n%s", code, r)
	}
	for _, s := range stderrHas {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("stderr lacks %q:\n%s", s, r)
		}
	}
}

func installedVersion(t *testing.T, bin string) string {
	t.Helper()
	out, err := exec.Command(bin, "version", "--json").Output()
	if err != nil {
		t.Fatalf("%s version --json: %v", bin, err)
	}
	var v struct{ Version, Commit, Date string }
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("%s version --json printed %q: %v", bin, out, err)
	}
	return v.Version
}

func downloadedArchive(requests []string) bool {
	for _, r := range requests {
		if strings.HasSuffix(r, ".tar.gz") {
			return true
		}
	}
	return false
}

func TestInstallScriptShellcheck(t *testing.T) {
	t.Parallel()
	shellcheck, err := exec.LookPath("shellcheck")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("shellcheck is not installed (.ci/run installs it)")
		}
		t.Skip("shellcheck is not installed")
	}
	if out, err := exec.Command(shellcheck, "-s", "sh", "install.sh").CombinedOutput(); err != nil {
		t.Errorf("shellcheck -s sh install.sh: %v\n%s", err, out)
	}
}

// TestInstallScriptLatest installs the latest release of the real snapshot, then re-runs.
func TestInstallScriptLatest(t *testing.T) {
	t.Parallel()
	rel := realRelease(t)
	srv := serve(t, rel, false)
	s := newSandbox(t)
	env := runOpts{env: []string{"DATAECO_DOWNLOAD_URL=" + srv.url}}

	r := s.run(env)
	wantExit(t, r, 0, "latest release: "+rel.version, "sha256 checked", "installed dataeco "+rel.version,
		s.home+"/.local/bin is not on your PATH", `export PATH="`+s.home+`/.local/bin:$PATH"`, ".bashrc")
	if got := installedVersion(t, s.bin()); got != rel.version {
		t.Errorf("the installed binary says version %q, want %q", got, rel.version)
	}
	wantRequests := []string{
		"/releases/latest/download/checksums.txt",
		"/releases/download/v" + rel.version + "/checksums.txt",
		"/releases/download/v" + rel.version + "/" + rel.archive(runtime.GOOS, runtime.GOARCH),
	}
	if got := srv.took(); !slices.Equal(got, wantRequests) {
		t.Errorf("requests %q, want %q", got, wantRequests)
	}
	st, err := os.Stat(s.bin())
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o755 {
		t.Errorf("the binary has mode %v, want 0755", st.Mode().Perm())
	}

	// The same version again: nothing is downloaded but checksums.txt, nothing is replaced.
	r = s.run(env)
	wantExit(t, r, 0, "dataeco "+rel.version+" is already installed")
	if got := srv.took(); downloadedArchive(got) {
		t.Errorf("a re-run of the installed version downloaded the archive: %q", got)
	}
	if st2, err := os.Stat(s.bin()); err != nil || !st2.ModTime().Equal(st.ModTime()) {
		t.Errorf("a re-run replaced the binary (%v)", err)
	}

	// --force reinstalls.
	r = s.run(env, "--force")
	wantExit(t, r, 0, "installed dataeco "+rel.version)
	if got := srv.took(); !downloadedArchive(got) {
		t.Errorf("--force did not download the archive: %q", got)
	}
	if got := s.log("sudo"); got != "" {
		t.Errorf("sudo was used for ~/.local/bin: %s", got)
	}
}

// TestInstallScriptPinnedVersion installs VERSION, with and without its v, from a server
// with no "latest" at all.
func TestInstallScriptPinnedVersion(t *testing.T) {
	t.Parallel()
	rel := realRelease(t)
	for _, env := range []string{"VERSION=" + rel.version, "VERSION=v" + rel.version, "DATAECO_VERSION=" + rel.version} {
		t.Run(env, func(t *testing.T) {
			t.Parallel()
			srv := serve(t, rel, true)
			s := newSandbox(t)
			r := s.run(runOpts{env: []string{"DATAECO_DOWNLOAD_URL=" + srv.url, env}})
			wantExit(t, r, 0, "release: "+rel.version)
			if got := installedVersion(t, s.bin()); got != rel.version {
				t.Errorf("installed version %q, want %q", got, rel.version)
			}
			for _, req := range srv.took() {
				if strings.Contains(req, "/latest/") {
					t.Errorf("a pinned version asked for %s", req)
				}
			}
			// Pinned and already there: not even checksums.txt is downloaded.
			r = s.run(runOpts{env: []string{"DATAECO_DOWNLOAD_URL=" + srv.url, env}})
			wantExit(t, r, 0, "is already installed")
			if got := srv.took(); len(got) != 0 {
				t.Errorf("a re-run of the pinned, installed version made requests: %q", got)
			}
		})
	}
}

// TestInstallScriptTampered serves damaged releases: each must exit 1 and install nothing,
// leaving an earlier install as it was.
func TestInstallScriptTampered(t *testing.T) {
	t.Parallel()
	rel := realRelease(t)
	archive := rel.archive(runtime.GOOS, runtime.GOARCH)
	flip := func(b []byte) []byte { b[len(b)/2] ^= 0xff; return b }
	for _, tc := range []struct {
		name   string
		damage func(rel release)
		env    []string
		stderr string
	}{
		{"archive changed", func(r release) { flip(r.files[archive]) }, nil, "sha256 mismatch for " + archive},
		{"archive cut short", func(r release) { r.files[archive] = r.files[archive][:len(r.files[archive])/2] }, nil, "sha256 mismatch"},
		{"checksum changed", func(r release) {
			sums := string(r.files["checksums.txt"])
			i := strings.Index(sums, "  "+archive)
			if i < 64 {
				t.Fatalf("checksums.txt has no line for %s:\n%s", archive, sums)
			}
			r.files["checksums.txt"] = []byte(sums[:i-64] + strings.Repeat("0", 64) + sums[i:])
		}, nil, "sha256 mismatch"},
		{"entry missing, pinned", func(r release) { r.files["checksums.txt"] = dropLine(r.files["checksums.txt"], archive) },
			[]string{"VERSION=" + rel.version}, "no entry for " + archive},
		{"entry missing, latest", func(r release) { r.files["checksums.txt"] = dropLine(r.files["checksums.txt"], archive) },
			nil, "the latest release has no archive for " + runtime.GOOS + "/" + runtime.GOARCH},
		{"entry malformed", func(r release) {
			r.files["checksums.txt"] = bytes.Replace(r.files["checksums.txt"], []byte("  "+archive), []byte("zz  "+archive), 1)
		}, []string{"VERSION=" + rel.version}, "malformed entry"},
		{"archive missing", func(r release) { delete(r.files, archive) }, nil, "not found (HTTP 404)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bad := rel.clone()
			tc.damage(bad)
			srv := serve(t, bad, false)

			s := newSandbox(t)
			r := s.run(runOpts{env: append([]string{"DATAECO_DOWNLOAD_URL=" + srv.url}, tc.env...)})
			wantExit(t, r, 1, tc.stderr)
			s.wantNothingInstalled(r)

			// With an older dataeco installed, it is left untouched.
			s = newSandbox(t)
			old := "#!/bin/sh\necho '{\"version\":\"0.0.1\"}'\n"
			if err := os.MkdirAll(filepath.Dir(s.bin()), 0o755); err != nil {
				t.Fatal(err)
			}
			s.write(s.bin(), old, 0o755)
			r = s.run(runOpts{env: append([]string{"DATAECO_DOWNLOAD_URL=" + srv.url}, tc.env...)})
			wantExit(t, r, 1, tc.stderr)
			if b, err := os.ReadFile(s.bin()); err != nil || string(b) != old {
				t.Errorf("a failed run changed the installed binary (%v)", err)
			}
			if left, _ := os.ReadDir(filepath.Dir(s.bin())); len(left) != 1 {
				t.Errorf("a failed run left files next to the binary: %v", left)
			}
		})
	}
}

func dropLine(b []byte, name string) []byte {
	var keep []string
	for _, l := range strings.SplitAfter(string(b), "\n") {
		if !strings.HasSuffix(strings.TrimSpace(l), "  "+name) {
			keep = append(keep, l)
		}
	}
	return []byte(strings.Join(keep, ""))
}

func TestInstallScriptUnknownVersion(t *testing.T) {
	t.Parallel()
	rel := fakeRelease(t, "1.4.0")
	srv := serve(t, rel, false)
	s := newSandbox(t)
	r := s.run(runOpts{env: []string{"DATAECO_DOWNLOAD_URL=" + srv.url, "VERSION=9.9.9"}})
	wantExit(t, r, 1, "there is no release v9.9.9", "not found (HTTP 404)", "see "+srv.url+" for the versions")
	s.wantNothingInstalled(r)
	if got := srv.took(); !slices.Equal(got, []string{"/releases/download/v9.9.9/checksums.txt"}) {
		t.Errorf("requests %q", got)
	}

	for _, v := range []string{"1.0;rm -rf", "../1.0", "1.0 2.0"} {
		r = s.run(runOpts{env: []string{"DATAECO_DOWNLOAD_URL=" + srv.url, "VERSION=" + v}})
		wantExit(t, r, 2, "is not a version")
	}
	if got := srv.took(); len(got) != 0 {
		t.Errorf("a malformed VERSION made requests: %q", got)
	}
}

// TestInstallScriptPlatforms stubs uname (and sysctl, for Rosetta) and checks which archive
// is installed, or that the platform is refused before anything is downloaded.
func TestInstallScriptPlatforms(t *testing.T) {
	t.Parallel()
	rel := fakeRelease(t, "1.4.0")
	for _, tc := range []struct {
		unameS, unameM, translated string
		archive                    string // installed archive, or "" when refused
		stderr                     string
	}{
		{"Linux", "x86_64", "", "linux_amd64", "(linux/amd64)"},
		{"Linux", "amd64", "", "linux_amd64", ""},
		{"Linux", "aarch64", "", "linux_arm64", "(linux/arm64)"},
		{"Linux", "arm64", "", "linux_arm64", ""},
		{"Darwin", "arm64", "", "darwin_arm64", "(darwin/arm64)"},
		{"Darwin", "x86_64", "1", "darwin_arm64", "(darwin/arm64)"}, // a shell under Rosetta 2
		{"Darwin", "x86_64", "0", "darwin_amd64", "(darwin/amd64)"},
		{"Darwin", "x86_64", "", "darwin_amd64", ""}, // Intel Macs have no sysctl.proc_translated
		{"Linux", "armv7l", "", "", "unsupported CPU architecture: armv7l"},
		{"Linux", "i686", "", "", "unsupported CPU architecture: i686"},
		{"Linux", "riscv64", "", "", "dataeco is built for amd64 (x86_64) and arm64 (aarch64) only"},
		{"FreeBSD", "amd64", "", "", "unsupported operating system: FreeBSD"},
		{"MINGW64_NT-10.0-19045", "x86_64", "", "", "does not install on Windows"},
	} {
		t.Run(tc.unameS+"_"+tc.unameM+"_"+tc.translated, func(t *testing.T) {
			t.Parallel()
			srv := serve(t, rel, false)
			s := newSandbox(t)
			s.stubPlatform(tc.unameS, tc.unameM, tc.translated)
			r := s.run(runOpts{env: []string{"DATAECO_DOWNLOAD_URL=" + srv.url}})
			if tc.archive == "" {
				wantExit(t, r, 1, tc.stderr)
				s.wantNothingInstalled(r)
				if got := srv.took(); len(got) != 0 {
					t.Errorf("a refused platform made requests: %q", got)
				}
				return
			}
			wantExit(t, r, 0, tc.stderr)
			b, err := os.ReadFile(s.bin())
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), "fake dataeco for "+tc.archive+"\n") {
				t.Errorf("installed the wrong archive, want %s:\n%s", tc.archive, b)
			}
		})
	}
}

// TestInstallScriptRunInstall covers --install: with --yes, on a pipe with no terminal, and
// the exit code of `dataeco install` passed on.
func TestInstallScriptRunInstall(t *testing.T) {
	t.Parallel()
	rel := fakeRelease(t, "1.4.0")
	script, err := os.ReadFile("install.sh")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		opts   runOpts
		args   []string
		code   int
		calls  string // what the fake dataeco was called with
		stderr []string
	}{
		{"yes flag", runOpts{}, []string{"--install", "--yes"}, 0, "install --yes (notty)\n", []string{"running: dataeco install --yes"}},
		{"piped, env", runOpts{stdin: script, env: []string{"DATAECO_RUN=install", "DATAECO_YES=1"}}, nil, 0, "install --yes (notty)\n", nil},
		{"piped, flags", runOpts{stdin: script}, []string{"--install", "-y"}, 0, "install --yes (notty)\n", nil},
		{"exit code passed on", runOpts{env: []string{"FAKE_EXIT=3"}}, []string{"--install", "--yes"}, 3, "install --yes (notty)\n", nil},
		{"piped, no terminal", runOpts{stdin: script}, []string{"--install"}, 2, "",
			[]string{"no terminal to answer", "pass --yes", "sh -s -- --install --yes"}},
		{"no terminal, env", runOpts{env: []string{"DATAECO_RUN=install"}}, nil, 2, "", []string{"pass --yes"}},
		{"without --install", runOpts{stdin: script}, nil, 0, "", []string{"next: dataeco install"}},
		{"bad DATAECO_RUN", runOpts{env: []string{"DATAECO_RUN=uninstall"}}, nil, 2, "", []string{"DATAECO_RUN=uninstall"}},
		{"unknown flag", runOpts{}, []string{"--instal"}, 2, "", []string{"unknown option: --instal"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := serve(t, rel, false)
			s := newSandbox(t)
			tc.opts.env = append(tc.opts.env, "DATAECO_DOWNLOAD_URL="+srv.url)
			r := s.run(tc.opts, tc.args...)
			wantExit(t, r, tc.code, tc.stderr...)
			calls, _ := os.ReadFile(filepath.Join(s.home, "dataeco-calls"))
			if string(calls) != tc.calls {
				t.Errorf("dataeco was called with %q, want %q", calls, tc.calls)
			}
			if tc.code == 2 && tc.calls == "" && strings.Contains(tc.name, "terminal") {
				if _, err := os.Stat(s.bin()); err != nil {
					t.Errorf("with no terminal for install's questions, the binary should still be installed: %v", err)
				}
			}
		})
	}
}

// TestInstallScriptPipedNoTerminal is curl | sh -s -- --install with the real binary and no
// terminal anywhere: it must finish at once, installed, saying to pass --yes.
func TestInstallScriptPipedNoTerminal(t *testing.T) {
	t.Parallel()
	rel := realRelease(t)
	srv := serve(t, rel, false)
	script, err := os.ReadFile("install.sh")
	if err != nil {
		t.Fatal(err)
	}
	s := newSandbox(t)
	r := s.run(runOpts{stdin: script, env: []string{"DATAECO_DOWNLOAD_URL=" + srv.url}}, "--install")
	wantExit(t, r, 2, "pass --yes")
	if r.took > time.Minute {
		t.Errorf("took %s", r.took)
	}
	if got := installedVersion(t, s.bin()); got != rel.version {
		t.Errorf("installed version %q, want %q", got, rel.version)
	}
	if _, err := os.Stat(filepath.Join(s.home, ".dataeco")); err == nil {
		t.Errorf("dataeco install ran (~/.dataeco exists)")
	}
}

// TestInstallScriptTruncated runs prefixes of the script, as a download cut short would
// give sh: none may run anything, not even uname.
func TestInstallScriptTruncated(t *testing.T) {
	t.Parallel()
	rel := fakeRelease(t, "1.4.0")
	srv := serve(t, rel, false)
	script, err := os.ReadFile("install.sh")
	if err != nil {
		t.Fatal(err)
	}
	last := bytes.LastIndexByte(bytes.TrimRight(script, "\n"), '\n') + 1
	var cuts []int
	for i := 0; i < last; i++ {
		if script[i] == '\n' || i%97 == 0 {
			cuts = append(cuts, i)
		}
	}
	for i := last; i < len(bytes.TrimRight(script, "\n")); i++ {
		cuts = append(cuts, i) // every cut in the last line
	}
	s := newSandbox(t)
	s.stubPlatform("Linux", "x86_64", "")
	for _, cut := range cuts {
		r := s.run(runOpts{stdin: script[:cut], env: []string{"DATAECO_DOWNLOAD_URL=" + srv.url}}, "--install", "--yes")
		if got := s.log("uname"); got != "" {
			t.Fatalf("the script cut after %d bytes (%q) ran:\n%s", cut, script[max(0, cut-20):cut], r)
		}
		if entries, _ := os.ReadDir(s.home); len(entries) != 0 {
			t.Fatalf("the script cut after %d bytes wrote %s in HOME:\n%s", cut, entries[0].Name(), r)
		}
	}
	if got := srv.took(); len(got) != 0 {
		t.Errorf("truncated scripts made requests: %q", got)
	}
	// The whole script does run.
	r := s.run(runOpts{stdin: script, env: []string{"DATAECO_DOWNLOAD_URL=" + srv.url}})
	wantExit(t, r, 0)
	if s.log("uname") == "" {
		t.Errorf("the whole script did not run uname")
	}
	t.Logf("%d cuts", len(cuts))
}

// TestInstallScriptTools runs with a PATH holding only the commands install.sh needs, with
// each downloader and each sha256 tool, and without them.
func TestInstallScriptTools(t *testing.T) {
	t.Parallel()
	rel := fakeRelease(t, "1.4.0")
	base := []string{"sh", "uname", "tar", "gzip", "mktemp", "awk", "sed", "grep", "rm", "mkdir", "cp", "chmod", "mv", "dirname", "id", "cat"}
	for _, tc := range []struct {
		name  string
		tools []string
		env   []string
		code  int
		want  string
	}{
		{"curl and sha256sum", []string{"curl", "sha256sum"}, nil, 0, "installed dataeco 1.4.0"},
		{"wget and shasum", []string{"wget", "shasum"}, nil, 0, "installed dataeco 1.4.0"},
		{"wget, unknown version", []string{"wget", "sha256sum"}, []string{"VERSION=9.9.9"}, 1, "there is no release v9.9.9"},
		{"no sha256 tool", []string{"curl"}, nil, 1, "neither sha256sum nor shasum"},
		{"no downloader", []string{"sha256sum"}, nil, 1, "neither curl nor wget"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := serve(t, rel, false)
			s := newSandbox(t)
			farm := filepath.Join(s.root, "farm")
			if err := os.Mkdir(farm, 0o755); err != nil {
				t.Fatal(err)
			}
			for _, tool := range append(slices.Clone(base), tc.tools...) {
				p, err := exec.LookPath(tool)
				if err != nil {
					if os.Getenv("CI") == "true" {
						t.Fatalf("%s is not installed (.ci/run installs it)", tool)
					}
					t.Skipf("%s is not installed", tool)
				}
				if err := os.Symlink(p, filepath.Join(farm, tool)); err != nil {
					t.Fatal(err)
				}
			}
			r := s.run(runOpts{path: farm, env: append([]string{"DATAECO_DOWNLOAD_URL=" + srv.url}, tc.env...)})
			wantExit(t, r, tc.code, tc.want)
			if tc.code != 0 {
				s.wantNothingInstalled(r)
				if tc.name != "wget, unknown version" && len(srv.took()) != 0 {
					t.Errorf("downloaded before finding out it could not check the download")
				}
			}
		})
	}
}

// TestInstallScriptInstallDir covers INSTALL_DIR and the PATH advice for each shell.
func TestInstallScriptInstallDir(t *testing.T) {
	t.Parallel()
	rel := fakeRelease(t, "1.4.0")
	srv := serve(t, rel, false)
	t.Run("on PATH", func(t *testing.T) {
		t.Parallel()
		s := newSandbox(t)
		dir := filepath.Join(s.home, "bin")
		r := s.run(runOpts{env: []string{"DATAECO_DOWNLOAD_URL=" + srv.url, "INSTALL_DIR=" + dir + "/"},
			path: dir + ":" + s.stubs + ":" + os.Getenv("PATH")})
		wantExit(t, r, 0, "to "+dir+"/dataeco\n")
		if strings.Contains(r.stderr, "not on your PATH") {
			t.Errorf("advised adding a dir that is on PATH:\n%s", r)
		}
	})
	t.Run("relative", func(t *testing.T) {
		t.Parallel()
		s := newSandbox(t)
		r := s.run(runOpts{env: []string{"DATAECO_DOWNLOAD_URL=" + srv.url, "INSTALL_DIR=tools/bin"}})
		wantExit(t, r, 0)
		if _, err := os.Stat(filepath.Join(s.home, "tools", "bin", "dataeco")); err != nil {
			t.Errorf("INSTALL_DIR=tools/bin is relative to the working dir: %v\n%s", err, r)
		}
	})
	t.Run("shadowed", func(t *testing.T) {
		t.Parallel()
		s := newSandbox(t)
		s.stub("dataeco", "exit 0")
		r := s.run(runOpts{env: []string{"DATAECO_DOWNLOAD_URL=" + srv.url},
			path: s.stubs + ":" + filepath.Dir(s.bin()) + ":" + os.Getenv("PATH")})
		wantExit(t, r, 0, "note: "+s.stubs+"/dataeco comes first on your PATH")
	})
	for shell, advice := range map[string]string{
		"/bin/bash":     ">> \"HOME/.bashrc\"",
		"/usr/bin/zsh":  ">> \"HOME/.zshrc\"",
		"/bin/dash":     ">> \"HOME/.profile\"",
		"/usr/bin/fish": "fish_add_path HOME/.local/bin",
	} {
		t.Run(filepath.Base(shell), func(t *testing.T) {
			t.Parallel()
			s := newSandbox(t)
			r := s.run(runOpts{env: []string{"DATAECO_DOWNLOAD_URL=" + srv.url, "SHELL=" + shell}})
			wantExit(t, r, 0, "is not on your PATH", strings.ReplaceAll(advice, "HOME", s.home))
		})
	}
}

// TestInstallScriptUnwritable runs as a user who cannot write the directory: for the default
// ~/.local/bin it fails without sudo; for an INSTALL_DIR the user named it turns to sudo.
func TestInstallScriptUnwritable(t *testing.T) {
	t.Parallel()
	rel := fakeRelease(t, "1.4.0")
	newLockedSandbox := func(t *testing.T) (*sandbox, *server, string) {
		srv := serve(t, rel, false)
		s := newSandbox(t)
		locked := filepath.Join(s.root, "locked")
		if err := os.Mkdir(locked, 0o755); err != nil {
			t.Fatal(err)
		}
		if os.Geteuid() == 0 {
			// root writes everywhere: run as nobody, who owns HOME and TMPDIR but not locked.
			s.nobody = true
			for _, d := range []string{s.root, s.home, s.tmp} {
				if err := os.Chown(d, 65534, 65534); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Chown(s.root, 0, 0); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(s.root, 0o777); err != nil { // for the stubs' logs
				t.Fatal(err)
			}
		} else if err := os.Chmod(locked, 0o555); err != nil {
			t.Fatal(err)
		}
		return s, srv, locked
	}
	t.Run("named dir: sudo", func(t *testing.T) {
		t.Parallel()
		s, srv, locked := newLockedSandbox(t)
		dir := filepath.Join(locked, "bin")
		r := s.run(runOpts{env: []string{"DATAECO_DOWNLOAD_URL=" + srv.url, "INSTALL_DIR=" + dir}})
		wantExit(t, r, 1, dir+" is not writable by you: sudo will ask for your password", "cannot create "+dir)
		if got := s.log("sudo"); got != "sudo mkdir -p "+dir+"\n" {
			t.Errorf("sudo calls %q", got)
		}
		if _, err := os.Stat(dir); err == nil {
			t.Errorf("%s was created", dir)
		}
	})
	t.Run("named dir: no sudo", func(t *testing.T) {
		t.Parallel()
		s, srv, locked := newLockedSandbox(t)
		dir := filepath.Join(locked, "bin")
		os.Remove(filepath.Join(s.stubs, "sudo"))
		farm := filepath.Join(s.root, "farm")
		if err := os.Mkdir(farm, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, tool := range []string{"sh", "uname", "tar", "gzip", "mktemp", "awk", "sed", "grep", "rm", "mkdir", "cp", "chmod", "mv", "dirname", "id", "curl", "sha256sum"} {
			p, err := exec.LookPath(tool)
			if err != nil {
				t.Skipf("%s is not installed", tool)
			}
			if err := os.Symlink(p, filepath.Join(farm, tool)); err != nil {
				t.Fatal(err)
			}
		}
		r := s.run(runOpts{path: farm, env: []string{"DATAECO_DOWNLOAD_URL=" + srv.url, "INSTALL_DIR=" + dir}})
		wantExit(t, r, 1, "cannot write to "+dir+", and sudo is not installed")
		if got := srv.took(); len(got) != 0 {
			t.Errorf("downloaded before finding out it could not install: %q", got)
		}
	})
	t.Run("default dir: never sudo", func(t *testing.T) {
		t.Parallel()
		s, srv, locked := newLockedSandbox(t)
		s.home = locked // a HOME the user cannot write
		r := s.run(runOpts{env: []string{"DATAECO_DOWNLOAD_URL=" + srv.url}})
		wantExit(t, r, 1, "cannot write to "+locked+"/.local/bin", "set INSTALL_DIR")
		if got := s.log("sudo"); got != "" {
			t.Errorf("sudo was used for the default dir: %q", got)
		}
	})
}
