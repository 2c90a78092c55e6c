package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// dockerEntrypointMain is docker-entrypoint.sh of the postgres and
// cassandra images: it starts the server when asked for it and otherwise
// runs the given command, as the real scripts do.
func dockerEntrypointMain(args []string) int {
	role := os.Getenv("STANDIN_ROLE")
	if len(args) > 0 && strings.HasPrefix(args[0], "-") {
		switch role {
		case "postgres":
			args = append([]string{"postgres"}, args...)
		case "cassandra":
			args = append([]string{"cassandra", "-f"}, args...)
		}
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "docker-entrypoint.sh: no command given")
		return 1
	}
	switch {
	case role == "postgres" && args[0] == "postgres":
		return postgresMain(args[1:])
	case role == "cassandra" && args[0] == "cassandra":
		return cassandraMain(args[1:])
	}
	return execPassthrough(args)
}

// ---------------------------------------------------------------------------
// Airflow

const (
	airflowHeartbeatDir = "/tmp"
	airflowLogsDir      = "/opt/airflow/logs"
)

// heartbeatFile is where a job type's liveness is recorded.
func heartbeatFile(jobType string) string {
	name := map[string]string{
		"DagProcessorJob": "dag-processor",
		"SchedulerJob":    "scheduler",
		"TriggererJob":    "triggerer",
	}[jobType]
	if name == "" {
		return ""
	}
	return filepath.Join(airflowHeartbeatDir, name+".heartbeat")
}

func airflowVersion() string {
	return versionPrefix(os.Getenv("STANDIN_VERSION"), "3.1.3") + "-standin"
}

// airflowDB is the database named by AIRFLOW__DATABASE__SQL_ALCHEMY_CONN.
type airflowDB struct {
	Scheme, User, Password, Host, DB string
	Port                             int
}

func (d airflowDB) Addr() string { return net.JoinHostPort(d.Host, strconv.Itoa(d.Port)) }

func parseSQLAlchemyConn(s string) (airflowDB, error) {
	u, err := url.Parse(s)
	if err != nil {
		return airflowDB{}, err
	}
	d := airflowDB{Scheme: u.Scheme, Host: u.Hostname(), DB: strings.TrimPrefix(u.Path, "/"), Port: 5432}
	if !strings.HasPrefix(u.Scheme, "postgres") {
		return d, fmt.Errorf("unsupported database scheme %q (the stand-in knows PostgreSQL only)", u.Scheme)
	}
	if d.Host == "" {
		return d, fmt.Errorf("no host in %q", redactConn(s))
	}
	if p := u.Port(); p != "" {
		if d.Port, err = strconv.Atoi(p); err != nil {
			return d, fmt.Errorf("bad port %q", p)
		}
	}
	if u.User != nil {
		d.User = u.User.Username()
		d.Password, _ = u.User.Password()
	}
	return d, nil
}

// redactConn hides the password of a connection URL for logs.
func redactConn(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return s
	}
	userinfo, host, ok := strings.Cut(rest, "@")
	if !ok {
		return s
	}
	if user, _, hasPW := strings.Cut(userinfo, ":"); hasPW {
		return scheme + "://" + user + ":***@" + host
	}
	return s
}

// waitForAirflowDB does what the real entrypoint's wait_for_airflow_db
// does: wait for the metadata database, here for up to 60 s. When the
// database is the stand-in PostgreSQL it also logs in, so that wrong
// credentials fail as they would for real.
func waitForAirflowDB(ctx context.Context) error {
	conn := os.Getenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")
	if conn == "" {
		logf("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN is not set: not waiting for a database")
		return nil
	}
	d, err := parseSQLAlchemyConn(conn)
	if err != nil {
		return exitWith(1, "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN: %v", err)
	}
	if err := waitTCP(ctx, "airflow metadata database", []string{d.Addr()}, 60*time.Second); err != nil {
		if ctx.Err() != nil {
			return err
		}
		return exitWith(1, "ERROR! Maximum number of retries (60) reached.\nLast check result:\n$ airflow db check\n%v", err)
	}
	p, err := pgDial(d.Host, d.Port, 3*time.Second)
	if err != nil {
		logf("database at %s is not the stand-in PostgreSQL (%v): not logging in", d.Addr(), err)
		return nil
	}
	defer p.Close()
	resp, err := p.do(pgRequest{Op: "startup", User: d.User, Database: d.DB, Password: d.Password})
	if err != nil {
		return exitWith(1, "sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) connection to server at %q, port %d failed: %v", d.Host, d.Port, err)
	}
	if !resp.OK {
		return exitWith(1, "sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) connection to server at %q, port %d failed: %s", d.Host, d.Port, resp.Error)
	}
	logf("logged in to the metadata database %s as %s", d.DB, d.User)
	return nil
}

// airflowEntrypointMain is /entrypoint. Like the real one (Airflow's
// entrypoint_prod.sh) it first waits for the metadata database, then runs
// `airflow db migrate || true` when _AIRFLOW_DB_MIGRATE (or the deprecated
// _AIRFLOW_DB_UPGRADE) is non-empty and creates the admin user (`airflow
// users create ... || true`) when _AIRFLOW_WWW_USER_CREATE is non-empty,
// whatever the command; then it runs `airflow ARGS` (an explicit leading
// "airflow" is dropped) or hands bash/sh to /bin/sh.
func airflowEntrypointMain(args []string) int {
	if len(args) > 0 && args[0] == "airflow" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "/entrypoint: no command given (try: version, api-server, scheduler, dag-processor, triggerer, db check-migrations)")
		return 2
	}
	cmd := args[0]
	switch cmd {
	case "bash", "sh":
		shell := append([]string{"/bin/sh"}, args[1:]...)
		if !airflowEntrypointHasWork() {
			return execPassthrough(shell)
		}
		return runServer("airflow", airflowLogsDir, func(ctx context.Context) error {
			if err := airflowEntrypointPrelude(ctx); err != nil {
				return err
			}
			return exitWith(execPassthrough(shell), "")
		})
	case "version":
		return runServer("airflow-init", airflowLogsDir, airflowInit)
	case "api-server", "webserver":
		return airflowServe(cmd, func(ctx context.Context) error { return airflowAPIServer(ctx, args[1:]) })
	case "scheduler":
		return airflowServe(cmd, airflowScheduler)
	case "dag-processor":
		return airflowServe(cmd, func(ctx context.Context) error { return airflowHeartbeatJob(ctx, "DagProcessorJob") })
	case "triggerer":
		return airflowServe(cmd, func(ctx context.Context) error { return airflowHeartbeatJob(ctx, "TriggererJob") })
	}
	role := "airflow-" + cmd
	if len(args) > 1 && !strings.HasPrefix(args[1], "-") {
		role += "-" + args[1]
	}
	return runServer(role, airflowLogsDir, func(ctx context.Context) error {
		if err := airflowEntrypointPrelude(ctx); err != nil {
			return err
		}
		return exitWith(airflowToolMain(args), "")
	})
}

// airflowEntrypointHasWork reports whether the entrypoint has anything to
// do before the command: a database to wait for, a migration or a user.
func airflowEntrypointHasWork() bool {
	for _, v := range []string{"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "_AIRFLOW_DB_MIGRATE", "_AIRFLOW_DB_UPGRADE", "_AIRFLOW_WWW_USER_CREATE"} {
		if os.Getenv(v) != "" {
			return true
		}
	}
	return false
}

// airflowEntrypointPrelude is what the real entrypoint does before it runs
// the command: wait for the database, migrate it and create the admin when
// asked. A failed migration or user creation is logged and the entrypoint
// goes on, as the real one's `|| true` does; a missing admin password is
// fatal, as there.
func airflowEntrypointPrelude(ctx context.Context) error {
	if err := waitForAirflowDB(ctx); err != nil {
		return err
	}
	if os.Getenv("_AIRFLOW_DB_UPGRADE") != "" || os.Getenv("_AIRFLOW_DB_MIGRATE") != "" {
		if code := airflowDBMigrate(os.Stdout, os.Stderr); code != 0 {
			logf("airflow db migrate exited %d; going on, as the entrypoint's `airflow db migrate || true` does", code)
		}
	}
	if os.Getenv("_AIRFLOW_DB_UPGRADE") != "" {
		fmt.Fprintln(os.Stderr, "WARNING: Environment variable '_AIRFLOW_DB_UPGRADE' is deprecated please use '_AIRFLOW_DB_MIGRATE' instead")
	}
	if os.Getenv("_AIRFLOW_WWW_USER_CREATE") != "" {
		pass := os.Getenv("_AIRFLOW_WWW_USER_PASSWORD")
		if pass == "" {
			return exitWith(1, "\nERROR! Airflow Admin password not set via _AIRFLOW_WWW_USER_PASSWORD or _AIRFLOW_WWW_USER_PASSWORD_CMD variables!\n")
		}
		user, role := envOr("_AIRFLOW_WWW_USER_USERNAME", "admin"), envOr("_AIRFLOW_WWW_USER_ROLE", "Admin")
		if code := airflowUsersCreate(user, role, os.Stdout, os.Stderr); code != 0 {
			logf("airflow users create exited %d; going on, as the entrypoint's `airflow users create ... || true` does", code)
		}
	}
	return nil
}

// airflowServe runs a long-lived Airflow component: the entrypoint's
// prelude, then, as every real Airflow command with check_db does, a check
// that the database is migrated to this version, then body.
func airflowServe(cmd string, body func(ctx context.Context) error) int {
	return runServer("airflow-"+cmd, airflowLogsDir, func(ctx context.Context) error {
		if err := airflowEntrypointPrelude(ctx); err != nil {
			return err
		}
		if err := airflowRequireMigrated(); err != nil {
			return err
		}
		return body(ctx)
	})
}

// airflowInit is the old airflow-init job, `version`: it needs the
// entrypoint's migration switched on (and, with user creation, both the
// user name and password), runs the entrypoint's prelude and prints the
// version.
func airflowInit(ctx context.Context) error {
	if os.Getenv("_AIRFLOW_DB_MIGRATE") != "true" {
		return exitWith(1, "standin: the airflow init job needs _AIRFLOW_DB_MIGRATE=true")
	}
	if os.Getenv("_AIRFLOW_WWW_USER_CREATE") == "true" {
		user, pass := os.Getenv("_AIRFLOW_WWW_USER_USERNAME"), os.Getenv("_AIRFLOW_WWW_USER_PASSWORD")
		if user == "" || pass == "" {
			return exitWith(1, "_AIRFLOW_WWW_USER_USERNAME and _AIRFLOW_WWW_USER_PASSWORD must both be set when _AIRFLOW_WWW_USER_CREATE=true")
		}
	}
	if err := airflowEntrypointPrelude(ctx); err != nil {
		return err
	}
	fmt.Println(airflowVersion())
	return nil
}

func nowAirflow() string {
	return time.Now().UTC().Format("2006-01-02T15:04:05.000000+00:00")
}

func airflowAPIServer(ctx context.Context, args []string) error {
	port, err := envInt("AIRFLOW__API__PORT", 8080)
	if err != nil {
		return exitWith(1, "%v", err)
	}
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "--port" || args[i] == "-p" {
			if port, err = strconv.Atoi(args[i+1]); err != nil {
				return exitWith(2, "bad --port %q", args[i+1])
			}
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v2/monitor/health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, "application/json", 200, airflowHealth(nowAirflow()))
	})
	mux.HandleFunc("GET /api/v2/version", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, "application/json", 200, map[string]any{"version": airflowVersion(), "git_version": nil})
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<!DOCTYPE html>\n<html><head><title>Airflow</title></head><body><h1>Airflow "+airflowVersion()+"</h1></body></html>\n")
	})
	return serveHTTP(ctx, fmt.Sprintf("0.0.0.0:%d", port), "airflow api-server", mux)
}

// airflowHealth is the body of GET /api/v2/monitor/health. It is static:
// every component healthy, the triggerer included, as dataeco's stack runs
// one (airflow-triggerer).
func airflowHealth(now string) map[string]any {
	return map[string]any{
		"metadatabase":  map[string]any{"status": "healthy"},
		"scheduler":     map[string]any{"status": "healthy", "latest_scheduler_heartbeat": now},
		"triggerer":     map[string]any{"status": "healthy", "latest_triggerer_heartbeat": now},
		"dag_processor": map[string]any{"status": "healthy", "latest_dag_processor_heartbeat": now},
	}
}

func airflowScheduler(ctx context.Context) error {
	port, err := envInt("AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT", 8974)
	if err != nil {
		return exitWith(1, "%v", err)
	}
	go heartbeatLoop(ctx, "SchedulerJob")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, "application/json", 200, map[string]string{"status": "healthy", "latest_scheduler_heartbeat": time.Now().UTC().Format(time.RFC3339)})
	})
	return serveHTTP(ctx, fmt.Sprintf("0.0.0.0:%d", port), "scheduler health", mux)
}

func airflowHeartbeatJob(ctx context.Context, jobType string) error {
	heartbeatLoop(ctx, jobType)
	return nil
}

// heartbeatLoop writes the unix time to the job's heartbeat file now and
// every 5 s.
func heartbeatLoop(ctx context.Context, jobType string) {
	file := heartbeatFile(jobType)
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		if err := atomicWriteFile(file, []byte(strconv.FormatInt(time.Now().Unix(), 10)+"\n")); err != nil {
			logf("heartbeat: %v", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ---------------------------------------------------------------------------
// The `airflow` command-line tool.

type jobsCheckArgs struct {
	jobType, hostname string
	local             bool
}

func parseJobsCheckArgs(args []string) (jobsCheckArgs, error) {
	var a jobsCheckArgs
	for i := 0; i < len(args); i++ {
		flag, val, hasVal := strings.Cut(args[i], "=")
		takes := map[string]bool{"--job-type": true, "--hostname": true, "--limit": true}
		if takes[flag] && !hasVal {
			if i+1 >= len(args) {
				return a, fmt.Errorf("argument %s: expected one argument", flag)
			}
			i++
			val = args[i]
		}
		switch flag {
		case "--job-type":
			if heartbeatFile(val) == "" {
				return a, fmt.Errorf("argument --job-type: invalid choice: '%s' (choose from 'DagProcessorJob', 'SchedulerJob', 'TriggererJob')", val)
			}
			a.jobType = val
		case "--hostname":
			a.hostname = val
		case "--limit", "--allow-multiple":
		case "--local":
			a.local = true
		default:
			return a, fmt.Errorf("unrecognized arguments: %s", args[i])
		}
	}
	return a, nil
}

// jobAlive reports whether the heartbeat file says the job beat within
// maxAge of now.
func jobAlive(file string, now time.Time, maxAge time.Duration) bool {
	b, err := os.ReadFile(file)
	if err != nil {
		return false
	}
	sec, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return false
	}
	age := now.Sub(time.Unix(sec, 0))
	return age < maxAge && age > -maxAge
}

// airflowPythonMain is the Airflow image's `python` for the one script dataeco runs with
// it: job_alive.py JOB_TYPE [HOSTNAME], the DAG processor's and triggerer's healthcheck,
// which asks the metadata database what `airflow jobs check` would. Here the answer is the
// job's heartbeat file, under the same 30-second threshold.
func airflowPythonMain(args []string) int {
	if len(args) < 2 || filepath.Base(args[0]) != "job_alive.py" {
		fmt.Fprintf(os.Stderr, "python: the stand-in runs only job_alive.py, not %q\n", strings.Join(args, " "))
		return 2
	}
	file := heartbeatFile(args[1])
	if file == "" {
		fmt.Fprintf(os.Stderr, "usage: job_alive.py {DagProcessorJob,TriggererJob,SchedulerJob} [HOSTNAME]\n")
		return 2
	}
	if failUnhealthy() || !jobAlive(file, time.Now(), 30*time.Second) {
		fmt.Fprintf(os.Stderr, "%s: no running job with a heartbeat in the last 30s\n", args[1])
		return 1
	}
	fmt.Printf("%s: alive\n", args[1])
	return 0
}

func airflowToolMain(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: airflow [-h] GROUP_OR_COMMAND ... (stand-in: version, jobs check, db check, db migrate, db check-migrations)")
		return 2
	}
	switch {
	case args[0] == "version":
		fmt.Println(airflowVersion())
		return 0
	case args[0] == "jobs" && len(args) > 1 && args[1] == "check":
		a, err := parseJobsCheckArgs(args[2:])
		if err != nil {
			fmt.Fprintf(os.Stderr, "airflow jobs check: error: %v\n", err)
			return 2
		}
		if failUnhealthy() {
			return 1
		}
		files := []string{heartbeatFile(a.jobType)}
		if a.jobType == "" {
			files = []string{heartbeatFile("DagProcessorJob"), heartbeatFile("SchedulerJob"), heartbeatFile("TriggererJob")}
		}
		for _, f := range files {
			if jobAlive(f, time.Now(), 30*time.Second) {
				fmt.Println("Found one alive job.")
				return 0
			}
		}
		fmt.Fprintln(os.Stderr, "No alive jobs found.")
		return 1
	case args[0] == "db" && len(args) > 1 && args[1] == "migrate":
		return airflowDBMigrate(os.Stdout, os.Stderr)
	case args[0] == "db" && len(args) > 1 && args[1] == "check-migrations":
		timeout, err := parseCheckMigrationsArgs(args[2:])
		if err != nil {
			fmt.Fprintf(os.Stderr, "Usage: airflow db check-migrations [-h] [-t MIGRATION_WAIT_TIMEOUT] [-v]\n\nairflow db check-migrations command error: %v, see help above.\n", err)
			return 2
		}
		return airflowCheckMigrations(timeout, os.Stdout, os.Stderr)
	case args[0] == "db" && len(args) > 1 && args[1] == "check":
		if failUnhealthy() {
			return 1
		}
		d, err := parseSQLAlchemyConn(os.Getenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"))
		if err != nil {
			fmt.Fprintf(os.Stderr, "airflow db check: %v\n", err)
			return 1
		}
		c, err := net.DialTimeout("tcp", d.Addr(), 3*time.Second)
		if err != nil {
			fmt.Fprintf(os.Stderr, "airflow db check: %v\n", err)
			return 1
		}
		c.Close()
		fmt.Println("Connection successful.")
		return 0
	}
	fmt.Fprintf(os.Stderr, "airflow: the stand-in does not implement %q\n", strings.Join(args, " "))
	return 2
}
