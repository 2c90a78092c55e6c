package checks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

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
	}
}

// Run runs checks in order, filling in ID and Title, and marks skipped ones.
func Run(ctx context.Context, env *Env, list []Check, skip map[string]bool) []Result {
	var out []Result
	for _, c := range list {
		var r Result
		if skip[c.ID] {
			r = Result{Status: Skip, Message: "skipped by --skip-check " + c.ID}
		} else {
			start := time.Now()
			r = c.Run(ctx, env)
			r.DurationMS = time.Since(start).Milliseconds()
		}
		r.ID, r.Title = c.ID, c.Title
		out = append(out, r)
	}
	return out
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

// checkCompose looks for the compose the user would run by hand on ~/.dataeco: the docker
// compose plugin and the standalone docker-compose. dataeco itself carries Compose inside.
func checkCompose(ctx context.Context, env *Env) Result {
	type found struct{ name, version string }
	var have []found
	try := func(label, bin string, args ...string) {
		if _, err := env.LookPath(bin); err != nil {
			return
		}
		out, err := env.Exec(ctx, bin, args...)
		if err != nil {
			return
		}
		if m := composeVersionRE.FindStringSubmatch(string(out)); m != nil {
			have = append(have, found{label, m[1]})
		}
	}
	try("docker compose", "docker", "compose", "version", "--short")
	try("docker-compose", "docker-compose", "version", "--short")
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

// checkResources compares the engine's CPUs and memory with what the chosen services need.
func checkResources(_ context.Context, env *Env) Result {
	if r, down := engineDown(env); down {
		return r
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
	lighter := lighterChoices(env.Plan.Lighter)
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
		r.Fix = fmt.Sprintf("run `dataeco install --spark-worker-cores %d`", max(1, e.NCPU/2))
	default:
		r.Status, r.Message = Pass, msg
	}
	return r
}

func lighterChoices(m map[string]int64) string {
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
		" with `dataeco install --components ...`, or lower --kafka-heap, --cassandra-heap, --spark-worker-memory"
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
		need += imageSize(env.ImageSizes, img)
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

func imageSize(sizes map[string]int64, ref string) int64 {
	for repo, n := range sizes {
		if strings.Contains(ref, repo+":") {
			return n
		}
	}
	return 1 << 30
}

func gb(n int64) string { return fmt.Sprintf("%.1f GB", float64(n)/1e9) }

// checkPorts binds every port the stack publishes. A port held by this project's own
// containers is not a conflict: install will reuse them. A free port in the system's range
// for outgoing connections' local ports is a warning: any connection may take it between
// this check and the start, or before a later restart, and Docker then cannot publish it.
func checkPorts(ctx context.Context, env *Env) Result {
	var containers []containerOwner
	if env.Engine != nil {
		list, err := env.Engine.API.ContainerList(ctx, client.ContainerListOptions{})
		if err == nil {
			for _, c := range list.Items {
				containers = append(containers, containerOwner{name: strings.TrimPrefix(firstName(c.Names), "/"),
					project: c.Labels["com.docker.compose.project"], summary: c})
			}
		}
	}
	eph := ephemeralRange(env)
	var conflicts, fixes, own, risky, moves []string
	var staleProxy, otherOwner, temporary bool
	taken := map[int]bool{}
	for _, p := range env.Plan.Ports {
		taken[p.Port] = true
	}
	for _, p := range env.Plan.Ports {
		addr := net.JoinHostPort(strings.Trim(p.HostIP, "[]"), fmt.Sprint(p.Port))
		l, err := env.Listen("tcp", addr)
		if err == nil {
			l.Close()
			if eph.holds(p.Port) {
				risky = append(risky, fmt.Sprintf("%d (%s)", p.Port, p.Service))
				alt := suggestPort(env, p, taken, eph)
				taken[alt] = true
				moves = append(moves, fmt.Sprintf("--%s %d", p.Flag, alt))
			}
			continue
		}
		owner := ""
		mine, stale := false, false
		for _, c := range containers {
			if containerHoldsPort(c.summary, p.Port) {
				if c.project == env.Plan.Project {
					mine = true
				}
				owner = "container " + c.name
				break
			}
		}
		if mine {
			own = append(own, fmt.Sprint(p.Port))
			continue
		}
		if owner == "" && env.PortOwner != nil {
			if proc, ok := env.PortOwner(p.Port); ok {
				owner = fmt.Sprintf("process %s (PID %d)", proc.Name, proc.PID)
				switch {
				// The engine's proxy with no running container behind it: Docker keeps
				// such ports after it was killed in the middle of a start, until it restarts.
				case proc.Name == "docker-proxy" && !proc.Outgoing:
					owner = fmt.Sprintf("Docker's own port proxy (PID %d) for a container that no longer runs", proc.PID)
					stale = true
				case proc.Outgoing:
					owner = fmt.Sprintf("an outgoing connection of %s (PID %d), which the system gave it as a temporary local port", proc.Name, proc.PID)
					temporary = true
				}
			}
		}
		if owner == "" {
			owner = "another program"
			switch {
			case errors.Is(err, syscall.EACCES):
				owner = "the system (permission denied)"
			case eph.holds(p.Port):
				owner = "another program, or an outgoing connection: it lies in " + eph.String() + ", where the system picks connections' temporary local ports"
				temporary = true
			}
		}
		conflicts = append(conflicts, fmt.Sprintf("%d (%s) is taken by %s", p.Port, p.Service, owner))
		switch {
		case stale:
			staleProxy = true
		case !temporary:
			otherOwner = true
		}
		alt := suggestPort(env, p, taken, eph)
		taken[alt] = true
		fixes = append(fixes, fmt.Sprintf("--%s %d", p.Flag, alt))
	}
	r := Result{Details: map[string]string{"checked": fmt.Sprint(len(env.Plan.Ports))}}
	if eph.ok {
		r.Details["ephemeral_range"] = eph.String()
	}
	switch {
	case len(conflicts) > 0:
		r.Status = Fail
		r.Message = "port " + strings.Join(conflicts, "; port ")
		var first []string
		if staleProxy {
			first = append(first, "restart Docker to free the ports its proxy still holds (`sudo systemctl restart docker`, or restart Docker Desktop)")
		}
		if otherOwner {
			first = append(first, "stop what holds the port")
		}
		move := "move dataeco's"
		if temporary {
			move = "move dataeco's out of the system's temporary range " + eph.String()
		}
		if len(first) == 0 {
			r.Fix = strings.ToUpper(move[:1]) + move[1:] + ": `dataeco install " + strings.Join(fixes, " ") + "`"
		} else {
			r.Fix = strings.Join(first, "; ") + ", or " + move + ": `dataeco install " + strings.Join(fixes, " ") + "`"
		}
	case len(risky) > 0:
		r.Status = Warn
		verb := "lie"
		if len(risky) == 1 {
			verb = "lies"
		}
		r.Message = fmt.Sprintf("all %d ports are free, but %s %s in %s, where the system picks outgoing connections' temporary local ports: "+
			"a connection can take one before Docker publishes it, now or at a later start",
			len(env.Plan.Ports), strings.Join(risky, ", "), verb, eph)
		r.Fix = "choose ports outside " + eph.String() + ": `dataeco install " + strings.Join(moves, " ") + "`"
	case len(own) > 0:
		r.Status, r.Message = Pass, fmt.Sprintf("%d ports free or held by this install's own containers (%s)", len(env.Plan.Ports), strings.Join(own, ", "))
	default:
		r.Status, r.Message = Pass, fmt.Sprintf("all %d ports are free", len(env.Plan.Ports))
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

type containerOwner struct {
	name, project string
	summary       container.Summary
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
		r.Fix = "use a mirror with multi-arch images (--registry HOST[:PORT]) or leave the component out with --components"
	case len(unreachable) > 0:
		r.Status = Warn
		r.Message = fmt.Sprintf("could not ask the registry about %d of %d images to pull: %s", len(unreachable), checked, groupErrors(unreachable))
		r.Fix = "offline or behind a firewall: mirror the images and pass --registry HOST[:PORT], or bring them in a file: `dataeco images save FILE` where they can be pulled, `dataeco images load FILE` here"
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
	if len(missing) > 0 {
		r.Status = Warn
		r.Message = fmt.Sprintf("a proxy is set (%s) but NO_PROXY does not cover %s; clients would send the stack's local traffic to the proxy (dataeco's own probes never use it)", redactURL(proxy), strings.Join(missing, ", "))
		r.Fix = "export NO_PROXY=localhost,127.0.0.1,$NO_PROXY"
		return r
	}
	r.Status, r.Message = Pass, "proxy set, localhost exempt"
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

// GOOS is the running OS, for Env.
func GOOS() string { return runtime.GOOS }

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
