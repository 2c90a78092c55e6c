package engine

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/compose/v5/pkg/api"
)

// fakeClock advances one second per reading, so throttled lines appear deterministically.
func fakeClock() func() time.Time {
	t := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return func() time.Time { t = t.Add(time.Second); return t }
}

func progressEvents() [][]api.Resource {
	img := "Image 127.0.0.1:5000/library/cassandra:5.0.9"
	img2 := "Image 127.0.0.1:5000/apache/spark:3.5.8"
	return [][]api.Resource{
		{{ID: img, Status: api.Working, Text: api.StatusPulling}},
		{{ID: img2, Status: api.Working, Text: api.StatusPulling}},
		{{ID: "aaa", ParentID: img, Text: "Downloading", Current: 1000, Total: 4000000}},
		{{ID: "bbb", ParentID: img2, Text: "Downloading", Current: 500000, Total: 1000000}},
		{{ID: "aaa", ParentID: img, Text: "Downloading", Current: 2000000, Total: 4000000}},
		{{ID: "aaa", ParentID: img, Text: "Downloading", Current: 3000000, Total: 4000000}},
		{{ID: "aaa", ParentID: img, Text: "Download complete"}},
		{{ID: img, Status: api.Done, Text: api.StatusPulled}},
		{{ID: "bbb", ParentID: img2, Text: "Pull complete"}},
		{{ID: img2, Status: api.Done, Text: api.StatusPulled}},
		{{ID: "Container dataeco-cassandra-1", Status: api.Done, Text: api.StatusCreated}},
		{{ID: "Container dataeco-spark-worker-2-1", Status: api.Done, Text: api.StatusCreated}},
		{{ID: "Container dataeco-cassandra-1", Status: api.Done, Text: api.StatusStarted}},
		{{ID: "Container dataeco-cassandra-1", Status: api.Done, Text: api.StatusStarted}},
		{{ID: "Container dataeco-cassandra-1", Status: api.Done, Text: api.StatusHealthy}},
	}
}

func TestProgressPlain(t *testing.T) {
	t.Parallel()
	var errOut bytes.Buffer
	p := NewProgress(Output{W: &errOut}, "dataeco")
	p.now = fakeClock()
	for _, evs := range progressEvents() {
		p.On(evs...)
	}
	p.ServiceState("spark-worker-2", "failed", "was not ready within 2m0s")
	p.Done("up", true)
	out := errOut.String()
	if strings.Contains(out, "\x1b[") {
		t.Error("plain output contains escape codes")
	}
	golden(t, "progress-plain", []byte(out))
}

func TestProgressTerminal(t *testing.T) {
	t.Parallel()
	var errOut bytes.Buffer
	p := NewProgress(Output{W: &errOut, TTY: true}, "dataeco")
	p.now = fakeClock()
	for _, evs := range progressEvents() {
		p.On(evs...)
	}
	p.Done("up", true)
	out := errOut.String()
	for _, want := range []string{"pulling images", "MB", "✓ pulled 127.0.0.1:5000/library/cassandra:5.0.9 (4.0 MB)", "cassandra", "healthy"} {
		if !strings.Contains(out, want) {
			t.Errorf("terminal output lacks %q:\n%q", want, out)
		}
	}
	if strings.Contains(out, "\x1b[3") {
		t.Error("colour codes although colour is off")
	}
}

func TestServiceOf(t *testing.T) {
	t.Parallel()
	p := NewProgress(Output{}, "dataeco-e2e")
	for in, want := range map[string]string{
		"dataeco-e2e-spark-worker-2-1": "spark-worker-2",
		"dataeco-e2e-broker-1":         "broker",
		"dataeco-e2e-airflow-init-1":   "airflow-init",
	} {
		if got := p.serviceOf(in); got != want {
			t.Errorf("serviceOf(%q) = %q, want %q", in, got, want)
		}
	}
}

var update = flag.Bool("update-golden", false, "rewrite golden files")

// golden compares got with testdata/<name>.golden; -update-golden rewrites it.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run go test -update-golden): %v", err)
	}
	if string(want) != string(got) {
		t.Errorf("%s differs from golden file; run `go test ./installer/engine -run %s -update-golden` and review the diff\n--- got:\n%s", path, t.Name(), got)
	}
}
