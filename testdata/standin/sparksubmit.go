package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Fake spark-submit (/opt/spark/bin/spark-submit of apache/spark). It checks
// what a real submission of a client-mode application to a standalone
// master would trip over (the master URL, the Ivy directory for --packages,
// the application file, the environment the application reads), then
// registers the application with the stand-in master, keeps it alive with
// heartbeats and runs until SIGTERM.

const sparkSubmitUsage = `Usage: spark-submit --master spark://HOST:PORT [options] <app file> [app arguments]
Options the stand-in understands: --name NAME, --packages G:A:V[,...], --conf K=V,
  --deploy-mode client, --total-executor-cores N, --executor-memory MEM; other
  spark-submit options with a value (--class, --jars, --py-files, --files, ...)
  are accepted and ignored.`

type sparkSubmitArgs struct {
	master, name, deployMode string
	packages                 []string
	conf                     map[string]string
	totalCores               int    // --total-executor-cores or spark.cores.max; 0: all
	executorMemory           string // --executor-memory or spark.executor.memory
	appFile                  string
	appArgs                  []string
}

// Options of the real spark-submit that take a value and that the stand-in
// accepts without acting on them.
var sparkSubmitIgnoredValueOpts = map[string]bool{
	"--class": true, "--jars": true, "--py-files": true, "--files": true, "--archives": true,
	"--repositories": true, "--exclude-packages": true, "--properties-file": true,
	"--driver-memory": true, "--driver-java-options": true, "--driver-library-path": true,
	"--driver-class-path": true, "--driver-cores": true, "--executor-cores": true,
	"--num-executors": true, "--proxy-user": true, "--queue": true, "--principal": true, "--keytab": true,
}

func parseSparkSubmitArgs(args []string) (sparkSubmitArgs, error) {
	a := sparkSubmitArgs{conf: map[string]string{}}
	cliName, cliCores, cliMem := "", "", ""
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if !strings.HasPrefix(arg, "-") || arg == "-" {
			a.appFile, a.appArgs = arg, append([]string{}, args[i+1:]...)
			break
		}
		flag, val, hasVal := strings.Cut(arg, "=")
		if !strings.HasPrefix(flag, "--") { // -c K=V is the short form of --conf
			flag, val, hasVal = arg, "", false
		}
		switch flag {
		case "--verbose", "-v", "--supervise":
			continue
		case "--help", "-h", "--version":
			return a, fmt.Errorf("%s is not implemented by the stand-in", flag)
		}
		if !hasVal {
			if i+1 >= len(args) {
				return a, fmt.Errorf("Error: Missing argument for option '%s'.", flag)
			}
			i++
			val = args[i]
		}
		switch flag {
		case "--master":
			a.master = val
		case "--deploy-mode":
			if val != "client" && val != "cluster" {
				return a, fmt.Errorf("Error: Deploy mode must be either client or cluster")
			}
			a.deployMode = val
		case "--name":
			cliName = val
		case "--packages":
			for _, p := range strings.Split(val, ",") {
				p = strings.TrimSpace(p)
				if p == "" {
					continue
				}
				if f := strings.Split(p, ":"); len(f) != 3 || f[0] == "" || f[1] == "" || f[2] == "" {
					return a, fmt.Errorf("Exception in thread \"main\" java.lang.IllegalArgumentException: requirement failed: Provided Maven Coordinates must be in the form 'groupId:artifactId:version'. The coordinate provided is: %s", p)
				}
				a.packages = append(a.packages, p)
			}
		case "--conf", "-c":
			k, v, ok := strings.Cut(val, "=")
			if !ok {
				return a, fmt.Errorf("Error: Spark config without '=': %s", val)
			}
			a.conf[k] = v
		case "--total-executor-cores":
			cliCores = val
		case "--executor-memory":
			cliMem = val
		default:
			if !sparkSubmitIgnoredValueOpts[flag] {
				return a, fmt.Errorf("Error: Unrecognized option: %s", flag)
			}
		}
	}
	if a.appFile == "" {
		return a, fmt.Errorf("Error: Must specify a primary resource (JAR or Python or R file)")
	}
	if a.master == "" {
		a.master = a.conf["spark.master"]
	}
	if a.master == "" {
		return a, fmt.Errorf("Error: the stand-in spark-submit needs --master spark://HOST:PORT (the real one would run local[*])")
	}
	if !strings.HasPrefix(a.master, "spark://") {
		if strings.HasPrefix(a.master, "local") || strings.HasPrefix(a.master, "yarn") || strings.HasPrefix(a.master, "k8s://") || strings.HasPrefix(a.master, "mesos://") {
			return a, fmt.Errorf("Error: the stand-in spark-submit supports only spark://HOST:PORT masters, not %s", a.master)
		}
		return a, fmt.Errorf("Error: Master must either be yarn or start with spark, mesos, k8s, or local")
	}
	if _, err := parseSparkMasterURL(a.master); err != nil {
		return a, fmt.Errorf("Error: %v", err)
	}
	if a.deployMode == "" {
		a.deployMode = envOr("SPARK_SUBMIT_DEPLOY_MODE", a.conf["spark.submit.deployMode"])
	}
	if a.deployMode == "cluster" {
		if strings.HasSuffix(a.appFile, ".py") {
			return a, fmt.Errorf("Error: Cluster deploy mode is currently not supported for python applications on standalone clusters.")
		}
		return a, fmt.Errorf("Error: the stand-in spark-submit supports only --deploy-mode client")
	}
	a.name = cliName
	if a.name == "" {
		a.name = a.conf["spark.app.name"]
	}
	if a.name == "" {
		a.name = filepath.Base(a.appFile)
	}
	if cliCores == "" {
		cliCores = a.conf["spark.cores.max"]
	}
	if cliCores != "" {
		n, err := strconv.Atoi(cliCores)
		if err != nil || n < 1 {
			return a, fmt.Errorf("Error: Total executor cores must be a positive number, not %q", cliCores)
		}
		a.totalCores = n
	}
	a.executorMemory = cliMem
	if a.executorMemory == "" {
		a.executorMemory = envOr("SPARK_EXECUTOR_MEMORY", a.conf["spark.executor.memory"])
	}
	if a.executorMemory == "" {
		a.executorMemory = "1g"
	}
	if _, err := parseSparkMemory(a.executorMemory); err != nil {
		return a, fmt.Errorf("Error: Executor memory %s: %v", a.executorMemory, err)
	}
	return a, nil
}

// javaErrText renders an OS error the way Java's FileNotFoundException
// reason does: "No such file or directory", "Permission denied", ...
func javaErrText(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		s := errno.Error()
		return strings.ToUpper(s[:1]) + s[1:]
	}
	return err.Error()
}

func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// checkIvy does what Ivy's resolution needs of the file system: a writable
// spark.jars.ivy directory (or ~/.ivy2 when --packages is given without
// it). It prints Ivy's banner to w when there are packages.
func checkIvy(a sparkSubmitArgs, home string, w io.Writer) error {
	dir, explicit := a.conf["spark.jars.ivy"]
	if !explicit && len(a.packages) == 0 {
		return nil
	}
	if !explicit {
		if home == "" || home == "/nonexistent" {
			home = "/nonexistent"
		}
		dir = filepath.Join(home, ".ivy2")
	}
	uuid := newUUID()
	resolved := filepath.Join(dir, "cache", "resolved-org.apache.spark-spark-submit-parent-"+uuid+"-1.0.xml")
	if len(a.packages) > 0 {
		fmt.Fprintln(w, ":: loading settings :: url = jar:file:/opt/spark/jars/ivy-2.5.1.jar!/org/apache/ivy/core/settings/ivysettings.xml")
		fmt.Fprintf(w, "Ivy Default Cache set to: %s\n", filepath.Join(dir, "cache"))
		fmt.Fprintf(w, "The jars for the packages stored in: %s\n", filepath.Join(dir, "jars"))
		for _, p := range a.packages {
			g, rest, _ := strings.Cut(p, ":")
			art, _, _ := strings.Cut(rest, ":")
			fmt.Fprintf(w, "%s#%s added as a dependency\n", g, art)
		}
		fmt.Fprintf(w, ":: resolving dependencies :: org.apache.spark#spark-submit-parent-%s;1.0\n\tconfs: [default]\n", uuid)
	}
	fail := func(err error) error {
		return fmt.Errorf("Exception in thread \"main\" java.io.FileNotFoundException: %s (%s)", resolved, javaErrText(err))
	}
	if !explicit && (home == "/nonexistent") {
		return fail(syscall.ENOENT)
	}
	for _, d := range []string{filepath.Join(dir, "cache"), filepath.Join(dir, "jars")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fail(err)
		}
	}
	body := fmt.Sprintf("stand-in spark-submit %s\npackages: %s\n", time.Now().UTC().Format(time.RFC3339), strings.Join(a.packages, ","))
	if err := os.WriteFile(resolved, []byte(body), 0o644); err != nil {
		return fail(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "standin-spark-submit.marker"), []byte(body), 0o644); err != nil {
		return fail(err)
	}
	return nil
}

// checkAppFile fails as the real launcher does when the primary resource is
// missing: python3's message for Python files, Spark's for JARs.
func checkAppFile(a sparkSubmitArgs) error {
	path := strings.TrimPrefix(a.appFile, "file://")
	if strings.Contains(path, "://") {
		return nil // remote resources are not checked
	}
	st, err := os.Stat(path)
	if err == nil && !st.IsDir() {
		return nil
	}
	if strings.HasSuffix(path, ".py") {
		if err == nil {
			return fmt.Errorf("python3: can't find '__main__' module in '%s'", path)
		}
		return fmt.Errorf("python3: can't open file '%s': [Errno 2] No such file or directory", path)
	}
	return fmt.Errorf("Warning: Local jar %s does not exist, skipping.\nError: Cannot load main class from JAR file:%s", path, path)
}

// requiredAppEnv lists the environment variables the application reads:
// CASSANDRA_USER and CASSANDRA_PASSWORD for dataeco's stream_users.py, plus
// any named in STANDIN_REQUIRE_ENV (comma-separated).
func requiredAppEnv(appFile, extra string) []string {
	var names []string
	if filepath.Base(appFile) == "stream_users.py" {
		names = append(names, "CASSANDRA_USER", "CASSANDRA_PASSWORD")
	}
	for _, n := range strings.Split(extra, ",") {
		if n = strings.TrimSpace(n); n != "" {
			names = append(names, n)
		}
	}
	return names
}

func checkAppEnv(a sparkSubmitArgs, getenv func(string) string) error {
	for _, n := range requiredAppEnv(a.appFile, getenv("STANDIN_REQUIRE_ENV")) {
		if strings.TrimSpace(getenv(n)) == "" {
			return fmt.Errorf("%s: the application needs the environment variable %s, which is unset or empty\nTraceback (most recent call last):\n  File \"%s\", in <module>\nKeyError: '%s'",
				filepath.Base(a.appFile), n, a.appFile, n)
		}
	}
	return nil
}

// sparkSubmitPreflight runs the checks of a submission in the order the
// real one meets them: Ivy (before the driver starts), the application
// file, then the environment the application reads.
func sparkSubmitPreflight(a sparkSubmitArgs, stderr io.Writer) error {
	if err := checkIvy(a, os.Getenv("HOME"), stderr); err != nil {
		return err
	}
	if err := checkAppFile(a); err != nil {
		return err
	}
	return checkAppEnv(a, os.Getenv)
}

func sparkSubmitMain(args []string) int {
	a, err := parseSparkSubmitArgs(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%v\n\n%s\n", err, sparkSubmitUsage)
		return 1
	}
	if failUnhealthy() {
		return 1
	}
	return runServer("spark-submit", "", func(ctx context.Context) error {
		if err := sparkSubmitPreflight(a, os.Stderr); err != nil {
			return exitWith(1, "%v", err)
		}
		return sparkSubmitRun(ctx, a)
	})
}

// sparkSubmitConnectTimeout is how long the driver tries to reach the
// master at start; tests shorten it.
var sparkSubmitConnectTimeout = 60 * time.Second

// sparkDriver is the state of a running stand-in application.
type sparkDriver struct {
	a        sparkSubmitArgs
	masters  []string
	appID    string
	register func(id string) string
	hbEvery  time.Duration
	logEvery time.Duration
}

func sparkSubmitRun(ctx context.Context, a sparkSubmitArgs) error {
	masters, _ := parseSparkMasterURL(a.master)
	memMB, _ := parseSparkMemory(a.executorMemory)
	user := envOr("SPARK_USER", "spark")
	name := strings.Join(strings.Fields(a.name), " ")
	if name == "" {
		name = "unnamed"
	}
	d := &sparkDriver{
		a:       a,
		masters: masters,
		register: func(id string) string {
			if id == "" {
				id = "-"
			}
			return fmt.Sprintf("APP %s %d %d %s %s", id, a.totalCores, memMB, user, name)
		},
		hbEvery:  5 * time.Second,
		logEvery: time.Minute,
	}
	logf("Running Spark version %s (stand-in), application %s, master %s", versionPrefix(os.Getenv("STANDIN_VERSION"), "3.5.8"), a.name, a.master)
	return d.run(ctx)
}

// run connects to the master, registers the application and heartbeats
// until ctx ends. A lost connection is retried without end; a master that
// cannot be reached at all within sparkSubmitConnectTimeout of the start
// fails the submission.
func (d *sparkDriver) run(ctx context.Context) error {
	start := time.Now()
	attempt := 0
	lastLog := time.Now()
	var lastWarn time.Time
	for {
		addr := d.masters[attempt%len(d.masters)]
		attempt++
		err := d.session(ctx, addr, &lastLog)
		if ctx.Err() != nil {
			d.end(addr)
			return nil
		}
		if d.appID == "" && time.Since(start) > sparkSubmitConnectTimeout {
			logf("ERROR StandaloneSchedulerBackend: Application has been killed. Reason: All masters are unresponsive! Giving up.")
			return exitWith(1, "ERROR StandaloneAppClient$ClientEndpoint: Failed to connect to master %s: %v\nERROR SparkContext: Error initializing SparkContext.\njava.lang.IllegalStateException: Cannot call methods on a stopped SparkContext. (All masters are unresponsive! Giving up.)",
				strings.Join(d.masters, ","), err)
		}
		if time.Since(lastWarn) >= 5*time.Second { // one warning per 5 s of retries
			lastWarn = time.Now()
			if d.appID == "" {
				logf("WARN StandaloneAppClient$ClientEndpoint: Failed to connect to master %s: %v; retrying", addr, err)
			} else {
				logf("WARN StandaloneAppClient$ClientEndpoint: Connection to master %s lost: %v; reconnecting", addr, err)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

// session is one connection to a master: register, then heartbeat.
func (d *sparkDriver) session(ctx context.Context, addr string, lastLog *time.Time) error {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	r := bufio.NewReader(c)
	ask := func(line string) (string, error) {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(c, line+"\n"); err != nil {
			return "", err
		}
		reply, err := r.ReadString('\n')
		return strings.TrimSpace(reply), err
	}
	reply, err := ask(d.register(d.appID))
	if err != nil {
		return err
	}
	id, ok := strings.CutPrefix(reply, "APP_REGISTERED ")
	if !ok {
		return fmt.Errorf("master refused the application: %s", reply)
	}
	if d.appID == "" {
		logf("Connected to Spark cluster with app ID %s", id)
	} else {
		logf("Registered again with master %s as %s", addr, id)
	}
	d.appID = id
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(d.hbEvery):
		}
		reply, err := ask("APP_HEARTBEAT " + d.appID)
		if err != nil {
			return err
		}
		if reply == "UNKNOWN" {
			return fmt.Errorf("master %s no longer knows application %s", addr, d.appID)
		}
		if time.Since(*lastLog) >= d.logEvery {
			*lastLog = time.Now()
			logf("application %s (%s) running on %s", d.a.name, d.appID, addr)
		}
	}
}

// end tells the master the application finished, within half a second.
func (d *sparkDriver) end(addr string) {
	if d.appID == "" {
		return
	}
	c, err := net.DialTimeout("tcp", addr, 300*time.Millisecond)
	if err != nil {
		return
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	io.WriteString(c, "APP_END "+d.appID+"\n")
	bufio.NewReader(c).ReadString('\n')
	logf("Successfully stopped SparkContext (application %s)", d.appID)
}
