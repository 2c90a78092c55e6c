package installer

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// TestHelpReadsWell renders every command's help as a user sees it and refuses what reads
// badly there: a flag taking "value" where the README names its kind, a default said twice,
// back-quotes shown literally, lines wider than a terminal, a missing --help line.
func TestHelpReadsWell(t *testing.T) {
	t.Parallel()
	var paths [][]string
	var walk func(prefix []string, cmds []*cli.Command)
	walk = func(prefix []string, cmds []*cli.Command) {
		for _, c := range cmds {
			if c.Name == "help" {
				continue
			}
			p := append(append([]string{}, prefix...), c.Name)
			paths = append(paths, p)
			walk(p, c.Subcommands)
		}
	}
	streams, _, _, _ := TestStreams()
	walk(nil, (&App{Streams: streams}).newCLI().Commands)
	paths = append(paths, nil) // dataeco --help
	placeholder := regexp.MustCompile(`--[a-z-]+ value\b`)
	for _, p := range paths {
		args := append(append([]string{"dataeco"}, p...), "--help")
		t.Run(strings.Join(args[1:], " "), func(t *testing.T) {
			t.Parallel()
			streams, _, out, errOut := TestStreams()
			if code := Main(context.Background(), &App{Streams: streams, Getenv: func(string) string { return "" }}, args); code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			help := out.String()
			if m := placeholder.FindString(help); m != "" {
				t.Errorf("%q: name the value's kind (N, SIZE, LIST…) with a back-quoted word in its usage", m)
			}
			for i, line := range strings.Split(help, "\n") {
				if strings.Count(line, "(default:") > 1 {
					t.Errorf("line %d says its default twice: %s", i+1, line)
				}
				if strings.Contains(line, "`") {
					t.Errorf("line %d shows back-quotes: %s", i+1, line)
				}
				if n := len([]rune(line)); n > 100 {
					t.Errorf("line %d is %d columns wide: %s", i+1, n, line)
				}
			}
			if !strings.Contains(help, "--help, -h") {
				t.Errorf("no --help line:\n%s", help)
			}
		})
	}
}

// TestVersionFlag: `dataeco --version` is what most users try first.
func TestVersionFlag(t *testing.T) {
	t.Parallel()
	for _, flag := range []string{"--version", "-v"} {
		streams, _, out, errOut := TestStreams()
		app := &App{Streams: streams, Build: BuildInfo{Version: "1.2.3", Commit: "abc", Date: "today"}}
		if code := Main(context.Background(), app, []string{"dataeco", flag}); code != 0 || !strings.Contains(out.String(), "dataeco 1.2.3") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", flag, code, out, errOut)
		}
	}
}
