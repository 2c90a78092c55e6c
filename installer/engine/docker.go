// Package engine drives the Docker engine for dataeco: it connects the way the docker CLI
// does, runs Compose in-process (pulls, start in dependency order, stop, down, logs), watches
// readiness and diagnoses failures, skips one-shot jobs that already ran, recreates
// containers a crashed engine left unstartable, and moves images to and from files. It knows
// nothing of the command line: it writes progress to the Output it is given and returns
// errors that carry their hint.
package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/dataeco/dataeco/checks"
	"github.com/dataeco/dataeco/installer/hint"
	"github.com/docker/cli/cli/command"
	"github.com/docker/cli/cli/flags"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/client"
	"github.com/spf13/pflag"
)

// Docker is a connected engine: the docker CLI object Compose needs, its API client, and
// what the engine said about itself.
type Docker struct {
	Cli   command.Cli
	API   client.APIClient
	Facts checks.EngineFacts
	Info  system.Info
	Host  string // the endpoint, e.g. unix:///var/run/docker.sock
}

// Close releases the engine connection.
func (d *Docker) Close() error { return d.API.Close() }

// Connect finds the engine the way the docker CLI does (DOCKER_HOST, then the current
// context, then the default socket), checks it answers and is new enough. It changes
// nothing, so a failure here leaves nothing behind. errOut takes the docker CLI's own
// warnings.
func Connect(ctx context.Context, errOut io.Writer) (*Docker, error) {
	d, res, err := Probe(ctx, errOut)
	if err != nil {
		return nil, err
	}
	if res != nil {
		return nil, CheckError(*res)
	}
	return d, nil
}

// Probe is Connect for callers that report rather than stop: an engine that is unreachable
// or too old comes back as a failed docker-engine check, not an error.
func Probe(ctx context.Context, errOut io.Writer) (*Docker, *checks.Result, error) {
	cli, err := command.NewDockerCli(
		command.WithInputStream(io.NopCloser(strings.NewReader(""))),
		command.WithOutputStream(io.Discard),
		command.WithErrorStream(errOut),
	)
	if err != nil {
		return nil, nil, fmt.Errorf("setting up the Docker client: %w", err)
	}
	opts := clientOptions()
	if err := cli.Initialize(opts); err != nil {
		return nil, nil, hint.Wrap(fmt.Errorf("reading the Docker configuration: %w", err),
			"check DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH, DOCKER_CONTEXT and ~/.docker/config.json")
	}
	// The docker CLI resolves its endpoint lazily and, when it cannot (a certificate missing
	// from DOCKER_CERT_PATH, a context that is gone), prints and exits the process. Resolved
	// here first, the failure is a check that says what to fix.
	if _, err := command.NewAPIClientFromFlags(opts, cli.ConfigFile()); err != nil {
		r := checks.DockerSettingsBroken(os.Getenv("DOCKER_HOST"), err)
		return nil, &r, nil
	}
	ep := cli.DockerEndpoint()
	target := checks.EngineTarget{
		Host:    ep.Host,
		Context: cli.CurrentContext(),
		FromEnv: os.Getenv("DOCKER_HOST") != "",
		TLS:     ep.TLSData != nil || ep.SkipTLSVerify,
	}
	target.Verified = target.TLS && !ep.SkipTLSVerify
	api := cli.Client()
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if _, err := api.Ping(pctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		_, lookErr := exec.LookPath("docker")
		r := checks.DockerUnreachable(target, err, lookErr == nil)
		return nil, &r, nil
	}
	ver, err := api.ServerVersion(pctx, client.ServerVersionOptions{})
	if err != nil {
		return nil, nil, hint.Wrap(fmt.Errorf("asking the Docker engine its version: %w", err), "run `docker version` to see what the engine says")
	}
	info, err := api.Info(pctx, client.InfoOptions{})
	if err != nil {
		return nil, nil, hint.Wrap(fmt.Errorf("asking the Docker engine for its resources: %w", err), "run `docker info` to see what the engine says")
	}
	facts := checks.EngineFacts{
		Version: ver.Version, APIVersion: ver.APIVersion, OS: info.Info.OSType, Arch: info.Info.Architecture,
		OperatingSys: info.Info.OperatingSystem, KernelVersion: info.Info.KernelVersion, Context: target.Context,
		Podman: strings.Contains(strings.ToLower(ver.Platform.Name), "podman"),
		Target: target,
	}
	for _, opt := range info.Info.SecurityOptions {
		if strings.Contains(opt, "rootless") {
			facts.Rootless = true
		}
	}
	if res := checks.EngineVersion(facts); res.Status == checks.Fail {
		return nil, &res, nil
	}
	return &Docker{Cli: cli, API: api, Facts: facts, Info: info.Info, Host: target.Host}, nil, nil
}

// clientOptions are the docker CLI's options as its own flags leave them when none is given:
// DOCKER_TLS, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH taken in (their defaults read the
// environment), which options made without the flags would ignore, talking plain HTTP to a
// TLS engine.
func clientOptions() *flags.ClientOptions {
	opts := flags.NewClientOptions()
	fs := pflag.NewFlagSet("docker", pflag.ContinueOnError)
	opts.InstallFlags(fs)
	opts.SetDefaultOptions(fs)
	return opts
}

// Engine describes the engine for the checks.
func (d *Docker) Engine() *checks.Engine {
	local := false
	if strings.HasPrefix(d.Host, "unix://") && d.Facts.Flavour() != "Docker Desktop" {
		if _, err := os.Stat(d.Info.DockerRootDir); err == nil {
			local = true
		}
	}
	return &checks.Engine{Facts: d.Facts, NCPU: d.Info.NCPU, MemTotal: d.Info.MemTotal,
		RootDir: d.Info.DockerRootDir, Local: local, API: d.API}
}

// CheckError turns a failed check into an error that carries the check's fix as its hint.
func CheckError(r checks.Result) error {
	return hint.New(r.Fix+" (see "+checks.DocURL(r.ID)+")", errors.New(r.Message))
}

// ConfiguredProxies are the proxy settings of the Docker CLI's config for this engine
// (HTTP_PROXY, HTTPS_PROXY, NO_PROXY, …), the ones Compose gives every container it creates.
func (d *Docker) ConfiguredProxies() map[string]string {
	out := map[string]string{}
	for k, v := range d.Cli.ConfigFile().ParseProxyConfig(d.Cli.Client().DaemonHost(), nil) {
		if v != nil {
			out[k] = *v
		}
	}
	return out
}
