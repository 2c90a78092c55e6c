package installer

import (
	"errors"
	"fmt"
	"os/exec"
	"runtime"
	"strings"

	"github.com/dataeco/dataeco/installer/hint"
	"github.com/urfave/cli/v2"
)

func (a *App) openCmd() *cli.Command {
	return &cli.Command{
		Name:      "open",
		Usage:     "open a web UI of the install in your browser (airflow, control-center, spark, schema-registry)",
		ArgsUsage: "[UI]",
		Flags:     []cli.Flag{dirFlag()},
		BashComplete: func(c *cli.Context) {
			completeWords(c, []string{"airflow", "control-center", "spark", "schema-registry"})
		},
		Action: func(c *cli.Context) error {
			def, err := a.load(c)
			if err != nil {
				return err
			}
			urls := map[string]string{}
			var names []string
			for _, e := range endpoints(def) {
				if e.Open != "" {
					urls[e.Open] = e.URL
					names = append(names, e.Open)
				}
			}
			want := c.Args().First()
			if want == "" && len(names) > 0 {
				want = names[0]
				if _, ok := urls["airflow"]; ok {
					want = "airflow"
				}
			}
			url := urls[want]
			if c.NArg() > 1 || url == "" {
				return hint.UsageHint("this install has: "+strings.Join(names, ", "), fmt.Errorf("no web UI %q in this install", want))
			}
			a.result("%s", url)
			if err := a.browse(url); err != nil {
				a.status("%v; open the address above yourself", err)
				return nil
			}
			a.status("opened in your browser")
			return nil
		},
	}
}

// browse opens url in the user's browser, with the opener of the OS; an error says why it
// could not (no display, no opener), and the caller prints the address instead.
func (a *App) browse(url string) error {
	if a.Browser != nil {
		return a.Browser(url)
	}
	name, args, err := opener(runtime.GOOS, a.Getenv, exec.LookPath)
	if err != nil {
		return err
	}
	return exec.Command(name, append(args, url)...).Start()
}

// opener is the program that opens a URL on goos: open on macOS, the shell's start on
// Windows, wslview or the Windows side under WSL, xdg-open where there is a display.
func opener(goos string, getenv func(string) string, lookPath func(string) (string, error)) (string, []string, error) {
	switch goos {
	case "darwin":
		return "open", nil, nil
	case "windows":
		return "rundll32", []string{"url.dll,FileProtocolHandler"}, nil
	}
	if getenv("WSL_DISTRO_NAME") != "" {
		for _, p := range []string{"wslview", "explorer.exe"} {
			if _, err := lookPath(p); err == nil {
				return p, nil, nil
			}
		}
	}
	if getenv("DISPLAY") == "" && getenv("WAYLAND_DISPLAY") == "" {
		return "", nil, errors.New("no display to open a browser on")
	}
	if _, err := lookPath("xdg-open"); err != nil {
		return "", nil, errors.New("no xdg-open to open a browser with")
	}
	return "xdg-open", nil, nil
}
