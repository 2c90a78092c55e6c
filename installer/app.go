// Package installer is everything in dataeco that changes state: it reads the user's answers,
// renders the compose file into the install dir, and drives Compose (as a library) against
// the Docker engine, showing progress on the way. It owns the command-line interface too.
package installer

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"
)

// urfave/cli keeps one global help flag and one global help command, and writes to both
// each time it sets up a command: two CLIs running at once in one process (the tests do)
// race on them. dataeco gives every run its own: a help flag that applies a copy of itself,
// and fresh help commands that reuse the library's action, read once here before anything
// can run.
var libraryHelpAction cli.ActionFunc

func init() {
	cli.HelpFlag = copiedBoolFlag{&cli.BoolFlag{Name: "help", Aliases: []string{"h"}, Usage: "show help", DisableDefaultText: true}}
	probe := &cli.App{}
	probe.Setup()
	for _, c := range probe.Commands {
		if c.Name == "help" {
			libraryHelpAction = c.Action
		}
	}
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
	// Connect reaches the Docker engine; nil means ConnectDocker.
	Connect func(ctx context.Context) (*Docker, error)
	// Prompter returns the prompt implementation; nil means survey on the terminal.
	Prompter func() (Prompter, error)
	// Template replaces the embedded compose template; tests use it to play a newer dataeco
	// (an upgrade) against an existing install. Empty means the embedded one.
	Template string
}

// render renders the compose file this binary installs for the answers.
func (a *App) render(ans *Answers) ([]byte, error) {
	if a.Template != "" {
		return renderTemplate(a.Template, ans, a.Build.Version)
	}
	return RenderCompose(ans, a.Build.Version)
}

// Main runs the CLI and returns the process exit code, rendering any error once.
func Main(ctx context.Context, a *App, args []string) int {
	err := a.Run(ctx, args)
	if err != nil {
		if errors.Is(err, errInterrupted) || ctx.Err() != nil {
			fmt.Fprintf(a.Streams.ErrOut, "interrupted: %v\n", err)
			return ExitInterrupted
		}
		RenderError(a.Streams.ErrOut, err)
	}
	return ExitCode(err)
}

func (a *App) connect(ctx context.Context) (*Docker, error) {
	if a.Connect != nil {
		return a.Connect(ctx)
	}
	return ConnectDocker(ctx, a.Streams.ErrOut)
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
	err := app.RunContext(ctx, args)
	if err == nil && len(args) > 1 && app.Command(args[1]) == nil && args[1][0] != '-' && args[1] != "help" {
		return &Error{Code: ExitUsage, Err: fmt.Errorf("unknown command %q", args[1]), Hint: "run `dataeco help`"}
	}
	return err
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
			return &Error{Code: ExitUsage, Err: err, Hint: "run `dataeco help` for the commands and `dataeco COMMAND --help` for their flags"}
		},
		CommandNotFound: func(c *cli.Context, name string) {
			fmt.Fprintf(a.Streams.ErrOut, "unknown command %q; run `dataeco help`\n", name)
		},
		Commands: []*cli.Command{
			a.installCmd(),
			a.startCmd(),
			a.stopCmd(),
			a.downCmd(),
			a.uninstallCmd(),
			a.statusCmd(),
			a.logsCmd(),
			a.configCmd(),
			a.credentialsCmd(),
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
			return &Error{Code: ExitUsage, Err: fmt.Errorf("no command %q", name), Hint: "run `dataeco help` for the commands"}
		}
		return libraryHelpAction(c)
	})
}

// helpCommand is a fresh help command, named and worded as the library's own.
func helpCommand(action cli.ActionFunc) *cli.Command {
	return &cli.Command{Name: "help", Aliases: []string{"h"}, Usage: "Shows a list of commands or help for one command",
		ArgsUsage: "[command]", Action: action}
}

// dirFlag is on every command that reads the install dir.
func dirFlag() cli.Flag {
	return &cli.StringFlag{Name: "dir", Usage: "install dir (default ~/.dataeco)", EnvVars: []string{"DATAECO_HOME"}}
}

func (a *App) installDir(c *cli.Context) (string, error) {
	return InstallDir(c.String("dir"), func(string) string { return "" })
}

// installed is what a previous install left in its dir.
type installed struct {
	Dir     string
	Answers *Answers
	Secrets Secrets
	Compose []byte
}

// loadInstalled reads the install dir; commands other than install need one.
func (a *App) loadInstalled(c *cli.Context) (*installed, error) {
	dir, err := a.installDir(c)
	if err != nil {
		return nil, err
	}
	ans, err := LoadAnswers(dir)
	if err != nil {
		return nil, err
	}
	if ans == nil {
		return nil, &Error{Code: ExitFailure, Err: fmt.Errorf("nothing is installed in %s", dir),
			Hint: "run `dataeco install` first (or pass --dir for an install elsewhere)"}
	}
	sec, err := LoadSecrets(dir)
	if err != nil {
		return nil, err
	}
	composeBytes, err := a.render(ans)
	if err != nil {
		return nil, err
	}
	return &installed{Dir: dir, Answers: ans, Secrets: sec, Compose: composeBytes}, nil
}

// composePath is where the rendered definition lives.
func composePath(dir string) string { return filepath.Join(dir, composeFile) }
