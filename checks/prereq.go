package checks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/docker/cli/cli/compose/convert"
	"github.com/docker/compose/v5/pkg/api"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// Check IDs. They are stable: docs/checks.md has a section for each, and --skip-check and
// doctor --check take them.
const (
	IDCompose   = "compose"
	IDResources = "resources"
	IDDisk      = "disk"
	IDPorts     = "ports"
	IDImages    = "images"
	IDProxy     = "proxy"
	IDExposure  = "exposure"
	IDSubnet    = "subnet"
)

// Check is one inspection with a stable ID.
type Check struct {
	ID    string
	Title string
	Run   func(ctx context.Context, env *Env) Result
}

// Prerequisites are the checks install and start run before changing anything, and doctor
// runs first.
func Prerequisites() []Check {
	return []Check{
		{IDDockerEngine, "Docker engine", checkEngine},
		{IDCompose, "Compose for managing the files by hand", checkCompose},
		{IDResources, "CPU and memory of the Docker engine", checkResources},
		{IDDisk, "Free disk for images and volumes", checkDisk},
		{IDPorts, "Host ports", checkPorts},
		{IDImages, "Images for the engine's architecture", checkImages},
		{IDProxy, "Proxy settings", checkProxy},
		{IDExposure, "What other machines can reach", checkExposure},
		{IDSubnet, "The stack's network range", checkSubnet},
	}
}

// Run runs checks in order, filling in ID and Title. skip maps the IDs not to run to the
// reason each is skipped.
func Run(ctx context.Context, env *Env, list []Check, skip map[string]string) []Result {
	out := make([]Result, len(list))
	for i, c := range list {
		out[i] = runOne(ctx, env, c, skip)
	}
	return out
}

// RunConcurrently is Run with every check at once, the results still in the list's order:
// for checks that do not depend on each other and only read env, like the smoke checks,
// which then take as long as the slowest (the pipeline's wait for its record) rather than
// the sum.
func RunConcurrently(ctx context.Context, env *Env, list []Check, skip map[string]string) []Result {
	out := make([]Result, len(list))
	var wg sync.WaitGroup
	for i, c := range list {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = runOne(ctx, env, c, skip)
		}()
	}
	wg.Wait()
	return out
}

func runOne(ctx context.Context, env *Env, c Check, skip map[string]string) Result {
	var r Result
	if why, ok := skip[c.ID]; ok {
		r = Result{Status: Skip, Message: why}
	} else {
		start := time.Now()
		r = c.Run(ctx, env)
		r.DurationMS = time.Since(start).Milliseconds()
	}
	r.ID, r.Title = c.ID, c.Title
	return r
}

func engineDown(env *Env) (Result, bool) {
	if env.Engine != nil {
		return Result{}, false
	}
	return Result{Status: Skip, Message: "the Docker engine is unreachable (see docker-engine)"}, true
}

func checkEngine(_ context.Context, env *Env) Result {
	if env.Engine == nil {
		if env.EngineDown != nil {
			return *env.EngineDown
		}
		return Result{Status: Fail, Message: "the Docker engine is unreachable", Fix: "start Docker and run `docker info`"}
	}
	return EngineVersion(env.Engine.Facts)
}

var composeVersionRE = regexp.MustCompile(`v?(\d+\.\d+(\.\d+)?)`)

// composeCLI is a compose the user can run by hand, and its version.
type composeCLI struct{ name, version string }

// composeCLIs finds the composes the user would run by hand on ~/.dataeco: the docker
// compose plugin and the standalone docker-compose. dataeco itself carries Compose inside.
func composeCLIs(ctx context.Context, env *Env) []composeCLI {
	var have []composeCLI
	try := func(label, bin string, args ...string) {
		if _, err := env.LookPath(bin); err != nil {
			return
		}
		run := env.Exec
		// docker-compose 1.x is Python: half a second to start, on every install. Its
		// version is the file's; `docker compose` is a plugin docker finds, so not cached.
		if bin == "docker-compose" && env.VersionOf != nil {
			run = env.VersionOf
		}
		out, err := run(ctx, bin, args...)
		if err != nil {
			return
		}
		if m := composeVersionRE.FindStringSubmatch(string(out)); m != nil {
			have = append(have, composeCLI{label, m[1]})
		}
	}
	try("docker compose", "docker", "compose", "version", "--short")
	try("docker-compose", "docker-compose", "version", "--short")
	return have
}

// checkCompose reports the composes the user can manage the install dir with.
func checkCompose(ctx context.Context, env *Env) Result {
	have := composeCLIs(ctx, env)
	r := Result{Details: map[string]string{}}
	var parts []string
	best := ""
	for _, f := range have {
		r.Details[f.name] = f.version
		parts = append(parts, f.name+" "+f.version)
		if best == "" || versionLess(best, f.version) {
			best = f.version
		}
	}
	switch {
	case best == "":
		r.Status, r.Message = Warn, "no docker compose plugin or docker-compose found; dataeco does not need one (Compose is built in)"
		r.Fix = "only to manage ~/.dataeco/docker-compose.yml by hand: install the Docker Compose plugin (1.29 or newer)"
	case versionLess(best, "1.29"):
		r.Status, r.Message = Warn, fmt.Sprintf("%s is older than 1.29; dataeco does not need it (Compose is built in)", strings.Join(parts, ", "))
		r.Fix = "only to manage the files by hand: upgrade to Compose 1.29 or newer"
	default:
		r.Status, r.Message = Pass, strings.Join(parts, ", ")
	}
	return r
}

// The healthcheck key start_interval (checks every start_interval during start_period rather
// than every interval) is run by the engine from API 1.44 (Engine 25) and read by Compose from
// v2.20.2; docker-compose 1.x and older v2 refuse a file that has it.
const (
	StartIntervalAPI     = "1.44"
	StartIntervalCompose = "2.20.2"
)

// HealthStartInterval says whether the compose file may carry start_interval on this machine:
// the engine runs it and no compose on the PATH refuses it (the file must stay usable by
// hand). blocker names what stands in the way when the engine would run it; it is empty when
// the engine is older, the usual case, or unknown. The composes are only looked for on a new
// enough engine, so an older one costs nothing.
func HealthStartInterval(ctx context.Context, env *Env) (ok bool, blocker string) {
	if env.Engine == nil || versionLess(env.Engine.Facts.APIVersion, StartIntervalAPI) {
		return false, ""
	}
	for _, c := range composeCLIs(ctx, env) {
		if versionLess(c.version, StartIntervalCompose) {
			return false, fmt.Sprintf("%s %s refuses the key (it needs %s or newer)", c.name, c.version, StartIntervalCompose)
		}
	}
	return true, ""
}

// checkResources compares the engine's CPUs and memory with what the chosen services need.
func checkResources(ctx context.Context, env *Env) Result {
	if r, down := engineDown(env); down {
		return r
	}
	if env.Plan.Swarm {
		return checkSwarmResources(ctx, env)
	}
	e := env.Engine
	var minMiB, limitMiB int64
	for _, s := range env.Plan.Services {
		minMiB += s.MinMiB
		limitMiB += s.LimitMiB
	}
	haveMiB := e.MemTotal >> 20
	r := Result{Details: map[string]string{
		"engine_cpus": fmt.Sprint(e.NCPU), "engine_memory_mib": fmt.Sprint(haveMiB),
		"minimum_mib": fmt.Sprint(minMiB), "recommended_mib": fmt.Sprint(limitMiB),
	}}
	msg := fmt.Sprintf("the engine has %d CPUs and %s; the chosen services need at least %s, %s recommended",
		e.NCPU, mib(haveMiB), mib(minMiB), mib(limitMiB))
	lighter := lighterChoices(env.Plan.Lighter, env.Plan.Flags)
	switch {
	case haveMiB < minMiB:
		r.Status, r.Message = Fail, msg
		r.Fix = moreMemoryFix(env, e, minMiB) + lighter
	case haveMiB < limitMiB:
		r.Status, r.Message = Warn, msg+"; services may be slow or killed for memory under load"
		r.Fix = moreMemoryFix(env, e, limitMiB) + lighter
	case e.NCPU < 2:
		r.Status, r.Message = Warn, msg+"; with one CPU the JVMs start very slowly"
		r.Fix = moreMemoryFix(env, e, limitMiB)
	case env.Plan.SparkCores > e.NCPU:
		r.Status, r.Message = Warn, msg+fmt.Sprintf("; each Spark worker offers %d cores but the engine has %d", env.Plan.SparkCores, e.NCPU)
		r.Fix = fmt.Sprintf("run `dataeco install %s %d`", env.Plan.Flags.WorkerCores, max(1, e.NCPU/2))
	default:
		r.Status, r.Message = Pass, msg
	}
	return r
}

func lighterChoices(m map[string]int64, flags Flags) string {
	if len(m) == 0 {
		return ""
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] })
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s (saves %s)", k, mib(m[k])))
	}
	return "; or install less: leave out " + strings.Join(parts, ", ") +
		" with `dataeco install " + flags.Components + " ...`, or lower " + strings.Join(flags.Memory, ", ")
}

// moreMemoryFix says where this user's engine gets its memory from.
func moreMemoryFix(env *Env, e *Engine, needMiB int64) string {
	gib := (needMiB + 1023) / 1024
	switch e.Facts.Flavour() {
	case "Docker Desktop":
		return fmt.Sprintf("give Docker Desktop at least %d GB: Settings → Resources → Memory", gib)
	case "WSL2":
		return fmt.Sprintf("give WSL2 at least %d GB: set `memory=%dGB` under [wsl2] in %%UserProfile%%\\.wslconfig, then `wsl --shutdown`", gib, gib)
	}
	if env.GOOS == "darwin" {
		return fmt.Sprintf("give the Docker VM at least %d GB (colima: `colima start --memory %d`)", gib, gib)
	}
	return fmt.Sprintf("free memory on this machine or use a larger one (at least %d GB for containers)", gib)
}

func mib(n int64) string {
	if n >= 1024 {
		return fmt.Sprintf("%.1f GiB", float64(n)/1024)
	}
	return fmt.Sprintf("%d MiB", n)
}

// checkDisk compares free space where the engine keeps images and volumes with the images
// still to pull plus room for data.
func checkDisk(ctx context.Context, env *Env) Result {
	if r, down := engineDown(env); down {
		return r
	}
	e := env.Engine
	const headroom = 5 << 30
	var need int64 = headroom
	missing := imagesToPull(ctx, env)
	for _, img := range missing {
		need += imageBytes(env.Plan, img)
	}
	r := Result{Details: map[string]string{"root_dir": e.RootDir, "needed_bytes": fmt.Sprint(need), "images_to_pull": fmt.Sprint(len(missing))}}
	if !e.Local || env.FreeBytes == nil {
		r.Status = Skip
		r.Message = fmt.Sprintf("the engine keeps its data in %s, which is not on this machine's filesystem (a VM or a remote engine); about %s is needed", e.RootDir, gb(need))
		return r
	}
	free, err := env.FreeBytes(e.RootDir)
	if err != nil {
		r.Status, r.Message = Skip, fmt.Sprintf("cannot measure free space in %s: %v", e.RootDir, err)
		return r
	}
	r.Details["free_bytes"] = fmt.Sprint(free)
	msg := fmt.Sprintf("%s free in %s; %d images to pull plus room for data need about %s", gb(int64(free)), e.RootDir, len(missing), gb(need))
	switch {
	case int64(free) < need:
		r.Status, r.Message = Fail, msg
		r.Fix = "free space (`docker system prune` removes unused images and build cache) or move Docker's data-root to a larger disk"
	case int64(free) < need+10<<30:
		r.Status, r.Message = Warn, msg+"; little room left for data"
		r.Fix = "`docker system prune` frees unused images and build cache"
	default:
		r.Status, r.Message = Pass, msg
	}
	return r
}

// imageBytes is the largest size the plan gives an image (its first service usually
// carries it), or 1 GB when none does.
func imageBytes(p Plan, ref string) int64 {
	var n int64
	for _, s := range p.Services {
		if s.Image == ref {
			n = max(n, s.ImageBytes)
		}
	}
	if n == 0 {
		return 1 << 30
	}
	return n
}

func gb(n int64) string { return fmt.Sprintf("%.1f GB", float64(n)/1e9) }

// checkPorts binds every port the stack publishes. A port held by this project's own
// containers is not a conflict: install will reuse them. A free port in the system's range
// for outgoing connections' local ports is a warning: any connection may take it between
// this check and the start, or before a later restart, and Docker then cannot publish it.
func checkPorts(ctx context.Context, env *Env) Result {
	return newPortScan(ctx, env).result()
}

// newPortScan scans every port of the plan.
func newPortScan(ctx context.Context, env *Env) *portScan {
	sc := &portScan{ctx: ctx, env: env, taken: map[int]bool{}, containers: runningContainers(ctx, env)}
	if e := env.Engine; e != nil && e.Facts.Target.RemoteHost() != "" {
		// The engine publishes the ports on its own machine. From here dataeco can neither bind
		// there nor see that machine's processes or port range: what it sees is the engine's
		// containers, whose published ports stand in for the binds.
		remote := *env
		remote.Listen, remote.PortOwner, remote.EphemeralPorts = sc.containerBind, nil, nil
		sc.env, sc.remote = &remote, e.Facts.Target.RemoteHost()
	}
	sc.eph = ephemeralRange(sc.env)
	for _, p := range env.Plan.Ports {
		sc.taken[p.Port] = true
	}
	for _, p := range env.Plan.Ports {
		sc.scan(p)
	}
	return sc
}

// portScan collects what checkPorts finds, port by port.
type portScan struct {
	ctx        context.Context
	env        *Env
	remote     string // the engine's machine, when it is not this one
	settled    bool   // the engine's starts in flight were waited for (settle)
	eph        portRange
	taken      map[int]bool // planned or suggested: never suggested again
	containers []containerOwner

	conflicts, fixes, own, risky, moves []string
	// What holds the conflicting ports decides the fix: a stale Docker proxy wants a
	// restart, another program wants stopping, a temporary port wants moving away.
	staleProxy, otherOwner, temporary bool
	// otherInstalls are the directories of other dataeco installs holding ports.
	otherInstalls []string
	moved         []PortMove
}

// PortMove is one published port moved to a free one, as --any-port applies it.
type PortMove struct {
	Flag, Service string
	From, To      int
	Why           string // "taken by …", or "in …, the system's temporary range"
}

// FreePorts scans the plan's ports as the ports check does and, for each one that is taken
// (by anything but this install's own containers) or lies in the system's range for outgoing
// connections' local ports, picks a port that is free now, outside that range and not planned
// for anything else. The ports check names these as fixes; --any-port applies them.
func FreePorts(ctx context.Context, env *Env) []PortMove {
	sc := newPortScan(ctx, env)
	return sc.moved
}

func runningContainers(ctx context.Context, env *Env) []containerOwner {
	if env.Engine == nil {
		return nil
	}
	list, err := env.Engine.API.ContainerList(ctx, client.ContainerListOptions{})
	if err != nil {
		return nil
	}
	var out []containerOwner
	for _, c := range list.Items {
		o := containerOwner{name: strings.TrimPrefix(firstName(c.Names), "/"), project: c.Labels[api.ProjectLabel], summary: c}
		if o.project == "" {
			// A task of a swarm install: its stack is named after the project.
			o.project = c.Labels[convert.LabelNamespace]
		}
		if _, ok := c.Labels[ComponentLabel]; ok {
			o.dir = c.Labels[api.WorkingDirLabel]
		}
		out = append(out, o)
	}
	return out
}

// containerBind stands in for a bind on a remote engine's machine: the port is taken when one
// of the engine's running containers publishes it.
func (sc *portScan) containerBind(_, address string) (net.Listener, error) {
	_, port, _ := net.SplitHostPort(address)
	n, _ := strconv.Atoi(port)
	for _, c := range sc.containers {
		if containerHoldsPort(c.summary, n) {
			return nil, fmt.Errorf("port %d is published by container %s on the engine's machine", n, c.name)
		}
	}
	return nopListener{}, nil
}

type nopListener struct{ net.Listener }

func (nopListener) Close() error { return nil }

// suggest picks a port to move p to, once, and records the move.
func (sc *portScan) suggest(p PortNeed, why string) string {
	alt := suggestPort(sc.env, p, sc.taken, sc.eph)
	sc.taken[alt] = true
	sc.moved = append(sc.moved, PortMove{Flag: p.Flag, Service: p.Service, From: p.Port, To: alt, Why: why})
	return fmt.Sprintf("--%s %d", p.Flag, alt)
}

func (sc *portScan) scan(p PortNeed) {
	l, err := sc.env.Listen("tcp", net.JoinHostPort(strings.Trim(p.HostIP, "[]"), fmt.Sprint(p.Port)))
	if err == nil {
		l.Close()
		if sc.eph.holds(p.Port) {
			sc.risky = append(sc.risky, fmt.Sprintf("%d (%s)", p.Port, p.Service))
			sc.moves = append(sc.moves, sc.suggest(p, "in "+sc.eph.String()+", the system's temporary range"))
		}
		return
	}
	for _, c := range sc.containers {
		if containerHoldsPort(c.summary, p.Port) && c.project == sc.env.Plan.Project {
			sc.own = append(sc.own, fmt.Sprint(p.Port))
			return
		}
	}
	if !sc.settled && sc.env.Engine != nil {
		sc.settle()
		sc.scan(p)
		return
	}
	owner, kind := sc.holder(p, err)
	sc.conflicts = append(sc.conflicts, fmt.Sprintf("%d (%s) is taken by %s", p.Port, p.Service, owner))
	switch kind {
	case heldByStaleProxy:
		sc.staleProxy = true
	case heldTemporarily:
		sc.temporary = true
	case heldByOther:
		sc.otherOwner = true
	}
	sc.fixes = append(sc.fixes, sc.suggest(p, "taken by "+owner))
}

// settle waits for the starts the engine still has in flight, then lists the running
// containers again. A start goes on in the engine when the client that asked for it went
// away (an install stopped by Ctrl-C or by a lost connection, run again at once): its port
// proxy holds the ports before the container runs, and would pass for a stale one. Inspecting
// a container waits while the engine starts it, so one inspect of each container that is
// not running lets every such start end, running or failed (which frees its ports).
func (sc *portScan) settle() {
	sc.settled = true
	list, err := sc.env.Engine.API.ContainerList(sc.ctx, client.ContainerListOptions{All: true})
	if err != nil {
		return
	}
	for _, c := range list.Items {
		if c.State != container.StateRunning {
			_, _ = sc.env.Engine.API.ContainerInspect(sc.ctx, c.ID, client.ContainerInspectOptions{})
		}
	}
	sc.containers = runningContainers(sc.ctx, sc.env)
}

// holderKind is what kind of holder a taken port has: it decides the fix.
type holderKind int

const (
	heldByOther      holderKind = iota // a program or a container: stop it
	heldByStaleProxy                   // Docker's proxy with nothing behind: restart Docker
	heldTemporarily                    // an outgoing connection's local port: move away
	heldByInstall                      // another dataeco install: stop that one (otherInstalls)
)

// holder names what holds a port dataeco could not bind: a container (of another dataeco
// install, named with its directory), a process, or what the bind error and the port's
// range suggest.
func (sc *portScan) holder(p PortNeed, bindErr error) (string, holderKind) {
	for _, c := range sc.containers {
		if !containerHoldsPort(c.summary, p.Port) {
			continue
		}
		if c.dir != "" {
			if !slices.Contains(sc.otherInstalls, c.dir) {
				sc.otherInstalls = append(sc.otherInstalls, c.dir)
			}
			return fmt.Sprintf("container %s of the dataeco install in %s (project %s)", c.name, c.dir, c.project), heldByInstall
		}
		return "container " + c.name, heldByOther
	}
	if sc.env.PortOwner != nil {
		if proc, ok := sc.env.PortOwner(p.Port); ok {
			switch {
			// The engine's proxy with no running container behind it: Docker keeps
			// such ports after it was killed in the middle of a start, until it restarts.
			case proc.Name == "docker-proxy" && !proc.Outgoing:
				return fmt.Sprintf("Docker's own port proxy (PID %d) for a container that no longer runs", proc.PID), heldByStaleProxy
			case proc.Outgoing:
				return fmt.Sprintf("an outgoing connection of %s (PID %d), which the system gave it as a temporary local port", proc.Name, proc.PID), heldTemporarily
			}
			return fmt.Sprintf("process %s (PID %d)", proc.Name, proc.PID), heldByOther
		}
	}
	switch {
	case errors.Is(bindErr, syscall.EACCES):
		return "the system (permission denied)", heldByOther
	case sc.eph.holds(p.Port):
		return "another program, or an outgoing connection: it lies in " + sc.eph.String() + ", where the system picks connections' temporary local ports", heldTemporarily
	}
	return "another program", heldByOther
}

func (sc *portScan) result() Result {
	n := len(sc.env.Plan.Ports)
	r := Result{Details: map[string]string{"checked": fmt.Sprint(n)}}
	if sc.eph.ok {
		r.Details["ephemeral_range"] = sc.eph.String()
	}
	switch {
	case len(sc.conflicts) > 0:
		r.Status = Fail
		r.Message = "port " + strings.Join(sc.conflicts, "; port ")
		var first []string
		if sc.staleProxy {
			first = append(first, "restart Docker to free the ports its proxy still holds (`sudo systemctl restart docker`, or restart Docker Desktop)")
		}
		for _, dir := range sc.otherInstalls {
			first = append(first, "stop the other install (`dataeco stop --dir "+dir+"`)")
		}
		if sc.otherOwner {
			first = append(first, "stop what holds the port")
		}
		move := "move dataeco's"
		if sc.temporary {
			move = "move dataeco's out of the system's temporary range " + sc.eph.String()
		}
		if len(first) == 0 {
			r.Fix = strings.ToUpper(move[:1]) + move[1:] + ": `dataeco install " + strings.Join(sc.fixes, " ") + "`"
		} else {
			r.Fix = strings.Join(first, "; ") + ", or " + move + ": `dataeco install " + strings.Join(sc.fixes, " ") + "`"
		}
	case len(sc.risky) > 0:
		r.Status = Warn
		verb := "lie"
		if len(sc.risky) == 1 {
			verb = "lies"
		}
		r.Message = fmt.Sprintf("all %d ports are free, but %s %s in %s, where the system picks outgoing connections' temporary local ports: "+
			"a connection can take one before Docker publishes it, now or at a later start", n, strings.Join(sc.risky, ", "), verb, sc.eph)
		r.Fix = "choose ports outside " + sc.eph.String() + ": `dataeco install " + strings.Join(sc.moves, " ") + "`"
	case len(sc.own) > 0:
		r.Status, r.Message = Pass, fmt.Sprintf("%d ports free or held by this install's own containers (%s)", n, strings.Join(sc.own, ", "))
	default:
		r.Status, r.Message = Pass, fmt.Sprintf("all %d ports are free", n)
	}
	if sc.remote != "" {
		r.Details["remote_host"] = sc.remote
		r.Message += fmt.Sprintf("; checked against the engine's containers on %s, where it publishes them (a program there outside "+
			"Docker cannot be seen from here: the engine names the port if one holds it when the service starts)", sc.remote)
		if r.Status == Pass && sc.env.Plan.Loopback() {
			r.Message += fmt.Sprintf("; they are published on the loopback of %s", sc.remote)
			if strings.HasPrefix(sc.env.Engine.Facts.Target.Host, "ssh://") {
				r.Message += ", which `dataeco tunnel` forwards here over SSH (`dataeco smoke` does so itself)"
			} else {
				r.Status = Warn
				r.Message += ", which this machine cannot reach"
				r.Fix = fmt.Sprintf("to reach the stack from here, install with --listen 0.0.0.0 (the ports then require the generated credentials), "+
					"or reach the engine over SSH (DOCKER_HOST=ssh://USER@%s), which dataeco tunnels through", sc.remote)
			}
		}
	}
	return r
}

// portRange is the system's range for outgoing connections' local ports, if known.
type portRange struct {
	lo, hi int
	ok     bool
}

func ephemeralRange(env *Env) portRange {
	if env.EphemeralPorts == nil {
		return portRange{}
	}
	lo, hi, ok := env.EphemeralPorts()
	return portRange{lo, hi, ok}
}

func (r portRange) holds(port int) bool { return r.ok && port >= r.lo && port <= r.hi }
func (r portRange) String() string      { return fmt.Sprintf("%d-%d", r.lo, r.hi) }

// suggestPort finds a port to move p to: a valid port number, not planned for anything else,
// outside the system's temporary range, free right now if one of the first few candidates is.
func suggestPort(env *Env, p PortNeed, taken map[int]bool, eph portRange) int {
	candidates := []int{p.Port + 10000, p.Port + 1000, p.Port - 10000, p.Port - 20000, p.Port + 20000, p.Port%10000 + 20000, p.Port%10000 + 10000}
	for c := p.Port + 1; len(candidates) < 40; c++ {
		candidates = append(candidates, c)
	}
	var valid []int
	for _, c := range candidates {
		if c >= 1024 && c <= 65535 && !taken[c] && !eph.holds(c) {
			valid = append(valid, c)
		}
	}
	for _, c := range valid {
		if l, err := env.Listen("tcp", net.JoinHostPort(strings.Trim(p.HostIP, "[]"), fmt.Sprint(c))); err == nil {
			l.Close()
			return c
		}
	}
	if len(valid) > 0 {
		return valid[0]
	}
	return 1024 + p.Port%(65535-1024)
}

// ComponentLabel marks every container of a dataeco stack (the compose file sets it on each
// service): how installs are told from other Compose projects on the same engine.
const ComponentLabel = "io.dataeco.component"

type containerOwner struct {
	name, project string
	// dir is the directory of the dataeco install the container belongs to, when it does.
	dir     string
	summary container.Summary
}

func firstName(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return names[0]
}

// checkImages asks the registry (through the engine, with its credentials and mirrors)
// whether each image not present locally has a build for the engine's architecture.
func checkImages(ctx context.Context, env *Env) Result {
	if r, down := engineDown(env); down {
		return r
	}
	e := env.Engine
	arch := e.Facts.Arch
	if arch == "x86_64" {
		arch = "amd64"
	} else if arch == "aarch64" {
		arch = "arm64"
	}
	var wrong, unreachable []string
	missing := imagesToPull(ctx, env)
	checked := len(missing)
	for _, img := range missing {
		d, err := e.API.DistributionInspect(ctx, img, client.DistributionInspectOptions{})
		if err != nil {
			unreachable = append(unreachable, shortErr(err)+"\x00"+img)
			continue
		}
		if len(d.Platforms) == 0 {
			continue // a single-platform manifest says nothing about its platform here
		}
		ok := false
		for _, p := range d.Platforms {
			if p.Architecture == arch {
				ok = true
			}
		}
		if !ok {
			wrong = append(wrong, img)
		}
	}
	r := Result{Details: map[string]string{"arch": arch, "checked": fmt.Sprint(checked)}}
	switch {
	case len(wrong) > 0:
		r.Status = Fail
		r.Message = fmt.Sprintf("no %s build of %s", arch, strings.Join(wrong, ", "))
		r.Fix = fmt.Sprintf("use a mirror with multi-arch images (%s HOST[:PORT]) or leave the component out with %s", env.Plan.Flags.Registry, env.Plan.Flags.Components)
	case len(unreachable) > 0:
		r.Status = Warn
		r.Message = fmt.Sprintf("could not ask the registry about %d of %d images to pull: %s", len(unreachable), checked, groupErrors(unreachable))
		r.Fix = "offline or behind a firewall: mirror the images and pass " + env.Plan.Flags.Registry + " HOST[:PORT], or bring them in a file: `dataeco images save FILE` where they can be pulled, `dataeco images load FILE` here"
	case checked == 0:
		r.Status, r.Message = Pass, "every image is already present"
	default:
		r.Status, r.Message = Pass, fmt.Sprintf("%d images to pull, all built for %s", checked, arch)
	}
	return r
}

// imagesToPull lists, once each, the planned images the engine does not have yet.
func imagesToPull(ctx context.Context, env *Env) []string {
	var missing []string
	seen := map[string]bool{}
	for _, s := range env.Plan.Services {
		if seen[s.Image] {
			continue
		}
		if s.Built != "" {
			if _, err := env.Engine.API.ImageInspect(ctx, s.Built); err == nil {
				continue // built already: its base is not needed
			}
		}
		seen[s.Image] = true
		if _, err := env.Engine.API.ImageInspect(ctx, s.Image); err != nil {
			missing = append(missing, s.Image)
		}
	}
	return missing
}

func shortErr(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i > 0 && len(s) > 120 {
		s = s[i+2:]
	}
	return s
}

// checkProxy warns when a proxy is set for HTTP but localhost is not exempt: tools that honour
// the variables would send the stack's local traffic to the proxy.
func checkProxy(_ context.Context, env *Env) Result {
	get := func(k string) string {
		if v := env.Getenv(k); v != "" {
			return v
		}
		return env.Getenv(strings.ToLower(k))
	}
	proxy := get("HTTPS_PROXY")
	if proxy == "" {
		proxy = get("HTTP_PROXY")
	}
	if proxy == "" {
		return Result{Status: Pass, Message: "no HTTP proxy configured"}
	}
	noProxy := get("NO_PROXY")
	var missing []string
	for _, h := range []string{"localhost", "127.0.0.1"} {
		if !strings.Contains(noProxy, h) {
			missing = append(missing, h)
		}
	}
	r := Result{Details: map[string]string{"proxy": redactURL(proxy), "no_proxy": noProxy}}
	through := fmt.Sprintf("%s: image builds and the Airflow containers (their tasks) go through it; the stack's own service names never do", redactURL(proxy))
	if len(missing) > 0 {
		r.Status = Warn
		r.Message = fmt.Sprintf("%s; but NO_PROXY does not cover %s, so your own clients on this machine would send the stack's local traffic to the proxy (dataeco's probes never use it)", through, strings.Join(missing, ", "))
		r.Fix = "export NO_PROXY=localhost,127.0.0.1,$NO_PROXY"
		return r
	}
	r.Status, r.Message = Pass, through+", nor localhost"
	return r
}

// redactURL hides credentials in a proxy URL.
func redactURL(u string) string {
	if at := strings.LastIndex(u, "@"); at > 0 {
		if scheme := strings.Index(u, "://"); scheme >= 0 && scheme < at {
			return u[:scheme+3] + "***@" + u[at+1:]
		}
		return "***@" + u[at+1:]
	}
	return u
}

// groupErrors folds "error\x00image" entries into "error (image, image)" so a registry that
// is down for every image reads as one finding.
func groupErrors(entries []string) string {
	by := map[string][]string{}
	var order []string
	for _, e := range entries {
		msg, img, _ := strings.Cut(e, "\x00")
		if _, ok := by[msg]; !ok {
			order = append(order, msg)
		}
		by[msg] = append(by[msg], img)
	}
	var parts []string
	for _, msg := range order {
		imgs := by[msg]
		if len(imgs) > 2 {
			parts = append(parts, fmt.Sprintf("%s (%s and %d more)", msg, imgs[0], len(imgs)-1))
		} else {
			parts = append(parts, fmt.Sprintf("%s (%s)", msg, strings.Join(imgs, ", ")))
		}
	}
	return strings.Join(parts, "; ")
}
