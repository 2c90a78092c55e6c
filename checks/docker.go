package checks

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// Check IDs for the Docker engine.
const (
	IDDockerEngine = "docker-engine"
)

// Minimums from the seed: Docker 20.10, which speaks API 1.41.
const (
	MinEngineMajor = 20
	MinEngineMinor = 10
	MinAPIVersion  = "1.41"
)

// EngineTarget says where the client looked for the daemon and how it talks to it.
type EngineTarget struct {
	Host    string // e.g. unix:///var/run/docker.sock or tcp://...
	Context string // docker context name
	FromEnv bool   // DOCKER_HOST was set
	// TLS: the connection is TLS (DOCKER_TLS, DOCKER_TLS_VERIFY or the context's); Verified:
	// the engine's certificate is checked against the CA.
	TLS, Verified bool
}

// RemoteHost is the machine the engine runs on when that is not this one, as the endpoint
// names it (tcp://HOST:PORT, ssh://USER@HOST): the engine publishes the stack's ports there.
// It is empty for a local socket or pipe (Docker Desktop's too: it forwards published ports to
// this machine) and for an address of this machine's loopback.
func (t EngineTarget) RemoteHost() string {
	u, err := url.Parse(t.Host)
	if err != nil || (u.Scheme != "tcp" && u.Scheme != "ssh" && u.Scheme != "http" && u.Scheme != "https") {
		return ""
	}
	h := u.Hostname()
	if ip := net.ParseIP(h); h == "" || h == "localhost" || (ip != nil && ip.IsLoopback()) {
		return ""
	}
	return h
}

// Via says how the client reaches the engine, for messages: "unix socket", "TCP with TLS,
// verified", "SSH".
func (t EngineTarget) Via() string {
	switch u, _ := url.Parse(t.Host); {
	case u == nil:
		return "unknown"
	case u.Scheme == "ssh":
		return "SSH"
	case u.Scheme == "unix":
		return "unix socket"
	case u.Scheme == "npipe":
		return "named pipe"
	case t.TLS && t.Verified:
		return "TCP with TLS, the engine's certificate verified"
	case t.TLS:
		return "TCP with TLS, the engine's certificate NOT verified (DOCKER_TLS_VERIFY unset)"
	}
	return "TCP without TLS: anyone who reaches the port controls the engine"
}

// DockerUnreachable classifies why the daemon could not be reached, because the fix differs:
// installing Docker, starting it, joining the docker group, or fixing DOCKER_HOST/context.
func DockerUnreachable(target EngineTarget, err error, dockerOnPath bool) Result {
	r := Result{ID: IDDockerEngine, Title: "Docker engine", Status: Fail,
		Details: map[string]string{"host": target.Host, "context": target.Context}}
	where := target.Host
	if target.Context != "" && target.Context != "default" {
		where = fmt.Sprintf("%s (context %q)", target.Host, target.Context)
	}
	socket := strings.TrimPrefix(target.Host, "unix://")
	isUnix := strings.HasPrefix(target.Host, "unix://")
	switch {
	case errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EACCES) || strings.Contains(err.Error(), "permission denied"):
		r.Message = fmt.Sprintf("permission denied on the Docker socket %s", socket)
		r.Fix = "add yourself to the docker group: `sudo usermod -aG docker $USER`, then log out and back in (or run `newgrp docker`)"
	case isUnix && exists(socket) && (target.FromEnv || target.Context == "" || target.Context == "default"):
		// The socket is there but nobody answers: the daemon stopped (or crashed) behind it.
		r.Message = fmt.Sprintf("the Docker daemon is not running (%s: %v)", where, rootCause(err))
		r.Fix = "start Docker: `sudo systemctl start docker` on Linux, or open Docker Desktop"
	case target.FromEnv || (target.Context != "" && target.Context != "default"):
		r.Message = fmt.Sprintf("no Docker engine answers at %s: %v", where, rootCause(err))
		if target.FromEnv {
			r.Fix = "DOCKER_HOST points nowhere: fix it or `unset DOCKER_HOST` to use the local engine"
		} else {
			r.Fix = fmt.Sprintf("the docker context %q points nowhere: `docker context use default` or fix it with `docker context inspect %s`", target.Context, target.Context)
		}
	case !dockerOnPath && isUnix && !exists(socket):
		r.Message = "Docker is not installed (no docker command and no engine socket)"
		r.Fix = "install Docker Engine 20.10 or newer (Docker Desktop on macOS and Windows): https://docs.docker.com/engine/install/"
	default:
		r.Message = fmt.Sprintf("the Docker daemon is not running (%s: %v)", where, rootCause(err))
		r.Fix = "start Docker: `sudo systemctl start docker` on Linux, or open Docker Desktop"
	}
	return r
}

// DockerSettingsBroken is a client configuration the docker CLI cannot make a connection of:
// TLS asked for (DOCKER_TLS_VERIFY) with certificates missing from DOCKER_CERT_PATH, a
// malformed DOCKER_HOST, a context that no longer exists.
func DockerSettingsBroken(host string, err error) Result {
	r := Result{ID: IDDockerEngine, Title: "Docker engine", Status: Fail, Details: map[string]string{"host": host},
		Message: fmt.Sprintf("the Docker client settings do not make a connection: %v", err)}
	switch msg := err.Error(); {
	case strings.Contains(msg, ".pem"):
		r.Fix = "put the engine's ca.pem, cert.pem and key.pem in DOCKER_CERT_PATH (default ~/.docker), or unset DOCKER_TLS_VERIFY for an engine without TLS"
	case strings.Contains(msg, "context"):
		r.Fix = "`docker context ls` lists the contexts; `docker context use default`, or unset DOCKER_CONTEXT"
	default:
		r.Fix = "check DOCKER_HOST (unix:///var/run/docker.sock, tcp://HOST:2376 or ssh://USER@HOST), DOCKER_TLS_VERIFY and DOCKER_CERT_PATH with `docker version`"
	}
	return r
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// rootCause keeps the message short: the innermost network error says what happened.
func rootCause(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	return err
}

// EngineFacts is what the engine reports about itself.
type EngineFacts struct {
	Version       string
	APIVersion    string
	OS            string
	Arch          string
	OperatingSys  string // e.g. "Docker Desktop", "Ubuntu 24.04"
	KernelVersion string
	Context       string
	Rootless      bool
	Podman        bool
	// Target is where and how the client reached it.
	Target EngineTarget
}

// Flavour names the kind of engine, which decides where resources and sockets are configured.
func (f EngineFacts) Flavour() string {
	switch {
	case f.Podman:
		return "Podman"
	case strings.Contains(f.OperatingSys, "Docker Desktop"):
		return "Docker Desktop"
	case strings.Contains(strings.ToLower(f.KernelVersion), "microsoft") || strings.Contains(strings.ToLower(f.KernelVersion), "wsl"):
		return "WSL2"
	case f.Rootless:
		return "rootless Docker"
	}
	return "Docker Engine"
}

// EngineVersion passes Engine >= 20.10 speaking API >= 1.41, the seed's minimum.
func EngineVersion(f EngineFacts) Result {
	r := Result{ID: IDDockerEngine, Title: "Docker engine",
		Details: map[string]string{
			"version": f.Version, "api_version": f.APIVersion, "os_arch": f.OS + "/" + f.Arch,
			"context": f.Context, "flavour": f.Flavour(),
		}}
	summary := fmt.Sprintf("%s %s (API %s, %s/%s, context %s)", f.Flavour(), f.Version, f.APIVersion, f.OS, f.Arch, f.Context)
	if f.Target.Host != "" {
		r.Details["endpoint"], r.Details["via"] = f.Target.Host, f.Target.Via()
		if h := f.Target.RemoteHost(); h != "" {
			r.Details["remote_host"] = h
			summary += fmt.Sprintf(" at %s over %s; on another machine, %s, which publishes the stack's ports", f.Target.Host, f.Target.Via(), h)
		} else if !strings.HasPrefix(f.Target.Host, "unix://") && !strings.HasPrefix(f.Target.Host, "npipe://") {
			summary += fmt.Sprintf(" at %s over %s", f.Target.Host, f.Target.Via())
		}
	}
	if f.Podman {
		// Podman reports its own version; the API level is what matters.
		if versionLess(f.APIVersion, MinAPIVersion) {
			r.Status, r.Message = Fail, summary+": API below "+MinAPIVersion
			r.Fix = "upgrade Podman to 4.x or newer, or use Docker Engine 20.10+"
			return r
		}
		r.Status, r.Message = Pass, summary
		return r
	}
	if versionLess(f.Version, fmt.Sprintf("%d.%d", MinEngineMajor, MinEngineMinor)) || versionLess(f.APIVersion, MinAPIVersion) {
		r.Status = Fail
		r.Message = summary + fmt.Sprintf(": dataeco needs Engine %d.%d or newer (API %s)", MinEngineMajor, MinEngineMinor, MinAPIVersion)
		r.Fix = "upgrade Docker: https://docs.docker.com/engine/install/ (Docker Desktop: Check for updates)"
		return r
	}
	r.Status, r.Message = Pass, summary
	if h := f.Target.RemoteHost(); h != "" && !f.Target.TLS && !strings.HasPrefix(f.Target.Host, "ssh://") {
		r.Status = Warn
		r.Message += ": it takes commands without TLS, so anyone who reaches " + f.Target.Host + " controls that machine"
		r.Fix = "protect the engine's socket with TLS (dockerd --tlsverify, then DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH here) or reach it over SSH (DOCKER_HOST=ssh://USER@" + h + ")"
	}
	return r
}

// versionLess compares dotted numeric versions, ignoring suffixes like "+dfsg1" or "-ce".
func versionLess(a, b string) bool {
	pa, pb := versionParts(a), versionParts(b)
	for i := 0; i < max(len(pa), len(pb)); i++ {
		var x, y int
		if i < len(pa) {
			x = pa[i]
		}
		if i < len(pb) {
			y = pb[i]
		}
		if x != y {
			return x < y
		}
	}
	return false
}

func versionParts(v string) []int {
	v = strings.TrimPrefix(strings.TrimSpace(v), "v")
	var out []int
	for _, p := range strings.Split(v, ".") {
		end := 0
		for end < len(p) && p[end] >= '0' && p[end] <= '9' {
			end++
		}
		n, err := strconv.Atoi(p[:end])
		if err != nil {
			break
		}
		out = append(out, n)
		if end < len(p) {
			break
		}
	}
	return out
}
