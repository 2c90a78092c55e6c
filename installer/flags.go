package installer

import (
	"strings"
	"time"

	"github.com/dataeco/dataeco/installer/model"
	"github.com/urfave/cli/v2"
)

// Flags shared by several commands. A back-quoted word in a usage string is the value's
// placeholder in help (urfave/cli's convention): every flag that takes a value names it.

// settingFlags are the answers as flags. Values are strings so every parse error is the
// model's, naming the flag and a good value.
func settingFlags() []cli.Flag {
	var out []cli.Flag
	for _, s := range model.Settings() {
		if s.Bool {
			out = append(out, &cli.BoolFlag{Name: s.Flag, Usage: s.Usage, EnvVars: []string{model.EnvName(s.Flag)},
				Category: "Answers", DisableDefaultText: true})
			continue
		}
		if s.Repeat {
			out = append(out, &cli.StringSliceFlag{Name: s.Flag, Usage: strings.Replace(s.Usage, s.Value, "`"+s.Value+"`", 1),
				DefaultText: s.Default, EnvVars: []string{model.EnvName(s.Flag)}, Category: "Answers"})
			continue
		}
		out = append(out, &cli.StringFlag{Name: s.Flag, Usage: strings.Replace(s.Usage, s.Value, "`"+s.Value+"`", 1),
			DefaultText: s.Default, EnvVars: []string{model.EnvName(s.Flag)}, Category: "Answers"})
	}
	return out
}

// given reads this run's answers from the flags and their DATAECO_* variables.
func given(c *cli.Context, saved *model.Answers) (model.Given, error) {
	return model.ReadGiven(func(flag string) (string, bool) {
		if !c.IsSet(flag) {
			return "", false
		}
		if v := c.StringSlice(flag); v != nil {
			return strings.Join(v, ","), true
		}
		return c.String(flag), true
	}, saved)
}

// dirFlag is on every command that reads the install dir.
func dirFlag() cli.Flag {
	return &cli.StringFlag{Name: "dir", Usage: "install `DIR`", DefaultText: "~/.dataeco", EnvVars: []string{"DATAECO_HOME"}}
}

func jsonFlag() cli.Flag {
	return &cli.BoolFlag{Name: "json", Usage: "print JSON for scripts", DisableDefaultText: true}
}

func yesFlag(usage string) cli.Flag {
	return &cli.BoolFlag{Name: "yes", Aliases: []string{"y"}, Usage: usage, EnvVars: []string{"DATAECO_YES"}, DisableDefaultText: true}
}

// timeoutFlag bounds how long each service may take to become ready.
func timeoutFlag() cli.Flag {
	return &cli.DurationFlag{Name: "timeout", Usage: "how long each service may take to become ready, a `DURATION` like 5m",
		DefaultText: "per service, 2-10m", EnvVars: []string{"DATAECO_TIMEOUT"}}
}

// timeouts is the readiness timeout of each service: the flag's for all, or the catalogue's.
func timeouts(c *cli.Context) func(string) time.Duration {
	if d := c.Duration("timeout"); d > 0 {
		return func(string) time.Duration { return d }
	}
	return model.Timeout
}

// skipCheckFlag lets a user override a failing prerequisite check, loudly.
func skipCheckFlag() cli.Flag {
	return &cli.StringSliceFlag{Name: "skip-check", Usage: "run even though the check with this `ID` fails (repeatable; dataeco doctor --list-checks lists the IDs)"}
}

// keepOnFailureFlag leaves a failed stack running so the user can look at it.
func keepOnFailureFlag() cli.Flag {
	return &cli.BoolFlag{Name: "keep-on-failure", Usage: "leave the stack running when a service fails, for inspection (by default it is stopped, keeping data)",
		EnvVars: []string{"DATAECO_KEEP_ON_FAILURE"}, DisableDefaultText: true}
}

func pipelineTimeoutFlag() cli.Flag {
	return &cli.DurationFlag{Name: "pipeline-timeout", Value: 2 * time.Minute, Usage: "how long the pipeline smoke check waits for its record in Cassandra, a `DURATION`",
		EnvVars: []string{"DATAECO_PIPELINE_TIMEOUT"}}
}
