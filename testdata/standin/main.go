// Command standin is a multi-call binary that impersonates, just well
// enough for end-to-end tests, the server processes and command-line tools
// of the images that dataeco installs: Confluent ZooKeeper, Server, Schema
// Registry and Control Center, PostgreSQL, Airflow 3, Spark and Cassandra.
//
// It exists because the machines that run dataeco's end-to-end tests cannot
// reach any image registry. build.sh packs this binary with a static busybox
// into FROM-scratch images, pushes them to a local registry under the real
// repository names and tags, and `dataeco install --registry ...` then pulls
// and runs them for real: the compose file, the health checks, the
// published ports, the volumes and the start order are exercised against
// processes that speak the same ports and answer the same probes as the real
// ones, in a few megabytes instead of several gigabytes.
//
// The binary decides what to be from the name it was called by (argv[0]):
// the image entrypoints (/etc/confluent/docker/run, docker-entrypoint.sh,
// /entrypoint, /opt/spark/bin/spark-class, /opt/entrypoint.sh) start the
// server of the role named by $STANDIN_ROLE, and curl, cub, kafka-topics,
// cqlsh, psql, pg_isready, airflow, nodetool, pip and spark-submit are small
// fake clients for it. Called as
// "standin TOOL ARGS..." it behaves as TOOL. See README.md for the contract.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	os.Exit(dispatch(os.Args))
}

// tools maps the names the binary can be called by to their main functions.
// Server entrypoints are included: which server they start depends on
// $STANDIN_ROLE.
var tools map[string]func(args []string) int

func init() {
	tools = map[string]func(args []string) int{
		"curl":                 curlMain,
		"cub":                  cubMain,
		"cqlsh":                cqlshMain,
		"nodetool":             nodetoolMain,
		"psql":                 psqlMain,
		"pg_isready":           pgIsReadyMain,
		"airflow":              airflowToolMain,
		"python":               airflowPythonMain, // the Airflow image's, for job_alive.py
		"kafka-topics":         kafkaTopicsMain,
		"pip":                  pipMain,
		"pip3":                 pipMain,
		"spark-submit":         sparkSubmitMain,  // /opt/spark/bin/spark-submit
		"run":                  confluentRunMain, // /etc/confluent/docker/run
		"docker-entrypoint.sh": dockerEntrypointMain,
		"entrypoint":           airflowEntrypointMain, // /entrypoint
		"entrypoint.sh":        sparkEntrypointMain,   // /opt/entrypoint.sh
		"spark-class":          sparkClassMain,        // /opt/spark/bin/spark-class
		"serve":                serveMain,
	}
}

func dispatch(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "standin: no argv[0]")
		return 2
	}
	name := filepath.Base(args[0])
	if name == "standin" {
		if len(args) < 2 {
			fmt.Fprintln(os.Stderr, "usage: standin TOOL [ARGS...]; tools:", toolNames())
			return 2
		}
		name, args = filepath.Base(args[1]), args[1:]
	}
	fn, ok := tools[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "standin: unknown tool %q; tools: %s\n", name, toolNames())
		return 127
	}
	return fn(args[1:])
}

func toolNames() string {
	var names []string
	for n := range tools {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, " ")
}

// serveMain starts the server of $STANDIN_ROLE (or of the role given as the
// first argument) with the role's default arguments. It is a debugging aid.
func serveMain(args []string) int {
	role := os.Getenv("STANDIN_ROLE")
	if len(args) > 0 {
		role, args = args[0], args[1:]
	}
	switch role {
	case "zookeeper", "broker", "schema-registry", "control-center":
		os.Setenv("STANDIN_ROLE", role)
		return confluentRunMain(args)
	case "postgres":
		return postgresMain(args)
	case "cassandra":
		return cassandraMain(args)
	case "airflow":
		return airflowEntrypointMain(args)
	case "spark":
		return sparkClassMain(args)
	}
	fmt.Fprintf(os.Stderr, "standin: serve: unknown role %q\n", role)
	return 2
}

// ---------------------------------------------------------------------------
// Logging and process lifecycle shared by every server role.

var (
	logMu     sync.Mutex
	logOut    io.Writer = os.Stdout
	logPrefix           = "standin"
)

// logf writes one timestamped line to stdout, which is what `docker logs`
// shows.
func logf(format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	logMu.Lock()
	defer logMu.Unlock()
	fmt.Fprintf(logOut, "%s [%s] %s\n", time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), logPrefix, msg)
}

// fatalf reports a start-up failure the way the real images do: on stderr.
func fatalf(format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	fmt.Fprintln(os.Stderr, msg)
}

// exitError carries a process exit code through a server's body function.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func exitWith(code int, format string, a ...any) error {
	return &exitError{code: code, msg: fmt.Sprintf(format, a...)}
}

// unhealthy reports whether the STANDIN_UNHEALTHY knob is set.
func unhealthy() bool {
	v := strings.ToLower(strings.TrimSpace(os.Getenv("STANDIN_UNHEALTHY")))
	return v != "" && v != "0" && v != "false" && v != "no"
}

// processStart is when this process began: STANDIN_READY_AFTER counts from it.
var processStart = time.Now()

// readyAfter is the STANDIN_READY_AFTER knob: how long after its start the server's health
// answers keep failing (0 when unset).
func readyAfter() time.Duration {
	d, err := time.ParseDuration(strings.TrimSpace(os.Getenv("STANDIN_READY_AFTER")))
	if err != nil {
		return 0
	}
	return d
}

// notReady reports whether a server's health answer must fail now: the STANDIN_UNHEALTHY
// knob, or STANDIN_READY_AFTER not yet elapsed since the server started.
func notReady() bool {
	return unhealthy() || time.Since(processStart) < readyAfter()
}

const unhealthyMsg = "standin: unhealthy by STANDIN_UNHEALTHY"

// failUnhealthy prints the knob's message for a fake tool and reports
// whether the tool must exit 1.
func failUnhealthy() bool {
	if unhealthy() {
		fmt.Fprintln(os.Stderr, unhealthyMsg)
		return true
	}
	return false
}

// recordStart appends a timestamped line to DIR/starts.log, the evidence
// that a data directory (volume) survived a container's recreation.
func recordStart(dir, role string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(dir, "starts.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	_, err = fmt.Fprintf(f, "%s %s started on %s pid %d\n", time.Now().UTC().Format(time.RFC3339Nano), role, host, os.Getpid())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// runServer is the common life of every server role: log the start, record
// it in the data directory, honour the failure knobs, then run body until
// it fails or SIGTERM/SIGINT arrives. A signal makes the process exit 0
// within a second even if body does not return in time.
func runServer(role, dataDir string, body func(ctx context.Context) error) int {
	logPrefix = "standin " + role
	host, _ := os.Hostname()
	logf("starting %s (image %s, version %s) on %s, pid %d", role, envOr("STANDIN_IMAGE", "?"), envOr("STANDIN_VERSION", "?"), host, os.Getpid())
	if dataDir != "" {
		if err := recordStart(dataDir, role); err != nil {
			logf("warning: cannot record start in %s: %v", dataDir, err)
		}
	}
	if v := os.Getenv("STANDIN_EXIT_CODE"); v != "" {
		code, err := strconv.Atoi(v)
		if err != nil {
			code = 1
		}
		logf("exiting with code %d because STANDIN_EXIT_CODE=%s", code, v)
		fatalf("standin: exiting with code %d by STANDIN_EXIT_CODE", code)
		return code
	}
	if unhealthy() {
		logf("STANDIN_UNHEALTHY is set: health answers will fail")
	}
	if d := readyAfter(); d > 0 {
		logf("STANDIN_READY_AFTER=%s: health answers fail until %s", d, processStart.Add(d).UTC().Format("15:04:05.000"))
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT)
	go func() {
		s := <-sigs
		logf("received %v, shutting down", s)
		cancel()
		time.AfterFunc(800*time.Millisecond, func() {
			logf("exit after %v", s)
			os.Exit(0)
		})
	}()
	if eatMemoryOn() {
		go eatMemory(ctx)
	}

	err := body(ctx)
	if ctx.Err() != nil {
		logf("stopped")
		return 0
	}
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fatalf("%s", ee.msg)
			first, _, _ := strings.Cut(ee.msg, "\n")
			logf("exit %d: %s", ee.code, first)
		}
		return ee.code
	}
	fatalf("%s: %v", role, err)
	logf("fatal: %v", err)
	return 1
}

func eatMemoryOn() bool {
	v := os.Getenv("STANDIN_EAT_MEMORY")
	return v != "" && v != "0" && v != "false"
}

// eatMemory allocates and touches memory in 16 MiB steps until the process
// is killed, so that a container with a small mem_limit gets OOM-killed.
func eatMemory(ctx context.Context) {
	debug.SetGCPercent(-1)
	var hoard [][]byte
	total := 0
	for ctx.Err() == nil {
		b := make([]byte, 16<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = byte(i)
		}
		hoard = append(hoard, b)
		total += len(b)
		logf("STANDIN_EAT_MEMORY: holding %d MiB", total>>20)
		time.Sleep(100 * time.Millisecond)
	}
	_ = hoard
}

// ---------------------------------------------------------------------------
// Small helpers.

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func envInt(key string, def int) (int, error) {
	v := strings.TrimSpace(os.Getenv(key))
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%s=%q is not a number", key, v)
	}
	return n, nil
}

// ensureEnv mimics the check of Confluent's `dub ensure VAR`.
func ensureEnv(names ...string) error {
	for _, n := range names {
		if strings.TrimSpace(os.Getenv(n)) == "" {
			return exitWith(1, "%s is required.\nCommand [/usr/local/bin/dub ensure %s] FAILED !", n, n)
		}
	}
	return nil
}

// waitTCP dials any of addrs until one connection succeeds or timeout
// passes. It logs progress every few seconds.
func waitTCP(ctx context.Context, what string, addrs []string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	lastLog := time.Time{}
	for {
		for _, a := range addrs {
			d := net.Dialer{Timeout: time.Second}
			c, err := d.DialContext(ctx, "tcp", a)
			if err == nil {
				c.Close()
				logf("%s is reachable at %s", what, a)
				return nil
			}
			if time.Since(lastLog) > 5*time.Second {
				logf("waiting for %s at %s: %v", what, a, err)
				lastLog = time.Now()
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not reachable at %s after %v", what, strings.Join(addrs, ","), timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// bootstrapAddrs turns a Kafka-style server list ("PLAINTEXT://broker:29092,
// other:9092") into host:port pairs.
func bootstrapAddrs(list string) []string {
	var out []string
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if i := strings.Index(s, "://"); i >= 0 {
			s = s[i+3:]
		}
		if i := strings.Index(s, "/"); i >= 0 { // ZooKeeper chroot
			s = s[:i]
		}
		out = append(out, s)
	}
	return out
}

// listenPort extracts the port of the first listener URL in a list such as
// "http://0.0.0.0:8081,https://0.0.0.0:8082"; def if none.
func listenPort(list string, def int) (int, error) {
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if i := strings.Index(s, "://"); i >= 0 {
			s = s[i+3:]
		}
		s = strings.TrimSuffix(s, "/")
		_, p, err := net.SplitHostPort(s)
		if err != nil {
			return 0, fmt.Errorf("bad listener %q: %v", s, err)
		}
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 65535 {
			return 0, fmt.Errorf("bad listener port in %q", s)
		}
		return n, nil
	}
	return def, nil
}

// serveTCP accepts connections on addr and hands each to handle in its own
// goroutine until ctx is done.
func serveTCP(ctx context.Context, addr, what string, handle func(net.Conn)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	logf("%s listening on %s", what, ln.Addr())
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		go handle(c)
	}
}

// execPassthrough replaces the process with another program, as the real
// entrypoint scripts do with `exec "$@"`.
func execPassthrough(args []string) int {
	path, err := exec.LookPath(args[0])
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", args[0], err)
		return 127
	}
	err = syscall.Exec(path, args, os.Environ())
	fmt.Fprintf(os.Stderr, "exec %s: %v\n", args[0], err)
	return 126
}

func atomicWriteFile(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// versionPrefix turns an image tag such as "3.1.3-python3.12" into "3.1.3".
func versionPrefix(tag, def string) string {
	if tag == "" || tag == "?" || tag == "latest" {
		return def
	}
	if i := strings.IndexByte(tag, '-'); i > 0 {
		tag = tag[:i]
	}
	return tag
}

// toolMessage is an error whose text is a tool's own output, capitals and
// final punctuation included (Python's, Java's and pip's messages).
type toolMessage string

func (m toolMessage) Error() string { return string(m) }

func toolErrorf(format string, a ...any) error { return toolMessage(fmt.Sprintf(format, a...)) }
