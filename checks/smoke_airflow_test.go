package checks

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// airflowHealthBody is Airflow 3's /api/v2/monitor/health answer with the given statuses and
// heartbeat ages (a negative age: no heartbeat field).
func airflowHealthBody(db string, comps map[string]struct {
	status string
	age    time.Duration
}) []byte {
	body := map[string]map[string]any{"metadatabase": {"status": db}}
	for name, c := range comps {
		h := map[string]any{"status": c.status}
		if c.age >= 0 {
			h["latest_"+name+"_heartbeat"] = time.Now().Add(-c.age).UTC().Format(time.RFC3339Nano)
		}
		body[name] = h
	}
	b, _ := json.Marshal(body)
	return b
}

type comp = struct {
	status string
	age    time.Duration
}

// TestAirflowSick: each component the health endpoint does not call healthy is named with
// the age of its last heartbeat, the way a user reading smoke's output needs it.
func TestAirflowSick(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		db    string
		comps map[string]comp
		want  []string
	}{
		{"all healthy", "healthy", map[string]comp{"scheduler": {"healthy", time.Second}, "dag_processor": {"healthy", time.Second}}, nil},
		{"stale scheduler", "healthy", map[string]comp{"scheduler": {"unhealthy", 48 * time.Second}, "dag_processor": {"healthy", time.Second}},
			[]string{"scheduler (last heartbeat 48s ago)"}},
		{"DAG processor never beat", "healthy", map[string]comp{"scheduler": {"healthy", time.Second}, "dag_processor": {"unhealthy", -1}},
			[]string{"dag_processor (no heartbeat)"}},
		{"database down", "unhealthy", map[string]comp{"scheduler": {"unhealthy", time.Minute}, "dag_processor": {"healthy", time.Second}},
			[]string{"metadatabase", "scheduler (last heartbeat 1m0s ago)"}},
		{"components missing", "healthy", nil, []string{"scheduler (no heartbeat)", "dag_processor (no heartbeat)"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = w.Write(airflowHealthBody(tt.db, tt.comps))
			}))
			defer srv.Close()
			got, err := airflowSick(context.Background(), srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("sick = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestSmokeAirflowWaitsForAHeartbeat: a scheduler whose heartbeat is stale for a moment (its
// restart after PostgreSQL's) is waited for, not failed at the first look.
func TestSmokeAirflowWaitsForAHeartbeat(t *testing.T) {
	t.Parallel()
	var looks atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v2/monitor/health", func(w http.ResponseWriter, r *http.Request) {
		sched := comp{"unhealthy", 40 * time.Second}
		if looks.Add(1) > 1 {
			sched = comp{"healthy", time.Second}
		}
		_, _ = w.Write(airflowHealthBody("healthy", map[string]comp{"scheduler": sched, "dag_processor": {"healthy", time.Second}}))
	})
	mux.HandleFunc("POST /auth/token", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"access_token":"t"}`))
	})
	mux.HandleFunc("GET /api/v2/dags/user_automation", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"dag_id":"user_automation"}`))
	})
	mux.HandleFunc("GET /api/v2/importErrors", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"import_errors":[]}`))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	r := smokeAirflow(context.Background(), &Env{Smoke: &SmokeTarget{AirflowURL: srv.URL, AirflowUser: "admin", AirflowPassword: "p"}})
	if r.Status != Pass || looks.Load() < 2 {
		t.Errorf("after %d looks: %s %q, want a pass on the second", looks.Load(), r.Status, r.Message)
	}
	if strings.Contains(r.Message, "not healthy") {
		t.Errorf("message %q", r.Message)
	}
}
