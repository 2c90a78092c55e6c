package checks

import (
	"context"
	"net"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// EngineAPI is the part of the Docker API the checks use; tests pass a fake.
type EngineAPI interface {
	ContainerAPI
	ContainerList(ctx context.Context, opts client.ContainerListOptions) (client.ContainerListResult, error)
	NetworkList(ctx context.Context, opts client.NetworkListOptions) (client.NetworkListResult, error)
	ImageInspect(ctx context.Context, ref string, opts ...client.ImageInspectOption) (client.ImageInspectResult, error)
	DistributionInspect(ctx context.Context, ref string, opts client.DistributionInspectOptions) (client.DistributionInspectResult, error)
	// A swarm install's services, their tasks and the nodes they run on.
	ServiceList(ctx context.Context, opts client.ServiceListOptions) (client.ServiceListResult, error)
	TaskList(ctx context.Context, opts client.TaskListOptions) (client.TaskListResult, error)
	NodeList(ctx context.Context, opts client.NodeListOptions) (client.NodeListResult, error)
}

// Engine is a reachable Docker engine and what it said about itself.
type Engine struct {
	Facts    EngineFacts
	NCPU     int
	MemTotal int64  // bytes the engine can give containers (the VM's memory on Docker Desktop)
	RootDir  string // where the engine keeps images and volumes
	// Local is true when RootDir is on this machine's filesystem (not inside a VM or remote).
	Local bool
	API   EngineAPI
}

// ServiceNeed is one row of the resource table: what a service needs to start (Min) and what
// it is given (Limit, its mem_limit).
type ServiceNeed struct {
	Service   string
	Component string
	MinMiB    int64
	LimitMiB  int64
	Image     string
	// ImageBytes is roughly what pulling Image takes on disk, for the disk check.
	ImageBytes int64
	// Built is the image dataeco builds FROM Image for the service, if any: when it is
	// present, Image is not needed.
	Built string
	// Spread: on a swarm, the service runs on whichever nodes swarm picks (the Spark
	// workers), not on the node the engine runs on.
	Spread bool
}

// PortNeed is one host port the stack publishes.
type PortNeed struct {
	Service string
	HostIP  string
	Port    int
	Flag    string // the flag that remaps it
	What    string // what it is, for people: "Kafka (host listener)"
	// Auth is how a client proves who it is there; empty: anyone who reaches it gets in.
	Auth string
}

// Plan is what the install would run, as far as the checks care.
type Plan struct {
	Project    string
	Services   []ServiceNeed
	Ports      []PortNeed
	SparkCores int // cores of each Spark worker
	Workers    int
	// Lighter lists the components a user could leave out to save memory, with the MiB each saves.
	Lighter map[string]int64
	// AllowUnauthenticated: the user accepted ports without authentication on the network.
	AllowUnauthenticated bool
	// Subnet is the range asked for the stack's network; "" lets the engine pick.
	Subnet string
	// Flags are the flags a fix can name.
	Flags Flags
	// Swarm: the stack is deployed to the swarm the engine manages (see ServiceNeed.Spread).
	Swarm bool
}

// Flags are the command-line flags a fix can point at; the CLI owns their spelling, so the
// checks are told them rather than writing them down.
type Flags struct {
	Components  string   // installs fewer components
	WorkerCores string   // the cores each Spark worker offers
	Registry    string   // pulls through a mirror
	Memory      []string // lower what the services are given
	Listen      string   // the address ports are published on
	Expose      string   // names ports kept off the network by default
	// AllowUnauthenticated accepts ports without authentication on the network.
	AllowUnauthenticated string
	Subnet               string // the stack network's address range
}

// Proc is a process holding a port.
type Proc struct {
	PID  int
	Name string
	// Outgoing: the port is the local end of one of the process's connections, not a server.
	Outgoing bool
}

// Env is everything the checks read, injected so each check can be table-tested with fakes.
type Env struct {
	GOOS     string
	Getenv   func(string) string
	LookPath func(string) (string, error)
	// Exec runs a command and returns its standard output.
	Exec func(ctx context.Context, name string, args ...string) ([]byte, error)
	// VersionOf is Exec for a query whose answer depends only on the binary run (its
	// version): it may answer with what the same file printed before. Nil means Exec.
	VersionOf func(ctx context.Context, name string, args ...string) ([]byte, error)

	// Engine is nil when the daemon could not be reached; EngineDown then says why.
	Engine     *Engine
	EngineDown *Result

	Plan Plan
	// Stack is the installed stack, nil when nothing is installed.
	Stack *Stack
	// Smoke says where the installed stack answers, for the smoke checks.
	Smoke *SmokeTarget

	Listen    func(network, addr string) (net.Listener, error)
	PortOwner func(port int) (Proc, bool)
	// EphemeralPorts is the range the system takes outgoing connections' local ports from.
	EphemeralPorts func() (lo, hi int, ok bool)
	FreeBytes      func(path string) (uint64, error)
	// Routes is the host's routing table; nil where it cannot be read.
	Routes func() ([]Route, error)
}

// containerPorts is a helper for matching containers to a port.
func containerHoldsPort(c container.Summary, port int) bool {
	for _, p := range c.Ports {
		if int(p.PublicPort) == port {
			return true
		}
	}
	return false
}

// Loopback says whether every planned port is published on a loopback address only.
func (p Plan) Loopback() bool {
	for _, n := range p.Ports {
		if ip := net.ParseIP(strings.Trim(n.HostIP, "[]")); ip == nil || !ip.IsLoopback() {
			return false
		}
	}
	return len(p.Ports) > 0
}
