// Package installer is dataeco's command line: the commands, their flags, the questions,
// and everything printed. It reads answers and renders the stack through the stack model
// (installer/model), drives the Docker engine through the engine driver (installer/engine),
// and runs the checks (checks). Behaviour lives below; a command here translates flags into
// calls and results into output.
package installer

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/dataeco/dataeco/installer/engine"
	"github.com/dataeco/dataeco/installer/hint"
	"github.com/dataeco/dataeco/installer/model"
	"github.com/urfave/cli/v2"
)

// Exit codes, as documented in the README.
const (
	ExitOK          = hint.ExitOK
	ExitFailure     = hint.ExitFailure
	ExitUsage       = hint.ExitUsage
	ExitInterrupted = hint.ExitInterrupted
)

// urfave/cli keeps one global help flag and one global help command, and writes to both
// each time it sets up a command: two CLIs running at once in one process (the tests do)
// race on them. dataeco gives every run its own: a help flag that applies a copy of itself,
// and fresh help commands that reuse the library's action, read once here before anything
// can run.
var libraryHelpAction cli.ActionFunc

func init() {
	cli.HelpFlag = copiedBoolFlag{&cli.BoolFlag{Name: "help", Aliases: []string{"h"}, Usage: "show help", DisableDefaultText: true}}
	// The library prints a flag's usage on one line however long; help wraps at 100 columns,
	// under the column the text starts in.
	cli.HelpPrinter = func(w io.Writer, templ string, data any) {
		var buf bytes.Buffer
		cli.HelpPrinterCustom(&buf, templ, data, nil)
		_, _ = io.WriteString(w, wrapHelp(buf.String(), helpWidth))
	}
	probe := &cli.App{}
	probe.Setup()
	for _, c := range probe.Commands {
		if c.Name == "help" {
			libraryHelpAction = c.Action
		}
	}
}

// helpWidth is the widest line help prints: most terminals show it whole.
const helpWidth = 100

// wrapHelp breaks every line wider than width at spaces, continuing under the column where
// the line's text starts (after a flag's name, the description).
func wrapHelp(text string, width int) string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if len([]rune(line)) <= width {
			out = append(out, line)
			continue
		}
		indent := len(line) - len(strings.TrimLeft(line, " "))
		if i := strings.Index(line[indent:], "  "); i > 0 {
			if j := indent + i + len(line[indent+i:]) - len(strings.TrimLeft(line[indent+i:], " ")); j < width/2 {
				indent = j
			}
		}
		pad := strings.Repeat(" ", indent)
		cur := line[:indent]
		for _, word := range strings.Fields(line[indent:]) {
			if len(cur) > indent && len([]rune(cur))+1+len([]rune(word)) > width {
				out = append(out, cur)
				cur = pad
			}
			if len(cur) > indent {
				cur += " "
			}
			cur += word
		}
		out = append(out, cur)
	}
	return strings.Join(out, "\n")
}

// copiedBoolFlag is a bool flag whose Apply leaves the shared definition untouched.
type copiedBoolFlag struct{ *cli.BoolFlag }

func (f copiedBoolFlag) Apply(set *flag.FlagSet) error {
	c := *f.BoolFlag
	return c.Apply(set)
}

// GetDefaultText is empty as for the library's own help flag, which it recognises by type.
func (f copiedBoolFlag) GetDefaultText() string { return "" }

// BuildInfo is stamped into the binary at release time.
type BuildInfo struct {
	Version string `json:"version"`
	Commit  string `json:"commit"`
	Date    string `json:"date"`
}

// App holds the long-lived dependencies of every command. Expensive ones are functions, so
// `--help` and `version` never touch Docker, and tests can inject their own.
type App struct {
	Streams *IOStreams
	Getenv  func(string) string
	Build   BuildInfo
	// Connect reaches the Docker engine; nil means engine.Connect.
	Connect func(ctx context.Context) (*engine.Docker, error)
	// Prompter returns the prompt implementation; nil means survey on the terminal.
	Prompter func() (Prompter, error)
	// Browser opens a URL; nil means the OS's opener (tests record the URL instead).
	Browser func(url string) error
	// Template replaces the embedded compose template; tests use it to play a newer dataeco
	// (an upgrade) against an existing install. Empty means the embedded one.
	Template string
}

// renderer renders the compose file this binary installs.
func (a *App) renderer() model.Renderer {
	return model.Renderer{Version: a.Build.Version, Template: a.Template}
}

// Main runs the CLI and returns the process exit code, rendering any error once.
func Main(ctx context.Context, a *App, args []string) int {
	err := a.Run(ctx, args)
	if err != nil {
		if errors.Is(err, hint.ErrInterrupted) || ctx.Err() != nil {
			fmt.Fprintf(a.Streams.ErrOut, "interrupted: %v\n", err)
			return ExitInterrupted
		}
		hint.Render(a.Streams.ErrOut, err)
	}
	return hint.ExitCode(err)
}

func (a *App) connect(ctx context.Context) (*engine.Docker, error) {
	if a.Connect != nil {
		return a.Connect(ctx)
	}
	return engine.Connect(ctx, a.Streams.ErrOut)
}

// progress is where the engine shows its progress: stderr, as a terminal or not.
func (a *App) progress() engine.Output {
	return engine.Output{W: a.Streams.ErrOut, TTY: a.Streams.ErrTTY, Color: a.Streams.Color}
}

func (a *App) prompter() (Prompter, error) {
	if !a.Streams.CanPrompt() {
		return nil, errors.New("no terminal")
	}
	if a.Prompter != nil {
		return a.Prompter()
	}
	return NewSurveyPrompter(a.Streams)
}

// Run parses args and runs the chosen command.
func (a *App) Run(ctx context.Context, args []string) error {
	if a.Getenv == nil {
		a.Getenv = os.Getenv
	}
	app := a.newCLI()
	return app.RunContext(ctx, args)
}

// newCLI builds the command tree, fresh for each run.
func (a *App) newCLI() *cli.App {
	app := &cli.App{
		Name:  "dataeco",
		Usage: "install and run a local streaming data platform: Kafka, Schema Registry, Control Center, Airflow, Spark and Cassandra",
		Description: "dataeco renders a Compose definition into an install dir (default ~/.dataeco) and runs it on your\n" +
			"Docker engine through the Compose library: no docker-compose binary is needed.",
		Version:              a.Build.Version,
		Writer:               a.Streams.Out,
		ErrWriter:            a.Streams.ErrOut,
		HideVersion:          true,
		EnableBashCompletion: true,
		ExitErrHandler:       func(*cli.Context, error) {},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return hint.UsageHint("run `dataeco help` for the commands and `dataeco COMMAND --help` for their flags", err)
		},
		Flags: []cli.Flag{&cli.BoolFlag{Name: "version", Aliases: []string{"v"}, Usage: "print the version and exit", DisableDefaultText: true}},
		Action: func(c *cli.Context) error {
			if c.Bool("version") {
				return a.printVersion(false)
			}
			if c.NArg() > 0 {
				return hint.UsageHint("run `dataeco help`", fmt.Errorf("unknown command %q", c.Args().First()))
			}
			return cli.ShowAppHelp(c)
		},
		Commands: []*cli.Command{
			a.installCmd(),
			a.startCmd(),
			a.stopCmd(),
			a.restartCmd(),
			a.resetCmd(),
			a.backupCmd(),
			a.restoreCmd(),
			a.downCmd(),
			a.uninstallCmd(),
			a.statusCmd(),
			a.logsCmd(),
			a.configCmd(),
			a.credentialsCmd(),
			a.envCmd(),
			a.openCmd(),
			a.tunnelCmd(),
			a.imagesCmd(),
			a.doctorCmd(),
			a.smokeCmd(),
			a.completionCmd(),
			a.versionCmd(),
		},
	}
	// Help commands of this run's own (see init): `dataeco help [COMMAND]` at the top,
	// `dataeco COMMAND help` below, where the library would share one.
	app.Commands = append(app.Commands, a.helpCmd())
	app.Flags = append(app.Flags, cli.HelpFlag) // the library adds it only along with its help command
	var own func([]*cli.Command)
	own = func(cmds []*cli.Command) {
		for _, cmd := range cmds {
			cmd.OnUsageError = app.OnUsageError
			if cmd.Name != "help" {
				if len(cmd.Subcommands) == 0 && cmd.CustomHelpTemplate == "" {
					// The library picks the template by whether a command has subcommands;
					// the help one added here must not make a leaf look like a parent.
					cmd.CustomHelpTemplate = cli.CommandHelpTemplate
				}
				own(cmd.Subcommands)
				cmd.Subcommands = append(cmd.Subcommands, helpCommand(libraryHelpAction))
			}
		}
	}
	own(app.Commands)
	return app
}

// helpCmd is `dataeco help [COMMAND]`.
func (a *App) helpCmd() *cli.Command {
	return helpCommand(func(c *cli.Context) error {
		if name := c.Args().First(); name != "" && c.App.Command(name) == nil {
			return hint.UsageHint("run `dataeco help` for the commands", fmt.Errorf("no command %q", name))
		}
		return libraryHelpAction(c)
	})
}

// helpCommand is a fresh help command, named and worded as the library's own.
func helpCommand(action cli.ActionFunc) *cli.Command {
	return &cli.Command{Name: "help", Aliases: []string{"h"}, Usage: "Shows a list of commands or help for one command",
		ArgsUsage: "[command]", Action: action}
}
