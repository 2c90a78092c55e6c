package checks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// fakeEngine answers the Docker API calls the checks make.
type fakeEngine struct {
	containers []container.Summary
	present    map[string]bool
	platforms  map[string][]string // image -> architectures; missing = registry error
	regErr     error
	networks   []network.Summary
	// starting are containers the engine is starting: listed with All only, until an inspect
	// (which, as the engine's, waits for the start to end) lets them run.
	starting []container.Summary
	// A swarm's services, tasks and nodes.
	services []swarm.Service
	tasks    []swarm.Task
	nodes    []swarm.Node
}

func (f *fakeEngine) ServiceList(context.Context, client.ServiceListOptions) (client.ServiceListResult, error) {
	return client.ServiceListResult{Items: f.services}, nil
}

func (f *fakeEngine) TaskList(context.Context, client.TaskListOptions) (client.TaskListResult, error) {
	return client.TaskListResult{Items: f.tasks}, nil
}

func (f *fakeEngine) NodeList(context.Context, client.NodeListOptions) (client.NodeListResult, error) {
	return client.NodeListResult{Items: f.nodes}, nil
}

func (f *fakeEngine) NetworkList(context.Context, client.NetworkListOptions) (client.NetworkListResult, error) {
	return client.NetworkListResult{Items: f.networks}, nil
}

func (f *fakeEngine) ContainerList(_ context.Context, opts client.ContainerListOptions) (client.ContainerListResult, error) {
	if opts.All {
		return client.ContainerListResult{Items: append(slices.Clone(f.containers), f.starting...)}, nil
	}
	return client.ContainerListResult{Items: f.containers}, nil
}

func (f *fakeEngine) ContainerInspect(_ context.Context, id string, _ client.ContainerInspectOptions) (client.ContainerInspectResult, error) {
	for i, c := range f.starting {
		if c.ID == id {
			c.State = container.StateRunning
			f.containers = append(f.containers, c)
			f.starting = slices.Delete(f.starting, i, i+1)
			return client.ContainerInspectResult{}, nil
		}
	}
	return client.ContainerInspectResult{}, errors.New("not faked")
}

func (f *fakeEngine) ContainerLogs(context.Context, string, client.ContainerLogsOptions) (client.ContainerLogsResult, error) {
	return nil, errors.New("not faked")
}

func (f *fakeEngine) ImageInspect(_ context.Context, ref string, _ ...client.ImageInspectOption) (client.ImageInspectResult, error) {
	if f.present[ref] {
		return client.ImageInspectResult{}, nil
	}
	return client.ImageInspectResult{}, errors.New("No such image: " + ref)
}

func (f *fakeEngine) DistributionInspect(_ context.Context, ref string, _ client.DistributionInspectOptions) (client.DistributionInspectResult, error) {
	archs, ok := f.platforms[ref]
	if !ok {
		return client.DistributionInspectResult{}, f.regErr
	}
	var ps []ocispec.Platform
	for _, a := range archs {
		ps = append(ps, ocispec.Platform{OS: "linux", Architecture: a})
	}
	return client.DistributionInspectResult{DistributionInspect: registry.DistributionInspect{Platforms: ps}}, nil
}

func testEnv(mutate func(*Env)) *Env {
	env := &Env{
		GOOS:     "linux",
		Getenv:   func(string) string { return "" },
		LookPath: func(string) (string, error) { return "", errors.New("not found") },
		Exec:     func(context.Context, string, ...string) ([]byte, error) { return nil, errors.New("no") },
		Engine: &Engine{Facts: EngineFacts{Version: "24.0.0", APIVersion: "1.43", OS: "linux", Arch: "x86_64"},
			NCPU: 8, MemTotal: 16 << 30, RootDir: "/var/lib/docker", Local: true,
			API: &fakeEngine{present: map[string]bool{}, platforms: map[string][]string{}}},
		Plan: Plan{Project: "dataeco",
			Services: []ServiceNeed{
				{Service: "broker", Component: "kafka", MinMiB: 1280, LimitMiB: 1792, Image: "confluentinc/cp-server:7.9.9"},
				{Service: "control-center", Component: "control-center", MinMiB: 1024, LimitMiB: 2048, Image: "confluentinc/cp-enterprise-control-center:7.9.9"},
			},
			Ports:   []PortNeed{{Service: "broker", HostIP: "127.0.0.1", Port: 9092, Flag: "kafka-port"}},
			Lighter: map[string]int64{"control-center": 2048},
			Flags: Flags{Components: "--components", WorkerCores: "--spark-worker-cores", Registry: "--registry",
				Memory: []string{"--kafka-heap", "--cassandra-heap", "--spark-worker-memory"},
				Listen: "--listen", Expose: "--expose", AllowUnauthenticated: "--allow-unauthenticated"},
		},
		Listen:    func(string, string) (net.Listener, error) { return fakeListener{}, nil },
		FreeBytes: func(string) (uint64, error) { return 100e9, nil },
	}
	if mutate != nil {
		mutate(env)
	}
	return env
}

func linuxRange() (int, int, bool) { return 32768, 60999, true }

type fakeListener struct{ net.Listener }

func (fakeListener) Close() error { return nil }

func TestPrerequisiteChecks(t *testing.T) {
	t.Parallel()
	inUse := func(string, string) (net.Listener, error) { return nil, errors.New("address already in use") }
	tests := []struct {
		name   string
		check  func(context.Context, *Env) Result
		mutate func(*Env)
		want   Status
		msgHas string
		fixHas string
	}{
		{"compose missing warns", checkCompose, nil, Warn, "does not need one", "plugin"},
		{"compose 1.29 passes", checkCompose, func(e *Env) {
			e.LookPath = func(b string) (string, error) { return "/usr/bin/" + b, nil }
			e.Exec = func(_ context.Context, name string, _ ...string) ([]byte, error) {
				if name == "docker" {
					return nil, errors.New("'compose' is not a docker command")
				}
				return []byte("1.29.2\n"), nil
			}
		}, Pass, "docker-compose 1.29.2", ""},
		{"compose too old warns", checkCompose, func(e *Env) {
			e.LookPath = func(b string) (string, error) { return "/usr/bin/" + b, nil }
			e.Exec = func(context.Context, string, ...string) ([]byte, error) {
				return []byte("docker-compose version 1.25.0, build x"), nil
			}
		}, Warn, "older than 1.29", "upgrade"},
		{"plugin v2 passes", checkCompose, func(e *Env) {
			e.LookPath = func(b string) (string, error) { return "/usr/bin/" + b, nil }
			e.Exec = func(context.Context, string, ...string) ([]byte, error) { return []byte("v2.40.3\n"), nil }
		}, Pass, "docker compose 2.40.3", ""},

		{"enough memory", checkResources, nil, Pass, "16.0 GiB", ""},
		{"below minimum fails with Desktop fix", checkResources, func(e *Env) {
			e.Engine.MemTotal = 2 << 30
			e.Engine.Facts.OperatingSys = "Docker Desktop"
		}, Fail, "need at least 2.2 GiB", "Settings → Resources → Memory"},
		{"below recommended warns, offers lighter choices", checkResources, func(e *Env) {
			e.Engine.MemTotal = 3 << 30
			e.Engine.Facts.KernelVersion = "5.15-microsoft-standard-WSL2"
		}, Warn, "may be slow", ".wslconfig"},
		{"lighter choices named", checkResources, func(e *Env) { e.Engine.MemTotal = 3 << 30 }, Warn, "", "leave out control-center (saves 2.0 GiB)"},
		{"colima on mac", checkResources, func(e *Env) { e.Engine.MemTotal = 1 << 30; e.GOOS = "darwin" }, Fail, "", "colima start --memory 3"},
		{"too many spark cores", checkResources, func(e *Env) { e.Plan.SparkCores = 16 }, Warn, "offers 16 cores", "--spark-worker-cores 4"},
		{"engine down skips", checkResources, func(e *Env) { e.Engine = nil }, Skip, "unreachable", ""},

		{"disk plenty", checkDisk, nil, Pass, "2 images to pull", ""},
		{"disk short fails", checkDisk, func(e *Env) { e.FreeBytes = func(string) (uint64, error) { return 2e9, nil } }, Fail, "2.0 GB free", "docker system prune"},
		{"disk tight warns", checkDisk, func(e *Env) { e.FreeBytes = func(string) (uint64, error) { return 12e9, nil } }, Warn, "little room", ""},
		{"disk in a VM skips", checkDisk, func(e *Env) { e.Engine.Local = false }, Skip, "not on this machine", ""},
		{"present images need no room", checkDisk, func(e *Env) {
			e.Engine.API = &fakeEngine{present: map[string]bool{"confluentinc/cp-server:7.9.9": true, "confluentinc/cp-enterprise-control-center:7.9.9": true}}
			e.FreeBytes = func(string) (uint64, error) { return 6e9, nil }
		}, Warn, "0 images to pull", ""},

		{"ports free", checkPorts, nil, Pass, "all 1 ports are free", ""},
		{"port held by a process", checkPorts, func(e *Env) {
			e.Listen = inUse
			e.PortOwner = func(int) (Proc, bool) { return Proc{PID: 42, Name: "java"}, true }
		}, Fail, "port 9092 (broker) is taken by process java (PID 42)", "--kafka-port 19092"},
		{"stale docker-proxy: restart Docker", checkPorts, func(e *Env) {
			e.Listen = inUse
			e.PortOwner = func(int) (Proc, bool) { return Proc{PID: 7, Name: "docker-proxy"}, true }
		}, Fail, "taken by Docker's own port proxy (PID 7) for a container that no longer runs", "restart Docker to free the ports its proxy still holds (`sudo systemctl restart docker`, or restart Docker Desktop), or move dataeco's: `dataeco install --kafka-port 19092`"},
		{"suggested port stays a port", checkPorts, func(e *Env) {
			e.Listen = inUse
			e.Plan.Ports = []PortNeed{{Service: "cassandra", HostIP: "127.0.0.1", Port: 61410, Flag: "cassandra-port"}}
		}, Fail, "port 61410 (cassandra) is taken", "--cassandra-port 62410"},
		{"suggested port is free and not planned", checkPorts, func(e *Env) {
			e.Listen = func(_, addr string) (net.Listener, error) {
				if strings.HasSuffix(addr, ":9092") || strings.HasSuffix(addr, ":19092") || strings.HasSuffix(addr, ":10092") || strings.HasSuffix(addr, ":29092") {
					return nil, syscall.EADDRINUSE
				}
				return fakeListener{}, nil
			}
			e.Plan.Ports = append(e.Plan.Ports, PortNeed{Service: "broker", HostIP: "127.0.0.1", Port: 9093, Flag: "kafka-jmx-port"})
		}, Fail, "port 9092 (broker) is taken by another program", "stop what holds the port, or move dataeco's: `dataeco install --kafka-port 9094`"},
		{"free port in the temporary range warns", checkPorts, func(e *Env) {
			e.EphemeralPorts = linuxRange
			e.Plan.Ports = []PortNeed{{Service: "broker", HostIP: "127.0.0.1", Port: 39092, Flag: "kafka-port"}}
		}, Warn, "39092 (broker) lies in 32768-60999", "choose ports outside 32768-60999: `dataeco install --kafka-port 29092`"},
		{"default ports are outside the temporary range", checkPorts, func(e *Env) { e.EphemeralPorts = linuxRange }, Pass, "all 1 ports are free", ""},
		{"port held by an outgoing connection", checkPorts, func(e *Env) {
			e.EphemeralPorts = linuxRange
			e.Listen = inUse
			e.PortOwner = func(int) (Proc, bool) { return Proc{PID: 42, Name: "java", Outgoing: true}, true }
			e.Plan.Ports = []PortNeed{{Service: "broker", HostIP: "127.0.0.1", Port: 39092, Flag: "kafka-port"}}
		}, Fail, "taken by an outgoing connection of java (PID 42), which the system gave it as a temporary local port",
			"Move dataeco's out of the system's temporary range 32768-60999: `dataeco install --kafka-port 29092`"},
		{"unknown holder in the temporary range", checkPorts, func(e *Env) {
			e.EphemeralPorts = linuxRange
			e.Listen = inUse
			e.Plan.Ports = []PortNeed{{Service: "broker", HostIP: "127.0.0.1", Port: 39092, Flag: "kafka-port"}}
		}, Fail, "or an outgoing connection: it lies in 32768-60999", "--kafka-port 29092"},
		{"suggestions avoid the temporary range", checkPorts, func(e *Env) {
			e.EphemeralPorts = func() (int, int, bool) { return 10000, 60999, true }
			e.Listen = inUse
			e.PortOwner = func(int) (Proc, bool) { return Proc{PID: 42, Name: "java"}, true }
		}, Fail, "taken by process java (PID 42)", "--kafka-port 9093"},
		{"port held by another container", checkPorts, func(e *Env) {
			e.Listen = inUse
			e.Engine.API = &fakeEngine{containers: []container.Summary{{Names: []string{"/kafka-old"}, Labels: map[string]string{},
				Ports: []container.PortSummary{{PublicPort: 9092}}}}}
		}, Fail, "taken by container kafka-old", "--kafka-port 19092"},
		{"port held by another dataeco install names its directory", checkPorts, func(e *Env) {
			e.Listen = inUse
			e.Engine.API = &fakeEngine{containers: []container.Summary{{Names: []string{"/other-broker-1"},
				Labels: map[string]string{"com.docker.compose.project": "other", "com.docker.compose.project.working_dir": "/home/u/other", "io.dataeco.component": "kafka"},
				Ports:  []container.PortSummary{{PublicPort: 9092}}}}}
		}, Fail, "port 9092 (broker) is taken by container other-broker-1 of the dataeco install in /home/u/other (project other)",
			"stop the other install (`dataeco stop --dir /home/u/other`), or move dataeco's: `dataeco install --kafka-port 19092`"},
		{"port held by our own install is fine", checkPorts, func(e *Env) {
			e.Listen = inUse
			e.Engine.API = &fakeEngine{containers: []container.Summary{{Names: []string{"/dataeco-broker-1"},
				Labels: map[string]string{"com.docker.compose.project": "dataeco"}, Ports: []container.PortSummary{{PublicPort: 9092}}}}}
		}, Pass, "held by this install's own containers (9092)", ""},
		{"a start the engine still has in flight is waited for, not taken for a stale proxy", checkPorts, func(e *Env) {
			e.Listen = inUse
			e.PortOwner = func(int) (Proc, bool) { return Proc{PID: 7, Name: "docker-proxy"}, true }
			e.Engine.API = &fakeEngine{starting: []container.Summary{{ID: "b1", Names: []string{"/dataeco-broker-1"}, State: container.StateCreated,
				Labels: map[string]string{"com.docker.compose.project": "dataeco"}, Ports: []container.PortSummary{{PublicPort: 9092}}}}}
		}, Pass, "held by this install's own containers (9092)", ""},
		// A remote engine publishes on its own machine: a port taken only here passes, a port a
		// container there publishes is a conflict, and loopback ports there are out of reach.
		{"remote: a port taken only on this machine passes", checkPorts, func(e *Env) {
			e.Engine.Facts.Target = EngineTarget{Host: "tcp://10.1.2.3:2376", TLS: true, Verified: true}
			e.Listen = inUse
			e.PortOwner = func(int) (Proc, bool) {
				t.Error("asked this machine who holds a port of a remote engine")
				return Proc{}, false
			}
			e.Plan.Ports = []PortNeed{{Service: "broker", HostIP: "0.0.0.0", Port: 9092, Flag: "kafka-port"}}
		}, Pass, "all 1 ports are free; checked against the engine's containers on 10.1.2.3", ""},
		{"remote: a port a container publishes there conflicts", checkPorts, func(e *Env) {
			e.Engine.Facts.Target = EngineTarget{Host: "ssh://me@build-box"}
			e.Engine.API = &fakeEngine{containers: []container.Summary{{Names: []string{"/kafka-old"}, Labels: map[string]string{},
				Ports: []container.PortSummary{{PublicPort: 9092}}}}}
			e.Plan.Ports = []PortNeed{{Service: "broker", HostIP: "0.0.0.0", Port: 9092, Flag: "kafka-port"}}
		}, Fail, "port 9092 (broker) is taken by container kafka-old", "--kafka-port 19092"},
		{"remote: loopback ports there are out of reach from here", checkPorts, func(e *Env) {
			e.Engine.Facts.Target = EngineTarget{Host: "tcp://server.example:2376", TLS: true, Verified: true}
		}, Warn, "published on the loopback of server.example", "--listen 0.0.0.0"},
		{"remote over SSH: loopback ports there are tunnelled", checkPorts, func(e *Env) {
			e.Engine.Facts.Target = EngineTarget{Host: "ssh://me@server.example"}
		}, Pass, "which `dataeco tunnel` forwards here", ""},
		{"a loopback tcp engine is local", checkPorts, func(e *Env) {
			e.Engine.Facts.Target = EngineTarget{Host: "tcp://127.0.0.1:2375"}
			e.Listen = inUse
		}, Fail, "port 9092 (broker) is taken by another program", ""},

		{"images built for the arch", checkImages, func(e *Env) {
			e.Engine.API = &fakeEngine{platforms: map[string][]string{"confluentinc/cp-server:7.9.9": {"amd64", "arm64"},
				"confluentinc/cp-enterprise-control-center:7.9.9": {"amd64"}}}
		}, Pass, "2 images to pull, all built for amd64", ""},
		{"image without arm64", checkImages, func(e *Env) {
			e.Engine.Facts.Arch = "aarch64"
			e.Engine.API = &fakeEngine{platforms: map[string][]string{"confluentinc/cp-server:7.9.9": {"amd64", "arm64"},
				"confluentinc/cp-enterprise-control-center:7.9.9": {"amd64"}}}
		}, Fail, "no arm64 build of confluentinc/cp-enterprise-control-center", "--components"},
		{"offline warns naming --registry", checkImages, func(e *Env) {
			e.Engine.API = &fakeEngine{regErr: errors.New("lookup registry-1.docker.io: no such host")}
		}, Warn, "could not ask the registry about 2 of 2", "--registry"},

		{"no proxy", checkProxy, nil, Pass, "no HTTP proxy", ""},
		{"proxy without NO_PROXY", checkProxy, func(e *Env) {
			e.Getenv = func(k string) string {
				if k == "https_proxy" {
					return "http://user:secret@proxy.corp:3128"
				}
				return ""
			}
		}, Warn, "http://***@proxy.corp:3128", "NO_PROXY=localhost,127.0.0.1"},
		{"proxy with NO_PROXY", checkProxy, func(e *Env) {
			e.Getenv = func(k string) string {
				return map[string]string{"HTTP_PROXY": "http://p:3128", "NO_PROXY": "localhost,127.0.0.1,.corp"}[k]
			}
		}, Pass, "image builds and the Airflow containers (their tasks) go through it", ""},

		{"loopback only passes", checkExposure, nil, Pass, "nothing is reachable from other machines", ""},
		{"exposed without authentication fails", checkExposure, func(e *Env) {
			e.Plan.Ports = []PortNeed{
				{Service: "broker", HostIP: "0.0.0.0", Port: 9092, What: "Kafka (host listener)"},
				{Service: "cassandra", HostIP: "0.0.0.0", Port: 9042, What: "Cassandra CQL", Auth: "password"},
				{Service: "spark-master", HostIP: "127.0.0.1", Port: 7077, What: "Spark master RPC"},
			}
		}, Fail, "with no authentication: Kafka (host listener) 9092 (anyone", "--allow-unauthenticated"},
		{"every address counts as exposed", checkExposure, func(e *Env) {
			e.Plan.Ports = []PortNeed{{Service: "spark-master", HostIP: "", Port: 7077, What: "Spark master RPC"}}
		}, Fail, "Spark master RPC 7077", "--listen 127.0.0.1"},
		{"exposed and accepted warns", checkExposure, func(e *Env) {
			e.Plan.AllowUnauthenticated = true
			e.Plan.Ports = []PortNeed{{Service: "broker", HostIP: "192.0.2.10", Port: 9092, What: "Kafka (host listener)"}}
		}, Warn, "by anyone, as --allow-unauthenticated allows: Kafka (host listener) 9092", "--listen 127.0.0.1"},
		{"exposed with authentication only passes", checkExposure, func(e *Env) {
			e.Plan.Ports = []PortNeed{{Service: "cassandra", HostIP: "::", Port: 9042, What: "Cassandra CQL", Auth: "password (Cassandra roles)"}}
		}, Pass, "each with authentication: Cassandra CQL 9042 (password (Cassandra roles))", ""},

		{"engine down reported", checkEngine, func(e *Env) {
			e.Engine = nil
			e.EngineDown = &Result{Status: Fail, Message: "the Docker daemon is not running", Fix: "start Docker"}
		}, Fail, "not running", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := tt.check(context.Background(), testEnv(tt.mutate))
			if r.Status != tt.want {
				t.Errorf("status %s, want %s: %s", r.Status, tt.want, r.Message)
			}
			if !strings.Contains(r.Message, tt.msgHas) {
				t.Errorf("message %q lacks %q", r.Message, tt.msgHas)
			}
			if !strings.Contains(r.Fix, tt.fixHas) {
				t.Errorf("fix %q lacks %q", r.Fix, tt.fixHas)
			}
			if (r.Status == Fail || r.Status == Warn) && r.Fix == "" {
				t.Errorf("a %s without a fix", r.Status)
			}
		})
	}
}

func TestRunSkipsAndLabels(t *testing.T) {
	t.Parallel()
	res := Run(context.Background(), testEnv(nil), Prerequisites(), map[string]string{IDPorts: "skipped by --skip-check ports"})
	if len(res) != len(Prerequisites()) {
		t.Fatalf("got %d results", len(res))
	}
	for _, r := range res {
		if r.ID == "" || r.Title == "" {
			t.Errorf("result without ID or title: %+v", r)
		}
		if r.ID == IDPorts && (r.Status != Skip || !strings.Contains(r.Message, "--skip-check ports")) {
			t.Errorf("skipped check: %+v", r)
		}
	}
}

func TestPortOwnerFromProc(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	p, ok := PortOwner(l.Addr().(*net.TCPAddr).Port)
	if !ok {
		t.Skip("this system does not expose /proc sockets")
	}
	if p.PID == 0 || p.Name == "" {
		t.Errorf("owner %+v", p)
	}
}

// TestRunConcurrently: the checks run at once (each waits for all to have started) and the
// results keep the list's order.
func TestRunConcurrently(t *testing.T) {
	t.Parallel()
	var started sync.WaitGroup
	list := []Check{}
	for _, id := range []string{"a", "b", "c"} {
		started.Add(1)
		list = append(list, Check{ID: id, Title: id, Run: func(context.Context, *Env) Result {
			started.Done()
			started.Wait() // deadlocks unless all three run at once
			return Result{Status: Pass, Message: id}
		}})
	}
	done := make(chan []Result)
	go func() { done <- RunConcurrently(context.Background(), &Env{}, list, map[string]string{}) }()
	select {
	case res := <-done:
		for i, id := range []string{"a", "b", "c"} {
			if res[i].ID != id || res[i].Message != id {
				t.Errorf("result %d: %+v", i, res[i])
			}
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the checks did not run at once")
	}
}

// TestFreePorts: --any-port moves what the ports check would flag, and only that.
func TestFreePorts(t *testing.T) {
	t.Parallel()
	busy := func(ports ...int) func(string, string) (net.Listener, error) {
		return func(_, addr string) (net.Listener, error) {
			for _, p := range ports {
				if strings.HasSuffix(addr, fmt.Sprintf(":%d", p)) {
					return nil, syscall.EADDRINUSE
				}
			}
			return fakeListener{}, nil
		}
	}
	two := []PortNeed{{Service: "broker", HostIP: "127.0.0.1", Port: 9092, Flag: "kafka-port"},
		{Service: "cassandra", HostIP: "127.0.0.1", Port: 9042, Flag: "cassandra-port"}}
	for _, tt := range []struct {
		name   string
		mutate func(*Env)
		want   []PortMove
	}{
		{"all free: nothing moves", func(e *Env) { e.Plan.Ports = two }, nil},
		{"a taken port moves to a free one", func(e *Env) {
			e.Plan.Ports = two
			e.Listen = busy(9092, 19092)
			e.PortOwner = func(int) (Proc, bool) { return Proc{PID: 42, Name: "java"}, true }
		}, []PortMove{{Flag: "kafka-port", Service: "broker", From: 9092, To: 10092, Why: "taken by process java (PID 42)"}}},
		{"a free port in the temporary range moves out of it", func(e *Env) {
			e.EphemeralPorts = linuxRange
			e.Plan.Ports = []PortNeed{{Service: "broker", HostIP: "127.0.0.1", Port: 39092, Flag: "kafka-port"}}
		}, []PortMove{{Flag: "kafka-port", Service: "broker", From: 39092, To: 29092, Why: "in 32768-60999, the system's temporary range"}}},
		{"this install's own ports stay", func(e *Env) {
			e.Listen = busy(9092)
			e.Engine.API = &fakeEngine{containers: []container.Summary{{Names: []string{"/dataeco-broker-1"},
				Labels: map[string]string{"com.docker.compose.project": "dataeco"}, Ports: []container.PortSummary{{PublicPort: 9092}}}}}
		}, nil},
		{"moves never land on each other or on a planned port", func(e *Env) {
			e.Plan.Ports = []PortNeed{{Service: "broker", HostIP: "127.0.0.1", Port: 9092, Flag: "kafka-port"},
				{Service: "jmx", HostIP: "127.0.0.1", Port: 19092, Flag: "kafka-jmx-port"},
				{Service: "other", HostIP: "127.0.0.1", Port: 10092, Flag: "other-port"}}
			e.Listen = busy(9092, 10092)
		}, []PortMove{{Flag: "kafka-port", Service: "broker", From: 9092, To: 29092, Why: "taken by another program"},
			{Flag: "other-port", Service: "other", From: 10092, To: 20092, Why: "taken by another program"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := FreePorts(context.Background(), testEnv(tt.mutate))
			if !slices.Equal(got, tt.want) {
				t.Errorf("FreePorts = %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestHealthStartInterval(t *testing.T) {
	t.Parallel()
	composes := func(plugin, standalone string) func(*Env) {
		return func(e *Env) {
			e.LookPath = func(b string) (string, error) {
				if (b == "docker" && plugin == "") || (b == "docker-compose" && standalone == "") {
					return "", errors.New("not found")
				}
				return "/usr/bin/" + b, nil
			}
			e.Exec = func(_ context.Context, name string, _ ...string) ([]byte, error) {
				if name == "docker" {
					return []byte(plugin), nil
				}
				return []byte(standalone), nil
			}
		}
	}
	tests := []struct {
		name    string
		api     string
		mutate  func(*Env)
		want    bool
		blocker string
	}{
		{"engine 20.10 never asks the composes", "1.41", func(e *Env) {
			e.LookPath = func(string) (string, error) {
				t.Error("looked for a compose on an old engine")
				return "", errors.New("no")
			}
		}, false, ""},
		{"engine 25 with no compose", "1.44", composes("", ""), true, ""},
		{"engine 25 with plugin 2.40", "1.44", composes("v2.40.3\n", ""), true, ""},
		{"engine 27 with docker-compose 1.29 beside the plugin", "1.47", composes("2.40.3", "1.29.2"), false, "docker-compose 1.29.2 refuses"},
		{"plugin before 2.20.2", "1.45", composes("2.20.1", ""), false, "docker compose 2.20.1 refuses"},
		{"plugin 2.20.2", "1.45", composes("2.20.2", ""), true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := testEnv(tt.mutate)
			env.Engine.Facts.APIVersion = tt.api
			ok, blocker := HealthStartInterval(context.Background(), env)
			if ok != tt.want || !strings.Contains(blocker, tt.blocker) || (tt.blocker == "" && blocker != "") {
				t.Errorf("got %v %q, want %v %q", ok, blocker, tt.want, tt.blocker)
			}
		})
	}
	env := testEnv(nil)
	env.Engine = nil
	if ok, _ := HealthStartInterval(context.Background(), env); ok {
		t.Error("an unreachable engine counts as one that runs start_interval")
	}
}

func TestEngineTarget(t *testing.T) {
	t.Parallel()
	tests := []struct {
		target      EngineTarget
		remote, via string
		status      Status
		msgHas      string
	}{
		{EngineTarget{Host: "unix:///var/run/docker.sock"}, "", "unix socket", Pass, "context default)"},
		{EngineTarget{Host: "npipe:////./pipe/docker_engine"}, "", "named pipe", Pass, "context default)"},
		{EngineTarget{Host: "tcp://127.0.0.1:2375"}, "", "TCP without TLS", Pass, "at tcp://127.0.0.1:2375 over TCP"},
		{EngineTarget{Host: "tcp://localhost:2376", TLS: true, Verified: true}, "", "TCP with TLS, the engine's certificate verified", Pass, ""},
		{EngineTarget{Host: "tcp://10.0.0.5:2376", TLS: true, Verified: true}, "10.0.0.5", "verified", Pass, "on another machine, 10.0.0.5"},
		{EngineTarget{Host: "tcp://[fd00::5]:2376", TLS: true}, "fd00::5", "NOT verified", Pass, "fd00::5"},
		{EngineTarget{Host: "tcp://build.example:2375"}, "build.example", "without TLS", Warn, "without TLS, so anyone"},
		{EngineTarget{Host: "ssh://me@build.example"}, "build.example", "SSH", Pass, "over SSH"},
		{EngineTarget{Host: "ssh://me@127.0.0.1:2222"}, "", "SSH", Pass, ""},
	}
	for _, tt := range tests {
		t.Run(tt.target.Host, func(t *testing.T) {
			t.Parallel()
			if got := tt.target.RemoteHost(); got != tt.remote {
				t.Errorf("RemoteHost() = %q, want %q", got, tt.remote)
			}
			if got := tt.target.Via(); !strings.Contains(got, tt.via) {
				t.Errorf("Via() = %q, want it to say %q", got, tt.via)
			}
			r := EngineVersion(EngineFacts{Version: "27.3.1", APIVersion: "1.47", OS: "linux", Arch: "x86_64", Context: "default", Target: tt.target})
			if r.Status != tt.status || !strings.Contains(r.Message, tt.msgHas) {
				t.Errorf("got %s %q, want %s containing %q", r.Status, r.Message, tt.status, tt.msgHas)
			}
			if tt.status == Warn && !strings.Contains(r.Fix, "ssh://") {
				t.Errorf("fix %q names no safer way in", r.Fix)
			}
		})
	}
}
