package checks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/client"
)

func TestDockerUnreachable(t *testing.T) {
	t.Parallel()
	sock := t.TempDir() + "/docker.sock"
	if err := os.WriteFile(sock, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	refused := &net.OpError{Op: "dial", Net: "unix", Err: syscall.ECONNREFUSED}
	tests := []struct {
		name       string
		target     EngineTarget
		err        error
		onPath     bool
		wantMsg    string
		wantFixHas string
	}{
		{"permission denied", EngineTarget{Host: "unix://" + sock}, &net.OpError{Op: "dial", Err: fmt.Errorf("connect: %w", syscall.EACCES)}, true,
			"permission denied", "usermod -aG docker"},
		{"daemon not running", EngineTarget{Host: "unix://" + sock}, refused, true, "not running", "systemctl start docker"},
		{"DOCKER_HOST points nowhere", EngineTarget{Host: "tcp://127.0.0.1:1", FromEnv: true}, refused, true, "no Docker engine answers", "unset DOCKER_HOST"},
		{"context points nowhere", EngineTarget{Host: "tcp://127.0.0.1:1", Context: "remote"}, refused, true, `context "remote"`, "docker context use default"},
		{"not installed", EngineTarget{Host: "unix:///nonexistent/docker.sock"}, errors.New("no such file"), false, "not installed", "install Docker"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := DockerUnreachable(tt.target, tt.err, tt.onPath)
			if r.Status != Fail || r.ID != IDDockerEngine {
				t.Errorf("status %s id %s", r.Status, r.ID)
			}
			if !strings.Contains(r.Message, tt.wantMsg) {
				t.Errorf("message %q lacks %q", r.Message, tt.wantMsg)
			}
			if !strings.Contains(r.Fix, tt.wantFixHas) {
				t.Errorf("fix %q lacks %q", r.Fix, tt.wantFixHas)
			}
		})
	}
}

func TestEngineVersion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		facts   EngineFacts
		want    Status
		flavour string
	}{
		{EngineFacts{Version: "20.10.24+dfsg1", APIVersion: "1.41", OS: "linux", Arch: "amd64"}, Pass, "Docker Engine"},
		{EngineFacts{Version: "19.03.15", APIVersion: "1.40"}, Fail, "Docker Engine"},
		{EngineFacts{Version: "20.10.0", APIVersion: "1.40"}, Fail, "Docker Engine"},
		{EngineFacts{Version: "29.0.1", APIVersion: "1.52", OperatingSys: "Docker Desktop"}, Pass, "Docker Desktop"},
		{EngineFacts{Version: "28.0.0", APIVersion: "1.48", KernelVersion: "5.15.167.4-microsoft-standard-WSL2"}, Pass, "WSL2"},
		{EngineFacts{Version: "27.0.0", APIVersion: "1.47", Rootless: true}, Pass, "rootless Docker"},
		{EngineFacts{Version: "5.2.0", APIVersion: "1.41", Podman: true}, Pass, "Podman"},
		{EngineFacts{Version: "3.0.0", APIVersion: "1.40", Podman: true}, Fail, "Podman"},
	}
	for _, tt := range tests {
		r := EngineVersion(tt.facts)
		if r.Status != tt.want {
			t.Errorf("%+v: status %s, want %s (%s)", tt.facts, r.Status, tt.want, r.Message)
		}
		if tt.facts.Flavour() != tt.flavour {
			t.Errorf("%+v: flavour %s, want %s", tt.facts, tt.facts.Flavour(), tt.flavour)
		}
		if r.Status == Fail && r.Fix == "" {
			t.Errorf("%+v: failure without a fix", tt.facts)
		}
	}
}

func TestVersionLess(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		a, b string
		less bool
	}{
		{"20.10.24+dfsg1", "20.10", false},
		{"20.9", "20.10", true},
		{"1.40", "1.41", true},
		{"1.41", "1.41", false},
		{"v29.0.0", "20.10", false},
	} {
		if got := versionLess(tt.a, tt.b); got != tt.less {
			t.Errorf("versionLess(%q, %q) = %v", tt.a, tt.b, got)
		}
	}
}

func TestDemuxLinesKeepsTail(t *testing.T) {
	t.Parallel()
	var raw strings.Builder
	for i := range 40 {
		fmt.Fprintf(&raw, "line %d\n", i)
	}
	lines := demuxLines([]byte(raw.String()))
	if len(lines) != LogLines || lines[len(lines)-1] != "line 39" {
		t.Errorf("got %d lines ending %q", len(lines), lines[len(lines)-1])
	}
}

func TestDiagnosisExplain(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		d    Diagnosis
		want string
	}{
		{Diagnosis{OOMKilled: true, MemLimit: 64 << 20}, "out of memory (limit 64 MiB)"},
		{Diagnosis{RestartCount: 5, ExitCode: 3}, "keeps crashing"},
		{Diagnosis{RestartCount: 1, State: "exited", ExitCode: 3}, "keeps crashing and being restarted (1 restart, last exit code 3)"},
		{Diagnosis{Health: "unhealthy", State: "running"}, "healthcheck keeps failing"},
		{Diagnosis{State: "exited", ExitCode: 2}, "exited with code 2"},
		{Diagnosis{State: "created", EngineError: "driver failed programming external connectivity: Bind for 127.0.0.1:9092 failed: port is already allocated"},
			"could not publish port 9092, which another program took after the checks ran"},
		{Diagnosis{State: "created", EngineError: "driver failed programming external connectivity on endpoint dataeco-broker-1 (3f1a): Error starting userland proxy: listen tcp4 127.0.0.1:29092: bind: address already in use"},
			"port 29092, which another program took after the checks ran (driver failed programming external connectivity on endpoint dataeco-broker-1 (3f1a): Error starting userland proxy: listen tcp4 127.0.0.1:29092: bind: address already in use): `dataeco doctor --check ports`"},
		{Diagnosis{State: "created", EngineError: "error while mounting volume: no such file or directory"},
			"the Docker engine could not start it: error while mounting volume"},
		{Diagnosis{State: "exited", EngineError: "task 5f2c: already exists"}, "`dataeco install` recreates it"},
		{Diagnosis{State: "created", EngineError: "id already in use"}, "`dataeco install` recreates it"},
	} {
		if got := tt.d.Explain(); !strings.Contains(got, tt.want) {
			t.Errorf("Explain(%+v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

// oomEngine is a container API with an event log: one container, restarted restarts times,
// whose state says it runs and was not killed, and oomEvents out-of-memory kills in the log.
type oomEngine struct {
	restarts, oomEvents int
	asked               bool
}

func (f *oomEngine) ContainerInspect(context.Context, string, client.ContainerInspectOptions) (client.ContainerInspectResult, error) {
	return client.ContainerInspectResult{Container: container.InspectResponse{Name: "/p-zookeeper-1", RestartCount: f.restarts,
		Created: time.Now().Add(-time.Minute).Format(time.RFC3339Nano),
		State:   &container.State{Status: container.StateRunning, Running: true}}}, nil
}

func (f *oomEngine) ContainerLogs(context.Context, string, client.ContainerLogsOptions) (client.ContainerLogsResult, error) {
	return io.NopCloser(strings.NewReader("")), nil
}

func (f *oomEngine) Events(_ context.Context, opts client.EventsListOptions) client.EventsResult {
	f.asked = true
	msgs, errs := make(chan events.Message, f.oomEvents), make(chan error, 1)
	for range f.oomEvents {
		msgs <- events.Message{Type: events.ContainerEventType, Action: events.ActionOOM}
	}
	if f.oomEvents == 0 {
		errs <- io.EOF
	}
	return client.EventsResult{Messages: msgs, Err: errs}
}

// TestDiagnoseOOMAfterRestart: a container restarted after running out of memory looks fine
// to its state; the engine's event log still says why it restarted.
func TestDiagnoseOOMAfterRestart(t *testing.T) {
	for _, tt := range []struct {
		name                string
		restarts, oomEvents int
		want, asked         bool
	}{
		{"restarted after an OOM kill", 1, 1, true, true},
		{"restarted for another reason", 1, 0, false, true},
		{"never restarted: its state is enough", 0, 1, false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			api := &oomEngine{restarts: tt.restarts, oomEvents: tt.oomEvents}
			d, err := DiagnoseContainer(context.Background(), api, "id")
			if err != nil {
				t.Fatal(err)
			}
			if d.OOMKilled != tt.want || api.asked != tt.asked {
				t.Errorf("OOMKilled %v (event log read: %v), want %v (%v)", d.OOMKilled, api.asked, tt.want, tt.asked)
			}
			if tt.want && !strings.Contains(d.Explain(), "out of memory") {
				t.Errorf("Explain() = %q", d.Explain())
			}
		})
	}
}

func TestDockerSettingsBroken(t *testing.T) {
	t.Parallel()
	tests := []struct{ err, fixHas string }{
		{"unable to resolve docker endpoint: open /home/me/.docker/ca.pem: no such file or directory", "DOCKER_CERT_PATH"},
		{`unable to resolve docker endpoint: context "gone": context not found`, "docker context use default"},
		{`unable to resolve docker endpoint: parse "tcp://bad host": invalid character " " in host name`, "check DOCKER_HOST"},
	}
	for _, tt := range tests {
		r := DockerSettingsBroken("tcp://x:2376", errors.New(tt.err))
		if r.Status != Fail || r.ID != IDDockerEngine || !strings.Contains(r.Message, tt.err) || !strings.Contains(r.Fix, tt.fixHas) {
			t.Errorf("%s: got %s %q fix %q, want a failure whose fix says %q", tt.err, r.Status, r.Message, r.Fix, tt.fixHas)
		}
	}
}
