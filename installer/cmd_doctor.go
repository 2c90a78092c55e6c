package installer

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/dataeco/dataeco/checks"
	"github.com/dataeco/dataeco/installer/engine"
	"github.com/dataeco/dataeco/installer/hint"
	"github.com/dataeco/dataeco/installer/model"
	"github.com/moby/moby/client"
	"github.com/urfave/cli/v2"
)

// doctorSchema is the version of `doctor --json`'s output; bump it on incompatible changes.
const doctorSchema = 1

// DoctorReport is `doctor --json`'s output, documented in docs/checks.md.
type DoctorReport struct {
	Schema     int             `json:"schema"`
	Dataeco    BuildInfo       `json:"dataeco"`
	InstallDir string          `json:"install_dir"`
	Installed  bool            `json:"installed"`
	Checks     []checks.Result `json:"checks"`
	Summary    map[string]int  `json:"summary"`
}

func (a *App) doctorCmd() *cli.Command {
	return &cli.Command{
		Name:  "doctor",
		Usage: "find what is wrong: prerequisites, then the installed stack's containers and files",
		Description: "Runs every prerequisite check and, when a stack is installed, looks at each container\n" +
			"(state, health, restarts, OOM kills, last healthcheck output and log lines), the install\n" +
			"dir and drift from the rendered definition. Exits 1 when a check fails.",
		Flags: []cli.Flag{dirFlag(),
			&cli.BoolFlag{Name: "json", Usage: "print JSON for scripts (schema in docs/checks.md)", DisableDefaultText: true},
			&cli.StringSliceFlag{Name: "check", Usage: "run only the check with this `ID` (repeatable)"},
			&cli.BoolFlag{Name: "list-checks", Usage: "list the check IDs and exit", DisableDefaultText: true},
			&cli.StringFlag{Name: "bundle", Usage: "also write a redacted support bundle (tar.gz) to `FILE`, for a bug report"},
		},
		Action: a.runDoctor,
	}
}

func allChecks() []checks.Check { return append(checks.Prerequisites(), checks.StackChecks()...) }

func (a *App) runDoctor(c *cli.Context) error {
	ctx := c.Context
	if c.Bool("list-checks") {
		return writeCheckList(a.Streams.Out, allChecks())
	}
	only := c.StringSlice("check")
	for _, id := range only {
		if !slices.ContainsFunc(allChecks(), func(ch checks.Check) bool { return ch.ID == id }) {
			return hint.UsageHint("run `dataeco doctor --list-checks`", fmt.Errorf("unknown check %q", id))
		}
	}
	dir, err := a.installDir(c)
	if err != nil {
		return err
	}
	docker, down, err := engine.Probe(ctx, io.Discard)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		down = &checks.Result{ID: checks.IDDockerEngine, Status: checks.Fail, Message: err.Error(), Fix: hint.Of(err)}
	}
	if docker != nil {
		defer docker.Close()
	}
	env := a.checkEnv(docker, down)
	st := a.inspectInstall(ctx, dir, docker, env)
	list := checks.Prerequisites()
	if env.Stack != nil {
		list = append(list, checks.StackChecks()...)
	}
	if len(only) > 0 {
		list = slices.DeleteFunc(allChecks(), func(ch checks.Check) bool { return !slices.Contains(only, ch.ID) })
	}
	results := checks.Run(ctx, env, list, nil)
	report := DoctorReport{Schema: doctorSchema, Dataeco: a.Build, InstallDir: dir, Installed: st.answers != nil,
		Checks: results, Summary: map[string]int{"pass": 0, "warn": 0, "fail": 0, "skip": 0}}
	for _, r := range results {
		report.Summary[string(r.Status)]++
	}
	if c.Bool("json") {
		err = a.printJSON(report)
	} else {
		err = writeDoctor(a.Streams.Out, report, a.Streams.OutTTY, a.Streams.Color && a.Streams.OutTTY)
	}
	if err != nil {
		return err
	}
	if path := c.String("bundle"); path != "" {
		if err := writeBundle(ctx, path, report, st, docker); err != nil {
			return hint.Wrap(fmt.Errorf("writing the support bundle: %w", err), "choose a writable path for --bundle")
		}
		a.status("Support bundle written to %s (passwords redacted)", path)
	}
	if report.Summary["fail"] > 0 {
		return hint.New("each finding above has its fix; details per check in docs/checks.md",
			fmt.Errorf("doctor found %d failing check(s)", report.Summary["fail"]))
	}
	return nil
}

// installState is what doctor could read of the install dir.
type installState struct {
	dir     string
	answers *model.Answers
	secrets model.Secrets // best effort, for redaction, even when the file's mode is wrong
}

// inspectInstall reads the install dir for the stack checks; it works on a broken install
// too, turning each problem into something a check reports. With nothing installed, the
// prerequisites are sized for a default install.
func (a *App) inspectInstall(ctx context.Context, dir string, docker *engine.Docker, env *checks.Env) *installState {
	st := &installState{dir: dir, secrets: model.ReadSecretsLoosely(dir)}
	ans, ansErr := model.LoadAnswers(dir)
	_, secErr := model.LoadSecrets(dir)
	plannedFor := ans
	if ans == nil {
		res := model.EngineResources{NCPU: 4, MemTotal: 8 << 30}
		if docker != nil {
			res = model.EngineResources{NCPU: docker.Info.NCPU, MemTotal: docker.Info.MemTotal}
		}
		d := model.DefaultAnswers(res)
		plannedFor = &d
	}
	def, defErr := a.renderer().Define(ctx, dir, plannedFor, st.secrets)
	if defErr == nil {
		env.Plan = plan(def)
	}
	if ans == nil && ansErr == nil {
		return st // nothing installed: prerequisites only
	}
	st.answers = ans
	stack := &checks.Stack{Dir: dir, Files: []string{model.AnswersFile, model.EnvFile, model.ComposeFile},
		Secrets: filepath.Join(dir, model.EnvFile), Problem: errors.Join(ansErr, secErr)}
	if ans != nil {
		stack.Project = ans.Project
	}
	if ans != nil && defErr == nil {
		stack.Swarm = ans.Swarm
		seen := map[string]bool{}
		for _, name := range def.Project.ServiceNames() {
			svc := def.Project.Services[name]
			if ans.Swarm {
				// The swarm runs a replicated row's instances as one service.
				if name = model.SwarmService(name); seen[name] {
					continue
				}
				seen[name] = true
			}
			stack.Services = append(stack.Services, checks.StackService{Name: name, OneShot: svc.Restart == "no", Hash: engine.DefinitionHash(svc)})
		}
	}
	env.Stack = stack
	return st
}

// writeBundle writes a tar.gz a user can attach to a bug report. Every generated secret is
// replaced before anything is written.
func writeBundle(ctx context.Context, path string, r DoctorReport, st *installState, docker *engine.Docker) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	b := &bundle{tw: tw, secrets: st.secrets, now: time.Now()}
	if err := b.addJSON("doctor.json", r); err != nil {
		return err
	}
	for _, name := range []string{model.AnswersFile, model.ComposeFile, model.EngineFile} {
		if data, err := os.ReadFile(filepath.Join(st.dir, name)); err == nil {
			if err := b.add(name, data); err != nil {
				return err
			}
		}
	}
	if docker != nil {
		project := "dataeco"
		if st.answers != nil {
			project = st.answers.Project
		}
		if err := b.addEngine(ctx, docker, project); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := gz.Close(); err != nil {
		return err
	}
	return f.Close()
}

// bundle is a support bundle being written: every file goes through the redaction.
type bundle struct {
	tw      *tar.Writer
	secrets model.Secrets
	now     time.Time
}

func (b *bundle) add(name string, data []byte) error {
	data = b.secrets.Redact(data)
	if err := b.tw.WriteHeader(&tar.Header{Name: "dataeco-bundle/" + name, Mode: 0o600, Size: int64(len(data)), ModTime: b.now}); err != nil {
		return err
	}
	_, err := b.tw.Write(data)
	return err
}

func (b *bundle) addJSON(name string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return b.add(name, data)
}

// addEngine adds what the engine says about itself and each of the project's containers:
// its inspect and its last log lines.
func (b *bundle) addEngine(ctx context.Context, docker *engine.Docker, project string) error {
	if err := b.addJSON("engine.json", map[string]any{"facts": docker.Facts, "info": docker.Info}); err != nil {
		return err
	}
	list, err := docker.Containers(ctx, project)
	if err != nil {
		return nil // the report already says the engine could not list them
	}
	for _, ct := range list {
		name := ct.ID
		if len(ct.Names) > 0 {
			name = strings.TrimPrefix(ct.Names[0], "/")
		}
		if ins, err := docker.API.ContainerInspect(ctx, ct.ID, client.ContainerInspectOptions{}); err == nil {
			if err := b.addJSON("containers/"+name+".json", ins.Container); err != nil {
				return err
			}
		}
		logs, err := docker.API.ContainerLogs(ctx, ct.ID, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: "500", Timestamps: true})
		if err != nil {
			continue
		}
		raw, _ := io.ReadAll(io.LimitReader(logs, 8<<20))
		logs.Close()
		if err := b.add("logs/"+name+".log", []byte(strings.Join(checks.DemuxAll(raw), "\n")+"\n")); err != nil {
			return err
		}
	}
	return nil
}
