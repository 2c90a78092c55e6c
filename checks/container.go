package checks

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
)

// ContainerAPI is the part of the Docker API a container diagnosis needs.
type ContainerAPI interface {
	ContainerInspect(ctx context.Context, id string, opts client.ContainerInspectOptions) (client.ContainerInspectResult, error)
	ContainerLogs(ctx context.Context, id string, opts client.ContainerLogsOptions) (client.ContainerLogsResult, error)
}

// Diagnosis is what is known about one container that is not doing well.
type Diagnosis struct {
	Service   string `json:"service,omitempty"`
	Container string `json:"container"`
	State     string `json:"state"`
	Health    string `json:"health,omitempty"`
	ExitCode  int    `json:"exit_code"`
	// OOMKilled: the container ran out of memory. Its state says so until it is restarted,
	// which clears the flag; after that the engine's event log does (see EventsAPI).
	OOMKilled     bool     `json:"oom_killed"`
	RestartCount  int      `json:"restart_count"`
	FailingStreak int      `json:"failing_streak,omitempty"`
	MemLimit      int64    `json:"mem_limit_bytes,omitempty"`
	HealthOutput  string   `json:"health_output,omitempty"`
	LogTail       []string `json:"log_tail,omitempty"`
	// EngineError is the engine's own reason the container could not be started (a port
	// already allocated, a mount that failed, a task left behind by a crash): the container
	// never ran, so its logs are empty and this is all there is.
	EngineError string `json:"engine_error,omitempty"`
	Error       string `json:"error,omitempty"`
}

// LogLines is how many log lines a diagnosis keeps.
const LogLines = 25

// DiagnoseContainer reads a container's state, last healthcheck output and last log lines.
func DiagnoseContainer(ctx context.Context, api ContainerAPI, id string) (*Diagnosis, error) {
	ins, err := api.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return nil, fmt.Errorf("inspecting container %s: %w", id, err)
	}
	c := ins.Container
	d := &Diagnosis{Container: strings.TrimPrefix(c.Name, "/"), RestartCount: c.RestartCount}
	if c.HostConfig != nil {
		d.MemLimit = c.HostConfig.Memory
	}
	if st := c.State; st != nil {
		d.State = string(st.Status)
		d.ExitCode = st.ExitCode
		if !st.Running {
			d.EngineError = st.Error
		}
		d.OOMKilled = st.OOMKilled
		if !d.OOMKilled && c.RestartCount > 0 {
			if ev, ok := api.(EventsAPI); ok {
				d.OOMKilled = oomKilledSince(ctx, ev, id, c.Created)
			}
		}
		if st.Health != nil {
			d.Health = string(st.Health.Status)
			d.FailingStreak = st.Health.FailingStreak
			if n := len(st.Health.Log); n > 0 {
				last := st.Health.Log[n-1]
				d.HealthOutput = strings.TrimSpace(fmt.Sprintf("exit %d: %s", last.ExitCode, last.Output))
			}
		}
	}
	logs, err := api.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: fmt.Sprint(LogLines)})
	if err != nil {
		d.Error = fmt.Sprintf("reading logs: %v", err)
		return d, nil
	}
	defer logs.Close()
	raw, err := io.ReadAll(io.LimitReader(logs, 1<<20))
	if err != nil {
		d.Error = fmt.Sprintf("reading logs: %v", err)
	}
	d.LogTail = demuxLines(raw)
	return d, nil
}

// EventsAPI is the engine's event log, which a ContainerAPI may offer too. It remembers what
// a container's state forgets: restarted after running out of memory (by its restart policy,
// at once), a container shows OOMKilled false again, and looks healthy until the next kill.
type EventsAPI interface {
	Events(ctx context.Context, opts client.EventsListOptions) client.EventsResult
}

// oomKilledSince tells whether the engine recorded an out-of-memory kill of the container
// since created (its creation time, RFC 3339). The engine keeps only its last few hundred
// events, so an old kill may be forgotten: none is assumed then.
func oomKilledSince(ctx context.Context, ev EventsAPI, id, created string) bool {
	since, err := time.Parse(time.RFC3339Nano, created)
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	// With an end time, the engine sends what it has and closes the stream.
	res := ev.Events(ctx, client.EventsListOptions{
		Since:   fmt.Sprint(since.Unix()),
		Until:   fmt.Sprint(time.Now().Unix() + 1),
		Filters: make(client.Filters).Add("container", id).Add("event", "oom"),
	})
	select {
	case <-res.Messages:
		return true
	case <-res.Err:
		return false
	}
}

// demuxLines splits Docker's multiplexed log stream (containers without a TTY) into lines,
// falling back to the raw bytes for TTY containers.
func demuxLines(raw []byte) []string {
	var out bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &out, bytes.NewReader(raw)); err != nil {
		out.Reset()
		out.Write(raw)
	}
	text := strings.TrimRight(out.String(), "\n")
	if text == "" {
		return nil
	}
	lines := strings.Split(text, "\n")
	if len(lines) > LogLines {
		lines = lines[len(lines)-LogLines:]
	}
	return lines
}

// Explain says in plain words what the state means, for the top of a failure report.
func (d *Diagnosis) Explain() string {
	switch {
	case d.Wedged():
		return "the Docker engine was stopped in the middle of starting it and cannot start it again: `dataeco install` recreates it (data volumes are kept)"
	case d.EngineError != "":
		if port := takenPort(d.EngineError); port != "" {
			return "the Docker engine could not publish port " + port + ", which another program took after the checks ran (" + d.EngineError +
				"): `dataeco doctor --check ports` names it and the flag that moves dataeco's port"
		}
		return "the Docker engine could not start it: " + d.EngineError
	case d.OOMKilled || d.ExitCode == 137 && d.MemLimit > 0:
		return fmt.Sprintf("it was killed for running out of memory (limit %d MiB): give it more with the heap/memory flags, or give Docker more memory", d.MemLimit>>20)
	case d.RestartCount >= 2 || d.State == "restarting" || d.RestartCount >= 1 && d.State == "exited" && d.ExitCode != 0:
		// Once restarted and failed again is a loop: Compose gives up on a dependency at its
		// first exit, so an install stopped at that point leaves just one restart to see.
		return fmt.Sprintf("it keeps crashing and being restarted (%s, last exit code %d)", plural(d.RestartCount, "restart"), d.ExitCode)
	case d.Health == "unhealthy":
		return "it runs, but its healthcheck keeps failing"
	case d.State == "exited":
		return fmt.Sprintf("it exited with code %d", d.ExitCode)
	}
	return ""
}

// publishFailure matches the engine's two ways of saying a host port was taken when it
// tried to publish it: its own allocator's, and its proxy's failed bind.
var publishFailure = regexp.MustCompile(`:(\d+) failed: port is already allocated|:(\d+): bind: address already in use`)

func takenPort(engineError string) string {
	m := publishFailure.FindStringSubmatch(engineError)
	if m == nil {
		return ""
	}
	return m[1] + m[2]
}

// Wedged tells a container whose start the engine refuses for good after it was killed in
// the middle of one. install removes and recreates such containers.
func (d *Diagnosis) Wedged() bool { return EngineWedged(d.EngineError) }

// EngineWedged reads a container's last start error (its State.Error). Engine 20.10 killed
// while starting the container comes back with containerd still holding it, and every later
// start fails: with "task ID: already exists" when the kill came after runc created the task,
// and with "id already in use" when it came after containerd recorded the container but
// before the task (the engine's one retry cannot delete a container whose shim is still up).
func EngineWedged(engineError string) bool {
	return strings.Contains(engineError, "task ") && strings.Contains(engineError, "already exists") ||
		strings.Contains(engineError, "id already in use")
}

// DemuxAll splits a multiplexed log stream into all of its lines.
func DemuxAll(raw []byte) []string {
	var out bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &out, bytes.NewReader(raw)); err != nil {
		out.Reset()
		out.Write(raw)
	}
	return strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
}
