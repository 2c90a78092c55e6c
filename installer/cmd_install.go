package installer

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/dataeco/dataeco/embedded"
	"github.com/dataeco/dataeco/embedded/pipeline"
	"github.com/urfave/cli/v2"
)

func (a *App) installCmd() *cli.Command {
	flags := []cli.Flag{
		dirFlag(),
		&cli.BoolFlag{Name: "yes", Aliases: []string{"y"}, Usage: "take the defaults for every question not answered by a flag", EnvVars: []string{"DATAECO_YES"}},
		&cli.DurationFlag{Name: "timeout", Usage: "how long each service may take to become ready (default: per service, 2-10m)", EnvVars: []string{"DATAECO_TIMEOUT"}},
		skipCheckFlag(),
		keepOnFailureFlag(),
		&cli.BoolFlag{Name: "no-smoke", Usage: "do not run the smoke checks at the end", EnvVars: []string{"DATAECO_NO_SMOKE"}},
		pipelineTimeoutFlag(),
	}
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

// phase names where a long command is, so an interruption can say where it stopped.
type phase struct{ name string }

func (a *App) runInstall(c *cli.Context) error {
	ctx := c.Context
	started := time.Now()
	// Everything the user typed is checked before Docker is asked anything or a file written.
	dir, err := a.installDir(c)
	if err != nil {
		return err
	}
	if err := checkWritable(dir); err != nil {
		return err
	}
	saved, err := LoadAnswers(dir)
	if err != nil {
		return err
	}
	o, err := readOverrides(c, saved)
	if err != nil {
		return err
	}
	secrets, err := LoadSecrets(dir)
	if err != nil {
		return err
	}
	docker, err := a.connect(ctx)
	if err != nil {
		return err
	}
	defer docker.Close()
	fmt.Fprintf(a.Streams.ErrOut, "Docker: %s %s (API %s), %d CPUs and %s for containers\n",
		docker.Facts.Flavour(), docker.Facts.Version, docker.Facts.APIVersion, docker.Info.NCPU, humanBytesIEC(docker.Info.MemTotal))

	ans, err := resolveAnswers(o, saved, DefaultAnswers(docker.Resources()), c.Bool("yes"), a.prompter)
	if err != nil {
		return err
	}
	if saved != nil && saved.Project != ans.Project {
		return UsageError("--project", saved.Project, "this install dir already runs project %q; remove it with `dataeco uninstall` first", saved.Project)
	}
	if _, err := secrets.EnsureSecrets(ans.Project); err != nil {
		return err
	}
	rendered, err := a.render(ans)
	if err != nil {
		return err
	}
	project, err := LoadProject(ctx, ans.Project, dir, rendered, secrets)
	if err != nil {
		return err
	}
	if err := a.runPrerequisites(ctx, docker, ans, project, c.StringSlice("skip-check")); err != nil {
		return err
	}
	if err := prepareDir(dir); err != nil {
		return err
	}
	release, err := lockInstall(dir, "install")
	if err != nil {
		return err
	}
	defer release()
	if err := writeInstall(dir, ans, secrets, rendered); err != nil {
		return err
	}
	fmt.Fprintf(a.Streams.ErrOut, "Wrote %s\n", composePath(dir))

	stack, err := NewStack(docker, a.Streams, ans.Project)
	if err != nil {
		return err
	}
	ph := &phase{name: "pulling images"}
	if err := a.installStack(ctx, stack, project, c.Duration("timeout"), c.Bool("keep-on-failure"), ph); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%w while %s; run `dataeco install` again to continue", errInterrupted, ph.name)
		}
		return err
	}
	if err := a.printSummary(ctx, stack, ans, dir, time.Since(started)); err != nil {
		return err
	}
	if c.Bool("no-smoke") {
		return nil
	}
	fmt.Fprintln(a.Streams.ErrOut, "\nSmoke checks (skip with --no-smoke)")
	results := a.runSmoke(ctx, ans, secrets, c.Duration("pipeline-timeout"))
	writeSmokeTable(a.Streams.Out, results)
	return smokeError(results)
}

func (a *App) installStack(ctx context.Context, stack *Stack, project *types.Project, timeout time.Duration, keep bool, ph *phase) error {
	fmt.Fprintln(a.Streams.ErrOut, "Pulling images (only those not present yet)")
	if err := stack.Pull(ctx, project); err != nil {
		return err
	}
	ph.name = "starting services"
	fmt.Fprintln(a.Streams.ErrOut, "Starting services in dependency order")
	err := stack.Up(ctx, project, timeout)
	if err == nil {
		return nil
	}
	if f, ok := asServiceFailure(err); ok {
		a.printFailure(f)
		return a.afterFailure(stack, project, keep, f.Service, "dataeco install",
			&Error{Code: ExitFailure, Err: fmt.Errorf("service %s %s", f.Service, f.Reason)})
	}
	return err
}

// afterFailure stops the stack (a crash-looping service would otherwise burn CPU forever and
// its dependents wait on it), unless --keep-on-failure asked to leave it for inspection. The
// hint says how to look, retry or clean up either way. Data volumes are kept.
// retry is the command that tries again: the one that failed.
func (a *App) afterFailure(stack *Stack, project *types.Project, keep bool, service, retry string, e *Error) error {
	if keep {
		e.Hint = fmt.Sprintf("left running for inspection (--keep-on-failure): `dataeco logs %s`, `dataeco doctor`; then `%s` retries or `dataeco down` cleans up", service, retry)
		return e
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := stack.Stop(ctx, project); err != nil {
		fmt.Fprintf(a.Streams.ErrOut, "could not stop the stack after the failure: %v\n", err)
	}
	e.Hint = fmt.Sprintf("the stack is stopped, data kept; `dataeco logs %s` shows more; fix and run `%s` to retry, "+
		"`%s --keep-on-failure` to leave a failure running for inspection, or `dataeco down` to clean up", service, retry, retry)
	return e
}

// keepOnFailureFlag leaves a failed stack running so the user can look at it.
func keepOnFailureFlag() cli.Flag {
	return &cli.BoolFlag{Name: "keep-on-failure", Usage: "leave the stack running when a service fails, for inspection (default: stop it, keeping data)", EnvVars: []string{"DATAECO_KEEP_ON_FAILURE"}}
}

// printFailure shows what is known about a failed service, on stderr, before the error.
func (a *App) printFailure(f *ServiceFailure) {
	w := a.Streams.ErrOut
	d := f.Diagnosis
	fmt.Fprintf(w, "\n%s %s\n", f.Service, f.Reason)
	if d == nil {
		return
	}
	if why := d.Explain(); why != "" {
		fmt.Fprintf(w, "  why: %s\n", why)
	}
	fmt.Fprintf(w, "  container %s: state %s, exit code %d, restarts %d, OOM-killed %v\n", d.Container, d.State, d.ExitCode, d.RestartCount, d.OOMKilled)
	if d.HealthOutput != "" {
		fmt.Fprintf(w, "  last healthcheck: %s\n", d.HealthOutput)
	}
	if len(d.LogTail) > 0 {
		fmt.Fprintf(w, "  last %d log lines:\n", len(d.LogTail))
		for _, l := range d.LogTail {
			fmt.Fprintf(w, "    %s\n", l)
		}
	}
	if d.Error != "" {
		fmt.Fprintf(w, "  (%s)\n", d.Error)
	}
	fmt.Fprintln(w)
}

// writeInstall writes the install dir: credentials first and private, then the answers, then
// the compose file, each replaced atomically.
func writeInstall(dir string, ans *Answers, secrets Secrets, rendered []byte) error {
	if err := prepareDir(dir); err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(dir, envFile), secrets.Marshal(), 0o600); err != nil {
		return fmt.Errorf("writing credentials: %w", err)
	}
	ab, err := ans.Marshal()
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(dir, answersFile), ab, 0o600); err != nil {
		return fmt.Errorf("writing answers: %w", err)
	}
	if err := writeFileAtomic(composePath(dir), rendered, 0o644); err != nil {
		return fmt.Errorf("writing the compose file: %w", err)
	}
	dags := filepath.Join(dir, dagsDir)
	if err := os.MkdirAll(dags, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dags, err)
	}
	// Airflow runs as uid 50000 in its containers and must read the DAGs.
	if err := os.Chmod(dags, 0o755); err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(dags, "README.md"), []byte(embedded.DagsReadme), 0o644); err != nil {
		return err
	}
	return writePipeline(dir)
}

// writePipeline installs the pipeline's files where the compose file mounts them: the DAGs
// beside the user's own in dags/, the Spark job and the CQL under pipeline/. Only dataeco's
// files are replaced; anything else in those folders is the user's and stays.
func writePipeline(dir string) error {
	target := func(name string) string {
		if strings.HasPrefix(name, "dags/") {
			return filepath.Join(dir, filepath.FromSlash(name))
		}
		return filepath.Join(dir, "pipeline", filepath.FromSlash(name))
	}
	return fs.WalkDir(pipeline.Files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.Contains(name, "/") {
			return err // top-level files (requirements) are rendered into the compose file
		}
		b, err := pipeline.Files.ReadFile(name)
		if err != nil {
			return err
		}
		path := target(name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("creating %s: %w", filepath.Dir(path), err)
		}
		if err := writeFileAtomic(path, b, 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
		return nil
	})
}

// endpoint is one thing the user can connect to.
type endpoint struct {
	Name string `json:"name"`
	URL  string `json:"url"`
	Note string `json:"note,omitempty"`
}

// Endpoints lists what the install publishes, as a user on this machine reaches it.
func Endpoints(ans *Answers) []endpoint {
	host := ans.Listen
	if host == "0.0.0.0" || host == "127.0.0.1" || host == "[::]" {
		host = "localhost"
	}
	p := ans.Ports
	eps := []endpoint{
		{"Kafka bootstrap", fmt.Sprintf("localhost:%d", p["kafka"]), "inside the stack: broker:29092"},
		{"ZooKeeper", fmt.Sprintf("%s:%d", host, p["zookeeper"]), ""},
	}
	if ans.Has(CompSchemaRegistry) {
		eps = append(eps, endpoint{"Schema Registry", fmt.Sprintf("http://%s:%d", host, p["schema_registry"]), ""})
	}
	if ans.Has(CompControlCenter) {
		eps = append(eps, endpoint{"Control Center", fmt.Sprintf("http://%s:%d", host, p["control_center"]), ""})
	}
	if ans.Has(CompAirflow) {
		eps = append(eps, endpoint{"Airflow", fmt.Sprintf("http://%s:%d", host, p["airflow"]), "user admin"})
	}
	if ans.Has(CompSpark) {
		eps = append(eps,
			endpoint{"Spark master UI", fmt.Sprintf("http://%s:%d", host, p["spark_ui"]), ""},
			endpoint{"Spark master", fmt.Sprintf("spark://%s:%d", host, p["spark_master"]), ""})
	}
	if ans.Has(CompCassandra) {
		eps = append(eps, endpoint{"Cassandra CQL", fmt.Sprintf("%s:%d", host, p["cassandra"]), "user dataeco_admin"})
	}
	return eps
}

func (a *App) printSummary(ctx context.Context, stack *Stack, ans *Answers, dir string, took time.Duration) error {
	cs, err := stack.Ps(ctx)
	if err != nil {
		return err
	}
	running := 0
	for _, c := range cs {
		if c.State == "running" {
			running++
		}
	}
	w := a.Streams.Out
	fmt.Fprintf(w, "\ndataeco is ready: %d services running, in %s\n\n", running, took.Round(time.Second))
	writeEndpoints(w, Endpoints(ans))
	fmt.Fprintf(w, "\nCredentials: run `dataeco credentials` (kept in %s, mode 0600)\n", filepath.Join(dir, envFile))
	fmt.Fprintf(w, "Next: `dataeco status`, `dataeco logs SERVICE`, `dataeco stop` (keeps data)\n")
	if ans.Listen != "127.0.0.1" {
		fmt.Fprintf(w, "\nNote: ports are published on %s and reachable from your network.\n", ans.Listen)
	}
	return nil
}

func writeEndpoints(w io.Writer, eps []endpoint) {
	for _, e := range eps {
		line := fmt.Sprintf("  %-18s %s", e.Name, e.URL)
		if e.Note != "" {
			line = fmt.Sprintf("%-48s (%s)", line, e.Note)
		}
		fmt.Fprintln(w, line)
	}
}

func humanBytesIEC(n int64) string {
	if n <= 0 {
		return "unknown memory"
	}
	return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
}

// skipCheckFlag lets a user override a failing prerequisite check, loudly.
func skipCheckFlag() cli.Flag {
	return &cli.StringSliceFlag{Name: "skip-check", Usage: "run even though the check with this ID fails (repeatable; see `dataeco doctor --list-checks`)"}
}
