package checks

import (
	"context"
	"os"
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
	thaw()
	waitFor(t, ctx, "Airflow to recover", func() bool {
		last = smokeAirflow(ctx, &Env{Smoke: target})
		return last.Status == Pass
	})
}
