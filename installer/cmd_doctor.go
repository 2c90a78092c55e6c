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

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/dataeco/dataeco/checks"
	"github.com/docker/compose/v5/pkg/compose"
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
			&cli.BoolFlag{Name: "json", Usage: "print the report as JSON (schema in docs/checks.md)"},
			&cli.StringSliceFlag{Name: "check", Usage: "run only the check with this ID (repeatable)"},
			&cli.BoolFlag{Name: "list-checks", Usage: "list the check IDs and exit"},
			&cli.StringFlag{Name: "bundle", Usage: "also write a redacted support bundle (tar.gz) to this file, for a bug report"},
		},
		Action: a.runDoctor,
	}
}

func allChecks() []checks.Check { return append(checks.Prerequisites(), checks.StackChecks()...) }

func (a *App) runDoctor(c *cli.Context) error {
	ctx := c.Context
	if c.Bool("list-checks") {
		for _, ch := range allChecks() {
			fmt.Fprintf(a.Streams.Out, "%-14s %s\n", ch.ID, ch.Title)
		}
		return nil
	}
	only := c.StringSlice("check")
	for _, id := range only {
		if !slices.ContainsFunc(allChecks(), func(ch checks.Check) bool { return ch.ID == id }) {
			return &Error{Code: ExitUsage, Err: fmt.Errorf("unknown check %q", id), Hint: "run `dataeco doctor --list-checks`"}
		}
	}
	dir, err := a.installDir(c)
	if err != nil {
		return err
	}
	docker, down, err := ProbeDocker(ctx, io.Discard)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		down = &checks.Result{ID: checks.IDDockerEngine, Status: checks.Fail, Message: err.Error(), Fix: hintOrEmpty(err)}
	}
	if docker != nil {
		defer docker.Close()
	}
	env := a.checkEnv(docker, down)
	diag := a.inspectInstall(ctx, dir, docker, env)

	list := checks.Prerequisites()
	if env.Stack != nil {
		list = append(list, checks.StackChecks()...)
	}
	if len(only) > 0 {
		list = slices.DeleteFunc(allChecks(), func(ch checks.Check) bool { return !slices.Contains(only, ch.ID) })
	}
	results := checks.Run(ctx, env, list, nil)
	report := DoctorReport{Schema: doctorSchema, Dataeco: a.Build, InstallDir: dir, Installed: diag.answers != nil,
		Checks: results, Summary: map[string]int{"pass": 0, "warn": 0, "fail": 0, "skip": 0}}
	for _, r := range results {
		report.Summary[string(r.Status)]++
	}

	if c.Bool("json") {
		if err := a.printJSON(report); err != nil {
			return err
		}
	} else {
		a.writeDoctor(report, diag)
	}
	if path := c.String("bundle"); path != "" {
		if err := a.writeBundle(ctx, path, report, diag, docker); err != nil {
			return WithHint(fmt.Errorf("writing the support bundle: %w", err), "choose a writable path for --bundle")
		}
		fmt.Fprintf(a.Streams.ErrOut, "Support bundle written to %s (passwords redacted)\n", path)
	}
	if report.Summary["fail"] > 0 {
		return &Error{Code: ExitFailure, Err: fmt.Errorf("doctor found %d failing check(s)", report.Summary["fail"]),
			Hint: "each finding above has its fix; details per check in docs/checks.md"}
	}
	return nil
}

func hintOrEmpty(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Hint
	}
	return ""
}

// installState is what doctor could read of the install dir.
type installState struct {
	dir     string
	answers *Answers
	secrets Secrets // best effort, for redaction, even when the file's mode is wrong
	project *types.Project
	compose []byte
}

// inspectInstall reads the install dir for the stack checks; it works on a broken install
// too, turning each problem into something a check reports.
func (a *App) inspectInstall(ctx context.Context, dir string, docker *Docker, env *checks.Env) *installState {
	st := &installState{dir: dir, secrets: readSecretsLoosely(dir)}
	ans, ansErr := LoadAnswers(dir)
	_, secErr := LoadSecrets(dir)
	plannedFor := ans
	if ans == nil {
		var res EngineResources
		if docker != nil {
			res = docker.Resources()
		} else {
			res = EngineResources{NCPU: 4, MemTotal: 8 << 30}
		}
		d := DefaultAnswers(res)
		plannedFor = &d
	}
	rendered, err := a.render(plannedFor)
	if err == nil {
		sec := Secrets{}
		for k, v := range st.secrets {
			sec[k] = v
		}
		_, _ = sec.EnsureSecrets(plannedFor.Project) // placeholders where the install has none
		if p, perr := LoadProject(ctx, plannedFor.Project, dir, rendered, sec); perr == nil {
			env.Plan = Plan(plannedFor, p)
			st.project = p
		}
	}
	if ans == nil && ansErr == nil {
		return st // nothing installed: prerequisites only, sized for a default install
	}
	st.answers = ans
	st.compose = rendered
	stack := &checks.Stack{Dir: dir, Files: []string{answersFile, envFile, composeFile},
		Secrets: filepath.Join(dir, envFile)}
	if ans != nil {
		stack.Project = ans.Project
	}
	stack.Problem = errors.Join(ansErr, secErr)
	if st.project != nil && ans != nil {
		for _, name := range st.project.ServiceNames() {
			svc := st.project.Services[name]
			h, _ := compose.ServiceHash(svc)
			stack.Services = append(stack.Services, checks.StackService{Name: name, OneShot: svc.Restart == "no", Hash: h})
		}
	}
	env.Stack = stack
	return st
}

// readSecretsLoosely reads the credentials whatever the file's mode, only to redact them.
func readSecretsLoosely(dir string) Secrets {
	b, err := os.ReadFile(filepath.Join(dir, envFile))
	if err != nil {
		return Secrets{}
	}
	s, err := ParseSecrets(b)
	if err != nil {
		return Secrets{}
	}
	return s
}

func (a *App) writeDoctor(r DoctorReport, st *installState) {
	w := a.Streams.Out
	var pre, stack []checks.Result
	for _, res := range r.Checks {
		if res.ID == checks.IDInstallDir || res.ID == checks.IDContainers || res.ID == checks.IDDrift {
			stack = append(stack, res)
		} else {
			pre = append(pre, res)
		}
	}
	if len(pre) > 0 {
		fmt.Fprintln(w, "Prerequisites")
		writeResults(w, pre, a.Streams.OutTTY, a.Streams.Color && a.Streams.OutTTY, true)
	}
	switch {
	case len(stack) > 0:
		fmt.Fprintf(w, "\nInstall in %s\n", r.InstallDir)
		writeResults(w, stack, a.Streams.OutTTY, a.Streams.Color && a.Streams.OutTTY, true)
	case !r.Installed:
		fmt.Fprintf(w, "\nNothing is installed in %s yet: `dataeco install` sets it up.\n", r.InstallDir)
	}
	s := r.Summary
	fmt.Fprintf(w, "\n%d passed, %d failed, %d warnings, %d skipped\n", s["pass"], s["fail"], s["warn"], s["skip"])
}

// writeBundle writes a tar.gz a user can attach to a bug report. Every generated secret is
// replaced before anything is written.
func (a *App) writeBundle(ctx context.Context, path string, r DoctorReport, st *installState, docker *Docker) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	now := time.Now()
	add := func(name string, data []byte) error {
		data = st.secrets.Redact(data)
		if err := tw.WriteHeader(&tar.Header{Name: "dataeco-bundle/" + name, Mode: 0o600, Size: int64(len(data)), ModTime: now}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	addJSON := func(name string, v any) error {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		return add(name, b)
	}
	if err := addJSON("doctor.json", r); err != nil {
		return err
	}
	if b, err := os.ReadFile(filepath.Join(st.dir, answersFile)); err == nil {
		if err := add(answersFile, b); err != nil {
			return err
		}
	}
	if b, err := os.ReadFile(composePath(st.dir)); err == nil {
		if err := add(composeFile, b); err != nil {
			return err
		}
	}
	if docker != nil {
		if err := addJSON("engine.json", map[string]any{"facts": docker.Facts, "info": docker.Info}); err != nil {
			return err
		}
		project := "dataeco"
		if st.answers != nil {
			project = st.answers.Project
		}
		list, err := docker.API.ContainerList(ctx, client.ContainerListOptions{All: true,
			Filters: make(client.Filters).Add("label", "com.docker.compose.project="+project)})
		if err == nil {
			for _, ct := range list.Items {
				name := strings.TrimPrefix(firstOf(ct.Names), "/")
				if ins, err := docker.API.ContainerInspect(ctx, ct.ID, client.ContainerInspectOptions{}); err == nil {
					if err := addJSON("containers/"+name+".json", ins.Container); err != nil {
						return err
					}
				}
				if logs, err := docker.API.ContainerLogs(ctx, ct.ID, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: "500", Timestamps: true}); err == nil {
					raw, _ := io.ReadAll(io.LimitReader(logs, 8<<20))
					logs.Close()
					if err := add("logs/"+name+".log", []byte(strings.Join(checks.DemuxAll(raw), "\n")+"\n")); err != nil {
						return err
					}
				}
			}
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

func firstOf(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}
