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
	"regexp"
	"sort"
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
       spark-submit --master local[N] --packages G:A:V[,...] [--conf spark.jars.ivy=DIR] <file.py>
Options the stand-in understands: --name NAME, --packages G:A:V[,...], --jars JAR[,...],
  --conf K=V, --deploy-mode client, --total-executor-cores N, --executor-memory MEM;
  other spark-submit options with a value (--class, --py-files, --files, ...)
  are accepted and ignored. A local master only resolves the packages.`

type sparkSubmitArgs struct {
	master, name, deployMode string
	local                    bool // local[N] master: resolve the packages only
	packages                 []string
	jars                     []string // --jars and spark.jars
	conf                     map[string]string
	totalCores               int    // --total-executor-cores or spark.cores.max; 0: all
	executorMemory           string // --executor-memory or spark.executor.memory
	appFile                  string
	appArgs                  []string
}

// Options of the real spark-submit that take a value and that the stand-in
// accepts without acting on them.
var sparkSubmitIgnoredValueOpts = map[string]bool{
	"--class": true, "--py-files": true, "--files": true, "--archives": true,
	"--repositories": true, "--exclude-packages": true, "--properties-file": true,
	"--driver-memory": true, "--driver-java-options": true, "--driver-library-path": true,
	"--driver-class-path": true, "--driver-cores": true, "--executor-cores": true,
	"--num-executors": true, "--proxy-user": true, "--queue": true, "--principal": true, "--keytab": true,
}

var sparkLocalMasterRe = regexp.MustCompile(`^local(\[(\*|[1-9][0-9]*)(,[0-9]+)?\])?$`)

func parseSparkSubmitArgs(args []string) (sparkSubmitArgs, error) {
	a := sparkSubmitArgs{conf: map[string]string{}}
	cliName, cliCores, cliMem, cliPackages, cliJars := "", "", "", "", ""
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
			cliPackages = val
		case "--jars":
			cliJars = val
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
	if cliPackages == "" {
		cliPackages = a.conf["spark.jars.packages"]
	}
	for _, p := range strings.Split(cliPackages, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if f := strings.Split(p, ":"); len(f) != 3 || f[0] == "" || f[1] == "" || f[2] == "" {
			return a, fmt.Errorf("Exception in thread \"main\" java.lang.IllegalArgumentException: requirement failed: Provided Maven Coordinates must be in the form 'groupId:artifactId:version'. The coordinate provided is: %s", p)
		}
		a.packages = append(a.packages, p)
	}
	for _, list := range []string{cliJars, a.conf["spark.jars"]} {
		for _, j := range strings.Split(list, ",") {
			if j = strings.TrimSpace(j); j != "" {
				a.jars = append(a.jars, j)
			}
		}
	}
	if a.master == "" {
		a.master = a.conf["spark.master"]
	}
	if a.master == "" {
		return a, fmt.Errorf("Error: the stand-in spark-submit needs --master spark://HOST:PORT (the real one would run local[*])")
	}
	switch {
	case strings.HasPrefix(a.master, "spark://"):
		if _, err := parseSparkMasterURL(a.master); err != nil {
			return a, fmt.Errorf("Error: %v", err)
		}
	case strings.HasPrefix(a.master, "local"):
		// What dataeco's Spark image build does: resolve --packages into
		// spark.jars.ivy with a trivial Python application.
		if !sparkLocalMasterRe.MatchString(a.master) {
			return a, toolErrorf("Exception in thread \"main\" org.apache.spark.SparkException: Could not parse Master URL: '%s'", a.master)
		}
		if len(a.packages) == 0 || !strings.HasSuffix(a.appFile, ".py") {
			return a, fmt.Errorf("Error: the stand-in spark-submit supports only spark://HOST:PORT masters, not %s (a local master only to resolve --packages for a .py file)", a.master)
		}
		a.local = true
	case strings.HasPrefix(a.master, "yarn") || strings.HasPrefix(a.master, "k8s://") || strings.HasPrefix(a.master, "mesos://"):
		return a, fmt.Errorf("Error: the stand-in spark-submit supports only spark://HOST:PORT masters, not %s", a.master)
	default:
		return a, fmt.Errorf("Error: Master must either be yarn or start with spark, mesos, k8s, or local")
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
	if a.local {
		return sparkSubmitLocal(a, os.Getenv("HOME"), os.Stdout, os.Stderr)
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

// sparkSubmitLocal is spark-submit with a local[N] master, which dataeco's
// Spark image build runs to resolve --packages into spark.jars.ivy: the
// packages are resolved and retrieved, the application file is checked but
// not run. The failure knobs do not apply: this runs at image build time.
func sparkSubmitLocal(a sparkSubmitArgs, home string, stdout, stderr io.Writer) int {
	if err := checkIvy(a, home, stderr); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if err := checkAppFile(a); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	dir, ok := a.conf["spark.jars.ivy"]
	if !ok {
		dir = filepath.Join(home, ".ivy2")
	}
	fmt.Fprintf(stdout, "standin: spark-submit --master %s: packages resolved into %s; the application %s is not run\n",
		a.master, filepath.Join(dir, "jars"), a.appFile)
	return 0
}

// sparkConnector is a data source that Spark does not ship: an application
// that uses it needs the connector's jar on the classpath.
type sparkConnector struct {
	source   string
	jarParts []string       // a jar whose name contains one of these provides it
	used     *regexp.Regexp // how a Python application names it
	message  string         // Spark's AnalysisException when it is missing
}

var sparkConnectors = []sparkConnector{
	{"org.apache.spark.sql.cassandra", []string{"spark-cassandra-connector_", "spark-cassandra-connector-assembly_"},
		regexp.MustCompile(`["']org\.apache\.spark\.sql\.cassandra["']`),
		"[DATA_SOURCE_NOT_FOUND] Failed to find the data source: org.apache.spark.sql.cassandra. Please find packages at `https://spark.apache.org/third-party-projects.html`."},
	{"kafka", []string{"spark-sql-kafka-0-10_"},
		regexp.MustCompile(`format\(\s*["']kafka["']\s*\)`),
		"Failed to find data source: kafka. Please deploy the application as per the deployment section of Structured Streaming + Kafka Integration Guide."},
}

// sparkAppConnectors lists the connectors a Python application uses, in
// the order its file first names them (dataeco's stream_users.py reads the
// Cassandra table's schema before it subscribes to Kafka). stream_users.py
// needs both even when its text does not say so.
func sparkAppConnectors(appFile string) []sparkConnector {
	if !strings.HasSuffix(appFile, ".py") {
		return nil
	}
	b, _ := os.ReadFile(strings.TrimPrefix(appFile, "file://"))
	type hit struct {
		at int
		c  sparkConnector
	}
	var hits []hit
	for _, c := range sparkConnectors {
		if loc := c.used.FindIndex(b); loc != nil {
			hits = append(hits, hit{loc[0], c})
		}
	}
	sort.Slice(hits, func(i, j int) bool { return hits[i].at < hits[j].at })
	var out []sparkConnector
	for _, h := range hits {
		out = append(out, h.c)
	}
	if len(out) == 0 && filepath.Base(appFile) == "stream_users.py" {
		out = sparkConnectors
	}
	return out
}

// sparkClasspathJars lists the base names of the jars a submission has on
// its classpath: $SPARK_HOME/jars (and /opt/spark/jars), --jars and
// spark.jars (local files that exist, remote URLs), and what --packages
// resolves to.
func sparkClasspathJars(a sparkSubmitArgs) []string {
	var out []string
	dirs := []string{filepath.Join(envOr("SPARK_HOME", "/opt/spark"), "jars")}
	if dirs[0] != "/opt/spark/jars" {
		dirs = append(dirs, "/opt/spark/jars")
	}
	for _, d := range dirs {
		entries, _ := os.ReadDir(d)
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".jar") {
				out = append(out, e.Name())
			}
		}
	}
	for _, j := range a.jars {
		if !strings.Contains(j, "://") || strings.HasPrefix(j, "file://") {
			if _, err := os.Stat(strings.TrimPrefix(j, "file://")); err != nil {
				continue
			}
		}
		out = append(out, filepath.Base(j))
	}
	mods, _ := ivyResolve(a.packages)
	for _, m := range mods {
		out = append(out, m.jarName())
	}
	return out
}

// checkConnectors fails as the application would when a connector it uses
// is not on the classpath: with PySpark's AnalysisException.
func checkConnectors(a sparkSubmitArgs) error {
	jars := sparkClasspathJars(a)
	for _, c := range sparkAppConnectors(a.appFile) {
		found := false
		for _, j := range jars {
			for _, part := range c.jarParts {
				found = found || strings.Contains(j, part) && strings.HasSuffix(j, ".jar")
			}
		}
		if !found {
			return toolErrorf("Traceback (most recent call last):\n  File \"%s\", in <module>\n  File \"/opt/spark/python/lib/pyspark.zip/pyspark/errors/exceptions/captured.py\", in deco\n    raise converted from None\npyspark.errors.exceptions.captured.AnalysisException: %s",
				a.appFile, c.message)
		}
	}
	return nil
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
	auth     sparkAuth
	hbEvery  time.Duration
	logEvery time.Duration
	// started, when set, runs once after the first registration, where the
	// real application starts its work; an error ends the application.
	started func() error
}

// sparkAppFailed is the application failing after it started: the driver
// ends it with the master and exits 1.
type sparkAppFailed struct{ err error }

func (e *sparkAppFailed) Error() string { return e.err.Error() }

func sparkSubmitRun(ctx context.Context, a sparkSubmitArgs) error {
	masters, _ := parseSparkMasterURL(a.master)
	memMB, _ := parseSparkMemory(a.executorMemory)
	user := envOr("SPARK_USER", "spark")
	name := strings.Join(strings.Fields(a.name), " ")
	if name == "" {
		name = "unnamed"
	}
	auth, err := sparkAuthFrom(os.Getenv, a.conf, "SPARK_SUBMIT_OPTS")
	if err != nil {
		return exitWith(1, "%v", err)
	}
	d := &sparkDriver{
		a:       a,
		masters: masters,
		auth:    auth,
		register: func(id string) string {
			if id == "" {
				id = "-"
			}
			return fmt.Sprintf("APP %s %d %d %s %s", id, a.totalCores, memMB, user, name)
		},
		hbEvery:  5 * time.Second,
		logEvery: time.Minute,
		started:  func() error { return checkConnectors(a) },
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
		var failed *sparkAppFailed
		if errors.As(err, &failed) {
			d.end(addr)
			return exitWith(1, "%v", failed.err)
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
	if err := d.auth.clientAuth(c, r); err != nil {
		return err
	}
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
		return fmt.Errorf("master refused the application: %s", sparkReplyError(reply))
	}
	if d.appID == "" {
		logf("Connected to Spark cluster with app ID %s", id)
	} else {
		logf("Registered again with master %s as %s", addr, id)
	}
	d.appID = id
	if d.started != nil {
		start := d.started
		d.started = nil
		if err := start(); err != nil {
			return &sparkAppFailed{err}
		}
	}
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
	r := bufio.NewReader(c)
	if d.auth.clientAuth(c, r) != nil {
		return
	}
	c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	io.WriteString(c, "APP_END "+d.appID+"\n")
	r.ReadString('\n')
	logf("Successfully stopped SparkContext (application %s)", d.appID)
}
