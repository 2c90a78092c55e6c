package installer

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/dataeco/dataeco/installer/hint"
	"github.com/dataeco/dataeco/installer/model"
)

// completionApp is dataeco's own command tree, as every run builds it.
func completionApp(a *App) *cli.App {
	return a.newCLI()
}

// markRuns replaces the action of every command but completion with one that records that
// it ran, in DATAECO_RAN: pressing Tab must never run a command.
func markRuns(app *cli.App, file string) {
	var mark func([]*cli.Command)
	mark = func(cmds []*cli.Command) {
		for _, cmd := range cmds {
			mark(cmd.Subcommands)
			if cmd.Name == "completion" {
				continue
			}
			name := cmd.Name
			cmd.Action = func(*cli.Context) error {
				f, err := os.OpenFile(file, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
				if err != nil {
					return err
				}
				defer f.Close()
				_, err = f.WriteString(strings.Join(os.Args, " ") + " ran " + name + "\n")
				return err
			}
		}
	}
	mark(app.Commands)
}

func TestCompletionCommand(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		code     int
		contains string
	}{
		{[]string{"bash"}, ExitOK, "complete -F _dataeco_complete dataeco"},
		{[]string{"zsh"}, ExitOK, "#compdef dataeco"},
		{[]string{"fish"}, ExitOK, "complete -c dataeco"},
		{[]string{"powershell"}, ExitUsage, ""},
		{nil, ExitUsage, ""},
		{[]string{"bash", "zsh"}, ExitUsage, ""},
	} {
		t.Run(strings.Join(tc.args, "_"), func(t *testing.T) {
			streams, _, out, _ := TestStreams()
			a := &App{Streams: streams, Getenv: func(string) string { return "" }}
			err := completionApp(a).RunContext(context.Background(), append([]string{"dataeco", "completion"}, tc.args...))
			if got := hint.ExitCode(err); got != tc.code {
				t.Fatalf("exit code %d (%v), want %d", got, err, tc.code)
			}
			if tc.code != ExitOK {
				var e *hint.Error
				if !errors.As(err, &e) || !strings.Contains(e.Err.Error(), "bash, zsh or fish") || e.Hint == "" {
					t.Errorf("error %v should name the shells and carry a hint", err)
				}
				if out.Len() != 0 {
					t.Errorf("printed a script on a usage error:\n%s", out)
				}
				return
			}
			if !strings.Contains(out.String(), tc.contains) || !strings.Contains(out.String(), "--generate-bash-completion") {
				t.Errorf("script for %s lacks %q:\n%s", tc.args[0], tc.contains, out)
			}
		})
	}
}

func TestServiceNames(t *testing.T) {
	dir := t.TempDir()
	a := &App{Getenv: func(string) string { return "" }}
	names := func() []string {
		t.Helper()
		var got []string
		cmd := &cli.Command{Name: "x", Flags: []cli.Flag{dirFlag()}, Action: func(c *cli.Context) error {
			got = a.serviceNames(c)
			return nil
		}}
		app := &cli.App{Name: "dataeco", Commands: []*cli.Command{cmd}}
		if err := app.Run([]string{"dataeco", "x", "--dir", dir}); err != nil {
			t.Fatal(err)
		}
		return got
	}
	// Nothing installed: the services of a default install.
	all := names()
	for _, want := range []string{"zookeeper", "broker", "schema-registry", "airflow-scheduler", "spark-master", "cassandra"} {
		if !slices.Contains(all, want) {
			t.Errorf("default services %v lack %s", all, want)
		}
	}
	// An install of Kafka alone completes only its services.
	ans := model.DefaultAnswers(model.EngineResources{NCPU: 2, MemTotal: 8 << 30})
	ans.Components = []string{model.CompKafka}
	writeAnswers(t, dir, &ans)
	kafka := names()
	if !slices.Contains(kafka, "broker") || slices.Contains(kafka, "cassandra") || len(kafka) >= len(all) {
		t.Errorf("services of a kafka-only install: %v", kafka)
	}
}

func writeAnswers(t *testing.T, dir string, ans *model.Answers) {
	t.Helper()
	b, err := ans.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, model.AnswersFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestCompletionHelperProcess is not a test: the shell tests below run the test binary as
// `dataeco` through it, so completion reads real process arguments, as it does in use.
func TestCompletionHelperProcess(t *testing.T) {
	if os.Getenv("DATAECO_COMPLETION_HELPER") != "1" {
		return
	}
	args := os.Args
	for i, arg := range args {
		if arg == "--" {
			args = args[i+1:]
			break
		}
	}
	streams := &IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	a := &App{Streams: streams, Getenv: os.Getenv}
	app := completionApp(a)
	markRuns(app, os.Getenv("DATAECO_RAN"))
	err := app.RunContext(context.Background(), args)
	os.Exit(hint.ExitCode(err))
}

// shellWithDataeco returns the path of shell and an environment whose PATH starts with a
// `dataeco` that is this test binary, and whose install dir holds a kafka-and-spark install.
func shellWithDataeco(t *testing.T, shell string) (string, []string) {
	t.Helper()
	path, err := exec.LookPath(shell)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed (.ci/run installs it): %v", shell, err)
		}
		t.Skipf("%s is not installed", shell)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "bin")
	home := filepath.Join(tmp, "dataeco-home")
	for _, d := range []string{bin, home} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ans := model.DefaultAnswers(model.EngineResources{NCPU: 2, MemTotal: 8 << 30})
	ans.Components = []string{model.CompKafka, model.CompSpark}
	writeAnswers(t, home, &ans)
	wrapper := "#!/bin/sh\nDATAECO_COMPLETION_HELPER=1 exec '" + self + "' -test.run='^TestCompletionHelperProcess$' -- dataeco \"$@\"\n"
	if err := os.WriteFile(filepath.Join(bin, "dataeco"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	ran := filepath.Join(tmp, "ran")
	t.Cleanup(func() {
		if b, err := os.ReadFile(ran); err == nil {
			t.Errorf("completion ran commands:\n%s", b)
		}
	})
	env := []string{
		"DATAECO_RAN=" + ran,
		"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"),
		"HOME=" + tmp,
		"DATAECO_HOME=" + home,
		"XDG_CONFIG_HOME=" + filepath.Join(tmp, "config"),
		"XDG_DATA_HOME=" + filepath.Join(tmp, "data"),
		"TERM=dumb",
	}
	return path, env
}

// completionCases are command lines, cut where Tab is pressed, and candidates that must and
// must not be offered.
var completionCases = []struct {
	line    string
	want    []string
	notWant []string
}{
	{"dataeco lo", []string{"logs"}, []string{"install"}},
	{"dataeco ", []string{"install", "status", "logs", "completion", "version"}, nil},
	{"dataeco logs ", []string{"broker", "zookeeper", "spark-master"}, []string{"cassandra", "install"}},
	{"dataeco logs broker z", []string{"zookeeper"}, []string{"broker"}},
	{"dataeco logs --fo", []string{"--follow"}, []string{"--tail", "broker"}},
	{"dataeco install --spark-w", []string{"--spark-workers", "--spark-worker-cores", "--spark-worker-memory"}, []string{"--yes"}},
	{"dataeco completion ", []string{"bash", "zsh", "fish"}, nil},
	{"dataeco images ", []string{"save", "load"}, []string{"install"}},
	{"dataeco images save --", []string{"--components", "--registry", "--dir"}, []string{"--json"}},
	{"dataeco status --", []string{"--json", "--dir"}, []string{"-y"}},
	{"dataeco uninstall --", []string{"--purge", "--yes"}, nil},
	{"dataeco uninstall -", []string{"--purge", "-y"}, nil},
	{"dataeco logs -- ", nil, []string{"broker", "--follow"}},
	{"dataeco uninstall -- --p", nil, []string{"--purge"}},
}

func checkCandidates(t *testing.T, line, output string, want, notWant []string) {
	t.Helper()
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(output), "\n") {
		got = append(got, strings.SplitN(l, "\t", 2)[0]) // fish adds a tab and a description
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("%q: candidates %q lack %q", line, got, w)
		}
	}
	for _, w := range notWant {
		if slices.Contains(got, w) {
			t.Errorf("%q: candidates %q include %q", line, got, w)
		}
	}
}

func TestCompletionBash(t *testing.T) {
	t.Parallel()
	bash, env := shellWithDataeco(t, "bash")
	for _, tc := range completionCases {
		t.Run(tc.line, func(t *testing.T) {
			t.Parallel()
			// COMP_WORDS as bash splits the line: a trailing space starts an empty word.
			words := strings.Split(tc.line, " ")
			quoted := make([]string, len(words))
			for i, w := range words {
				quoted[i] = "'" + w + "'"
			}
			script := "eval \"$(dataeco completion bash)\" || exit 1\n" +
				"COMP_WORDS=(" + strings.Join(quoted, " ") + ")\n" +
				"COMP_CWORD=$((${#COMP_WORDS[@]} - 1))\n" +
				"_dataeco_complete\n" +
				"printf '%s\\n' \"${COMPREPLY[@]}\"\n"
			cmd := exec.Command(bash, "--noprofile", "--norc", "-c", script)
			cmd.Env = env
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("bash: %v\n%s", err, stderrOf(err))
			}
			checkCandidates(t, tc.line, string(out), tc.want, tc.notWant)
		})
	}
	t.Run("dir", func(t *testing.T) {
		t.Parallel()
		cmd := exec.Command(bash, "--noprofile", "--norc", "-c", "eval \"$(dataeco completion bash)\"\n"+
			"cd \"$HOME\" && COMP_WORDS=(dataeco status --dir dataeco-h) COMP_CWORD=3 && _dataeco_complete\n"+
			"printf '%s\\n' \"${COMPREPLY[@]}\"\n")
		cmd.Env = env
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("bash: %v\n%s", err, stderrOf(err))
		}
		checkCandidates(t, "--dir", string(out), []string{"dataeco-home"}, nil)
	})
}

func TestCompletionZsh(t *testing.T) {
	t.Parallel()
	zsh, env := shellWithDataeco(t, "zsh")
	for _, tc := range completionCases {
		t.Run(tc.line, func(t *testing.T) {
			t.Parallel()
			// Outside a completion widget, words and CURRENT are plain variables, and
			// compadd and compdef are stubs; compadd prints what matches the typed word.
			words := strings.Split(tc.line, " ")
			quoted := make([]string, len(words))
			for i, w := range words {
				quoted[i] = "'" + w + "'"
			}
			script := "compdef() { :; }\n" +
				"compadd() { while [[ $1 != -- ]]; do shift; done; shift; print -l -- ${(M)@:#${words[CURRENT]}*}; }\n" +
				"eval \"$(dataeco completion zsh)\" || exit 1\n" +
				"words=(" + strings.Join(quoted, " ") + ")\n" +
				"CURRENT=${#words}\n" +
				"_dataeco || true\n"
			cmd := exec.Command(zsh, "-f", "-c", script)
			cmd.Env = env
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("zsh: %v\n%s", err, stderrOf(err))
			}
			checkCandidates(t, tc.line, string(out), tc.want, tc.notWant)
		})
	}
	t.Run("without compinit", func(t *testing.T) {
		t.Parallel()
		cmd := exec.Command(zsh, "-f", "-c", "eval \"$(dataeco completion zsh)\"")
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "compinit") {
			t.Errorf("loading without compinit should say to run it: %v\n%s", err, out)
		}
	})
}

func TestCompletionFish(t *testing.T) {
	t.Parallel()
	fish, env := shellWithDataeco(t, "fish")
	for _, tc := range completionCases {
		t.Run(tc.line, func(t *testing.T) {
			t.Parallel()
			// complete -C prints what fish would offer for the line, one candidate a line.
			script := "dataeco completion fish | source; or exit 1\ncomplete -C '" + tc.line + "'\n"
			cmd := exec.Command(fish, "--no-config", "-c", script)
			cmd.Env = env
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("fish: %v\n%s", err, stderrOf(err))
			}
			checkCandidates(t, tc.line, string(out), tc.want, tc.notWant)
		})
	}
}

func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(ee.Stderr)
	}
	return ""
}
