package installer

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/dataeco/dataeco/checks"
	"github.com/dataeco/dataeco/installer/engine"
	"github.com/dataeco/dataeco/installer/hint"
	"github.com/dataeco/dataeco/installer/model"
	"github.com/urfave/cli/v2"
)

func (a *App) installCmd() *cli.Command {
	flags := []cli.Flag{
		dirFlag(),
		yesFlag("take the defaults for every question not answered by a flag"),
		timeoutFlag(),
		skipCheckFlag(),
		keepOnFailureFlag(),
		&cli.BoolFlag{Name: "no-smoke", Usage: "do not run the smoke checks at the end", EnvVars: []string{"DATAECO_NO_SMOKE"}, DisableDefaultText: true},
		pipelineTimeoutFlag(),
		&cli.BoolFlag{Name: "any-port", Usage: "move each published port that is taken (by another install, say) or lies in the system's temporary " +
			"range to a free one, unless its flag is given; the ports are saved with the answers", EnvVars: []string{"DATAECO_ANY_PORT"}, DisableDefaultText: true},
		&cli.StringSliceFlag{Name: "ca-cert", Usage: "trust the certificate authority in PEM `FILE` in the images dataeco builds (repeatable; " +
			"\"none\" drops them; default: $SSL_CERT_FILE on the first install)", EnvVars: []string{"DATAECO_CA_CERT"}},
	}
	// With flag categories the library leaves the help flag out of the listing; name it.
	flags = append(flags, cli.HelpFlag)
	flags = append(flags, settingFlags()...)
	return &cli.Command{
		Name:  "install",
		Usage: "install the stack, or bring an install up to date with new answers",
		Description: "Checks Docker, asks a few questions (or takes flags, DATAECO_* variables, or --yes), renders\n" +
			"the stack into the install dir, pulls images with progress, and starts everything in\n" +
			"dependency order, waiting for each service to be healthy. Running it again converges:\n" +
			"unchanged services are left running and no data is lost.",
		Flags:  flags,
		Action: a.runInstall,
	}
}

func (a *App) runInstall(c *cli.Context) error {
	ctx := c.Context
	started := time.Now()
	def, docker, err := a.prepareInstall(c)
	if err != nil {
		return err
	}
	defer docker.Close()
	stack, release, err := a.lockAndFetch(c, docker, def, "install")
	if err != nil {
		return err
	}
	defer release()
	if err := model.WriteInstall(def.Dir, def.Answers, def.Secrets, def.Compose); err != nil {
		return err
	}
	if err := model.WriteBuilds(def.Dir, def.Builds); err != nil {
		return err
	}
	if err := model.WriteCACerts(def.Dir, def.Inputs.CACerts); err != nil {
		return err
	}
	if err := model.WriteEngineFacts(def.Dir, def.Inputs); err != nil {
		return err
	}
	a.status("Wrote %s", filepath.Join(def.Dir, model.ComposeFile))
	if def.Answers.Swarm {
		sw, err := a.deploySwarm(ctx, docker, def, timeouts(c))
		if err != nil {
			return err
		}
		running, err := runningOnSwarm(ctx, sw)
		if err != nil {
			return err
		}
		a.writeReady(running, "tasks running on the swarm", def, time.Since(started))
	} else {
		a.status("Starting services in dependency order")
		if err := a.bringUp(ctx, stack, timeouts(c), c.Bool("keep-on-failure"), "install"); err != nil {
			return err
		}
		if err := a.writeSummary(ctx, stack, def, time.Since(started)); err != nil {
			return err
		}
	}
	if c.Bool("no-smoke") {
		return nil
	}
	a.status("\nSmoke checks (skip with --no-smoke)")
	results := a.runSmoke(ctx, def, c.Duration("pipeline-timeout"))
	writeSmokeTable(a.Streams.Out, results)
	return smokeError(results)
}

// prepareInstall checks everything the user typed before Docker is asked anything or a
// file written, then resolves the answers against the engine and renders them.
func (a *App) prepareInstall(c *cli.Context) (*model.Definition, *engine.Docker, error) {
	dir, err := a.installDir(c)
	if err != nil {
		return nil, nil, err
	}
	if err := model.CheckWritable(dir); err != nil {
		return nil, nil, err
	}
	saved, err := model.LoadAnswers(dir)
	if err != nil {
		return nil, nil, err
	}
	given, err := given(c, saved)
	if err != nil {
		return nil, nil, err
	}
	secrets, err := model.LoadSecrets(dir)
	if err != nil {
		return nil, nil, err
	}
	if err := model.CheckInputs(dir); err != nil {
		return nil, nil, err
	}
	in, err := a.installInputs(c, dir, saved == nil)
	if err != nil {
		return nil, nil, err
	}
	docker, err := a.connect(c.Context)
	if err != nil {
		return nil, nil, err
	}
	a.engineInputs(c.Context, docker, &in, saved == nil)
	def, err := a.define(c, docker, dir, saved, given, secrets, in)
	if err != nil {
		docker.Close()
		return nil, nil, err
	}
	return def, docker, nil
}

// define resolves the answers (flags, saved, questions or defaults sized to the engine) and
// renders them, with the install's secrets complete.
func (a *App) define(c *cli.Context, docker *engine.Docker, dir string, saved *model.Answers, given model.Given, secrets model.Secrets, in model.Inputs) (*model.Definition, error) {
	a.status("Docker: %s %s (API %s), %d CPUs and %s for containers",
		docker.Facts.Flavour(), docker.Facts.Version, docker.Facts.APIVersion, docker.Info.NCPU, gibibytes(docker.Info.MemTotal))
	if sw := docker.Info.Swarm; saved == nil && given["swarm"] == nil && sw.ControlAvailable && sw.Nodes > 1 {
		// The choice is the user's: a swarm install needs a registry every node reaches and
		// ports on every address, so it is never taken for them.
		a.status("This engine manages a swarm of %d nodes; the stack runs on this engine alone. "+
			"To spread it over the swarm: `dataeco install --swarm --registry HOST:PORT --listen 0.0.0.0` (docs/scale.md)", sw.Nodes)
	}
	res := model.EngineResources{NCPU: docker.Info.NCPU, MemTotal: docker.Info.MemTotal}
	ask := func() (model.Asker, error) {
		p, err := a.prompter()
		return asker{p}, err
	}
	ans, err := model.Resolve(given, saved, model.DefaultAnswers(res), c.Bool("yes"), ask)
	if err != nil {
		return nil, err
	}
	if saved != nil && saved.Migrated != "" {
		a.status("This install dir comes from an earlier dataeco: %s is brought from %s", model.AnswersFile, saved.Migrated)
	}
	if saved != nil && saved.Project != ans.Project {
		return nil, hint.Usage("--project", saved.Project, "this install dir already runs project %q; remove it with `dataeco uninstall` first", saved.Project)
	}
	if _, err := secrets.EnsureSecrets(ans.Project); err != nil {
		return nil, err
	}
	if ans.Swarm {
		if err := a.swarmPlaces(c.Context, docker, ans, &in); err != nil {
			return nil, err
		}
	}
	secrets.SetProxy(a.proxy(docker), ans)
	a.noteNewOverrides(saved, ans)
	if len(in.Override) > 0 {
		a.status("Merging your %s over the rendered file (dataeco never rewrites it)", filepath.Join(dir, model.OverrideFile))
	}
	def, err := a.renderer().DefineWith(c.Context, dir, ans, secrets, in)
	if err != nil || !c.Bool("any-port") {
		return def, err
	}
	if !a.movePorts(c.Context, docker, def, given) {
		return def, nil
	}
	return a.renderer().DefineWith(c.Context, dir, ans, secrets, in)
}

// movePorts applies --any-port to def's answers: every published port the ports check would
// flag moves to the free port it would suggest, except those set by a flag on this run. It
// reports whether any moved.
func (a *App) movePorts(ctx context.Context, docker *engine.Docker, def *model.Definition, given model.Given) bool {
	env := a.checkEnv(docker, nil)
	env.Plan = plan(def)
	moved := false
	for _, m := range checks.FreePorts(ctx, env) {
		if _, explicit := given[m.Flag]; explicit {
			continue
		}
		for _, p := range model.Ports() {
			if p.Flag == m.Flag {
				def.Answers.Ports[p.Key] = m.To
				moved = true
				a.status("--any-port: %s on %d, not %d (%s)", p.What, m.To, m.From, m.Why)
				break
			}
		}
	}
	return moved
}

// noteNewOverrides says, once (when an --image override is new or changed), that the stack
// leaves the tested set: a later re-run keeps the override without repeating it.
func (a *App) noteNewOverrides(saved, ans *model.Answers) {
	for _, o := range ans.Overrides() {
		if saved != nil && saved.Images[o.Name] == ans.Images[o.Name] {
			continue
		}
		a.status("Note: %s runs %s in place of the pinned %s; dataeco is tested with the pinned set only (--image %s= goes back to it)",
			o.Name, o.Image, o.Pinned, o.Name)
	}
}

// installInputs reads the install dir's inputs and puts in the CAs of this run: --ca-cert's
// files, else the dir's file, else on the first install $SSL_CERT_FILE (where a company's
// machines usually point at their bundle).
func (a *App) installInputs(c *cli.Context, dir string, first bool) (model.Inputs, error) {
	in, err := model.ReadInputs(dir)
	if err != nil {
		return in, err
	}
	fix := "pass your CA with --ca-cert FILE, or --ca-cert none to trust only the images' own"
	switch {
	case c.IsSet("ca-cert"):
		in.CACerts, err = model.ReadCACertFiles(c.StringSlice("ca-cert"))
	case len(in.CACerts) > 0:
		if in.CACerts, err = model.ParseCACerts(in.CACerts); err != nil {
			err = hint.New(fix, fmt.Errorf("%s in %s: %w", model.CACertsFile, dir, err))
		}
	case a.Getenv("SSL_CERT_FILE") != "" && first:
		file := a.Getenv("SSL_CERT_FILE")
		if in.CACerts, err = model.ReadCACertFiles([]string{file}); err != nil {
			err = hint.New(fix, fmt.Errorf("SSL_CERT_FILE=%s: %w", file, err))
		} else {
			a.status("Trusting the CAs of SSL_CERT_FILE=%s in the images dataeco builds (--ca-cert none to stop)", file)
		}
	}
	return in, err
}

// engineInputs puts in what install finds of the engine: the machine it runs on when that
// is not this one (the stack's addresses then name it; a move from one engine to another is
// said out loud, since the data stays behind), and what it and the composes on this machine
// accept in the compose file: the cheap healthchecks get a start_interval where the engine
// runs it, unless a compose here would refuse the file. It says so when that changes the file
// (the first time, or after Docker was upgraded).
func (a *App) engineInputs(ctx context.Context, docker *engine.Docker, in *model.Inputs, first bool) {
	remote := docker.Facts.Target.RemoteHost()
	if !first && remote != in.RemoteHost {
		a.status("Note: the engine now runs on %s, where the install ran on %s: the stack starts there afresh, "+
			"and its data stays in the volumes of the engine it left (`dataeco backup` there, `dataeco restore` here moves it)",
			machine(remote), machine(in.RemoteHost))
	}
	in.RemoteHost, in.Endpoint = remote, ""
	if remote != "" {
		in.Endpoint = docker.Facts.Target.Host
	}
	was := in.HealthStartInterval
	ok, blocker := checks.HealthStartInterval(ctx, a.checkEnv(docker, nil))
	in.HealthStartInterval = ok
	switch {
	case ok && first:
		a.status("Engine %s runs healthchecks every second while services start (start_interval in the file)", docker.Facts.Version)
	case ok && !was:
		a.status("Engine %s runs healthchecks every second while services start: the file now has start_interval, "+
			"so the services with a quick healthcheck are recreated once (their data is kept)", docker.Facts.Version)
	case blocker != "" && (first || was):
		a.status("Note: engine %s could check health every second while services start (start_interval), but %s; "+
			"with Compose %s or newer (the docker compose plugin) and no older docker-compose on the PATH, the next install adds it",
			docker.Facts.Version, blocker, checks.StartIntervalCompose)
	}
}

// machine names where an engine runs, for messages.
func machine(remote string) string {
	if remote == "" {
		return "this machine"
	}
	return remote
}

// lockAndFetch runs the prerequisite checks, takes the install dir's lock (creating the
// dir) and brings every image the definition needs: pulled or built. It comes before
// anything is written, so a failed check, pull or build leaves the install dir and the
// running stack as they were. release lets go of the lock.
func (a *App) lockAndFetch(c *cli.Context, docker *engine.Docker, def *model.Definition, command string) (*engine.Stack, func(), error) {
	ctx := c.Context
	if err := a.runPrerequisites(ctx, docker, def, c.StringSlice("skip-check")); err != nil {
		return nil, nil, err
	}
	if err := model.PrepareDir(def.Dir); err != nil {
		return nil, nil, err
	}
	release, err := model.Lock(def.Dir, command)
	if err != nil {
		return nil, nil, err
	}
	stack, err := a.newStack(docker, def)
	if err == nil {
		err = a.checkImageMoves(ctx, stack, def)
	}
	if err == nil {
		err = a.fetchImages(ctx, stack, true, command)
	}
	if err != nil {
		release()
		return nil, nil, err
	}
	return stack, release, nil
}

// checkImageMoves names each service whose container will run another image (a new dataeco
// release's pins, or --image) and refuses, before anything is pulled or changed, a move its
// data cannot survive.
func (a *App) checkImageMoves(ctx context.Context, stack *engine.Stack, def *model.Definition) error {
	images := stack.ServiceImages
	if def.Answers.Swarm {
		images = func(ctx context.Context) (map[string]string, error) { return swarmImages(ctx, stack.Docker, def) }
	}
	running, err := images(ctx)
	if err != nil {
		return err
	}
	moves := model.ImageMoves(def, running)
	if len(moves) == 0 {
		return nil
	}
	a.status("Image changes (these services are recreated on the new image, their data kept):")
	var refused []string
	for _, m := range moves {
		line := fmt.Sprintf("  %s: %s -> %s", m.Service, m.From, m.To)
		switch {
		case m.Refused != "":
			line += "  REFUSED: " + m.Refused
			refused = append(refused, m.Service)
		case m.Caution != "":
			line += "  (" + m.Caution + ")"
		}
		a.status("%s", line)
	}
	if len(refused) > 0 {
		return hint.New("keep the image the data was written with (`--image "+refused[0]+"=` goes back to the pinned one, or run the dataeco release that installed it), or follow the way named above",
			fmt.Errorf("refusing to move %s to another major version over its data; nothing was changed", strings.Join(refused, ", ")))
	}
	return nil
}

// fetchImages pulls what is missing (when pull is set) and builds the images dataeco builds
// that are not there yet. retry is the command that tries again: the one running.
func (a *App) fetchImages(ctx context.Context, stack *engine.Stack, pull bool, retry string) error {
	phase := "building images"
	err := func() error {
		if pull {
			phase = "pulling images"
			a.status("Pulling images (only those not present yet)")
			if err := stack.Pull(ctx); err != nil {
				return err
			}
			phase = "building images"
		}
		return stack.Build(ctx)
	}()
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("%w while %s; run `dataeco %s` again to continue", hint.ErrInterrupted, phase, retry)
	}
	if b, ok := engine.AsBuildError(err); ok {
		return buildFailure(a.Streams.ErrOut, b, retry)
	}
	return err
}

// bringUp starts the stack and waits until it is ready; see startFailure for a failure.
func (a *App) bringUp(ctx context.Context, stack *engine.Stack, timeout func(string) time.Duration, keep bool, retry string) error {
	return a.startFailure(ctx, stack, stack.Up(ctx, timeout), keep, retry)
}

// startFailure renders what went wrong when services were started. When a service failed,
// it shows what is known about it and stops the stack (a crash-looping service would
// otherwise burn CPU forever and its dependents wait on it), unless keep asks to leave it
// for inspection. Data volumes are kept either way. retry is the command that tries again:
// the one that failed.
func (a *App) startFailure(ctx context.Context, stack *engine.Stack, err error, keep bool, retry string) error {
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("%w while starting services; run `dataeco %s` again to continue", hint.ErrInterrupted, retry)
	}
	if b, ok := engine.AsBuildError(err); ok {
		return buildFailure(a.Streams.ErrOut, b, retry)
	}
	f, failed := engine.AsServiceFailure(err)
	if !failed {
		return err
	}
	writeFailure(a.Streams.ErrOut, f)
	e := &hint.Error{Code: hint.ExitFailure, Err: fmt.Errorf("service %s %s", f.Service, f.Reason)}
	if keep {
		e.Hint = fmt.Sprintf("left running for inspection (--keep-on-failure): `dataeco logs %s`, `dataeco doctor`; then `dataeco %s` retries or `dataeco down` cleans up", f.Service, retry)
		return e
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := stack.Stop(sctx); err != nil {
		a.status("could not stop the stack after the failure: %v", err)
	}
	e.Hint = fmt.Sprintf("the stack is stopped, data kept; `dataeco logs %s` shows more; fix and run `dataeco %s` to retry, "+
		"`dataeco %s --keep-on-failure` to leave a failure running for inspection, or `dataeco down` to clean up", f.Service, retry, retry)
	return e
}
