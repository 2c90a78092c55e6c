package checks

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSmokeOnRealAirflow runs the Airflow smoke check against real Airflow 3.3 as the stack
// runs it (api-server, scheduler and dag-processor, LocalExecutor on PostgreSQL, FAB logins,
// the pipeline's DAG folder), started by testdata/realstack. It passes with the generated
// admin; the well-known passwords are refused; a server that is down, a wrong password and
// frozen scheduler and DAG processor each fail with their own message.
func TestSmokeOnRealAirflow(t *testing.T) {
	srv := realServers(t)
	target := realTarget(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	if r := smokeAirflow(ctx, &Env{Smoke: target}); r.Status != Pass {
		t.Fatalf("airflow with the generated admin: %s %q", r.Status, r.Message)
	}
	// job_alive.py, the containers' healthcheck of the DAG processor (and triggerer), asks
	// the real metadata database what `airflow jobs check` would.
	alive, host := jobAliveRunner(t, srv)
	for _, job := range []string{"DagProcessorJob", "SchedulerJob"} {
		for _, args := range [][]string{{job}, {job, host}} {
			if code, out := alive(ctx, args...); code != 0 {
				t.Errorf("job_alive.py %s on running Airflow exited %d: %s", strings.Join(args, " "), code, out)
			}
		}
	}
	if code, out := alive(ctx, "DagProcessorJob", "not-this-host"); code != 1 || !strings.Contains(out, "no running job") {
		t.Errorf("job_alive.py for another host exited %d: %s", code, out)
	}
	for _, tc := range []struct {
		name, user, password, url, has string
	}{
		{"wrong password", target.AirflowUser, target.AirflowPassword + "x", "", "logging in as admin"},
		// The image's documented defaults and the seed's: none may open the stack.
		{"admin/admin refused", "admin", "admin", "", "logging in as admin"},
		{"airflow/airflow refused", "airflow", "airflow", "", "logging in as airflow"},
		{"server down", target.AirflowUser, target.AirflowPassword, "http://127.0.0.1:1", "health endpoint"},
	} {
		wrong := *target
		wrong.AirflowUser, wrong.AirflowPassword = tc.user, tc.password
		if tc.url != "" {
			wrong.AirflowURL = tc.url
		}
		if r := smokeAirflow(ctx, &Env{Smoke: &wrong}); r.Status != Fail || !strings.Contains(r.Message, tc.has) || r.Fix == "" {
			t.Errorf("%s: %s %q (fix %q), want a failure containing %q", tc.name, r.Status, r.Message, r.Fix, tc.has)
		}
	}

	// A scheduler and a DAG processor that stop heartbeating (frozen, as a hung process
	// would be) show as unhealthy once Airflow's threshold passes and the check's wait for a
	// fresh heartbeat ends; the check names both with the age of their last heartbeat.
	run := filepath.Dir(os.Getenv("DATAECO_REALSTACK_ENV"))
	var frozen []int
	for _, name := range []string{"airflow-scheduler", "airflow-dag-processor"} {
		b, err := os.ReadFile(filepath.Join(run, name+".pid"))
		if err != nil {
			t.Fatal(err)
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		if err := syscall.Kill(-pid, syscall.SIGSTOP); err != nil {
			t.Fatalf("freezing %s: %v", name, err)
		}
		frozen = append(frozen, pid)
	}
	thaw := func() {
		for _, pid := range frozen {
			_ = syscall.Kill(-pid, syscall.SIGCONT)
		}
		frozen = nil
	}
	defer thaw()
	var last Result
	waitFor(t, ctx, "Airflow to report its frozen components", func() bool {
		last = smokeAirflow(ctx, &Env{Smoke: target})
		return last.Status == Fail && strings.Contains(last.Message, "scheduler (last heartbeat ") &&
			strings.Contains(last.Message, "dag_processor (last heartbeat ")
	})
	if !strings.Contains(last.Fix, "airflow-scheduler") {
		t.Errorf("fix %q does not point at the scheduler's logs", last.Fix)
	}
	for _, job := range []string{"DagProcessorJob", "SchedulerJob"} {
		if code, out := alive(ctx, job); code != 1 {
			t.Errorf("job_alive.py %s while frozen exited %d, want 1: %s", job, code, out)
		}
	}
	thaw()
	waitFor(t, ctx, "Airflow to recover", func() bool {
		last = smokeAirflow(ctx, &Env{Smoke: target})
		return last.Status == Pass
	})
	if code, out := alive(ctx, "DagProcessorJob", host); code != 0 {
		t.Errorf("job_alive.py DagProcessorJob after the thaw exited %d: %s", code, out)
	}
}

// jobAliveRunner runs embedded/airflow/job_alive.py with the real stack's Python against its
// metadata database, returning the exit code and output, and the host name Airflow records
// its jobs under here (its hostname_callable's); it logs the CPU one run costs beside
// `airflow jobs check`'s, the figure that set the healthcheck's interval.
func jobAliveRunner(t *testing.T, srv map[string]string) (func(ctx context.Context, args ...string) (int, string), string) {
	t.Helper()
	py := os.Getenv("REALSTACK_PYTHON")
	if py == "" {
		t.Fatal("REALSTACK_PYTHON is not set: testdata/realstack/with-stack.sh sets it")
	}
	script, err := filepath.Abs(filepath.Join("..", "embedded", "airflow", "job_alive.py"))
	if err != nil {
		t.Fatal(err)
	}
	// AIRFLOW_HOME of the test's own: `airflow jobs check` may write its config there.
	env := append(os.Environ(), "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="+srv["REALSTACK_POSTGRES_URL"], "AIRFLOW_HOME="+t.TempDir())
	run := func(ctx context.Context, argv ...string) (int, string, time.Duration) {
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("%s: %v", argv[0], err)
		}
		var cpu time.Duration
		if cmd.ProcessState != nil {
			cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		}
		return code, strings.TrimSpace(string(out)), cpu
	}
	_, _, cheap := run(context.Background(), py, script, "DagProcessorJob")
	_, _, costly := run(context.Background(), filepath.Join(filepath.Dir(py), "airflow"), "jobs", "check", "--job-type", "DagProcessorJob")
	t.Logf("one liveness check's CPU: job_alive.py %s, airflow jobs check %s", cheap.Round(time.Millisecond), costly.Round(time.Millisecond))
	code, host, _ := run(context.Background(), py, "-c", "from airflow.utils.net import get_hostname; print(get_hostname())")
	if code != 0 || host == "" {
		t.Fatalf("Airflow's host name: exit %d: %s", code, host)
	}
	return func(ctx context.Context, args ...string) (int, string) {
		code, out, _ := run(ctx, append([]string{py, script}, args...)...)
		return code, out
	}, host
}
