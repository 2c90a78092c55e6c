package installer

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dataeco/dataeco/installer/engine"
	"github.com/dataeco/dataeco/installer/model"
)

// A command that does not work on a swarm install yet says so, with what to use meanwhile,
// before it touches Docker; the ones that do work go on to the engine.
func TestCommandsOnASwarmInstall(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "install")
	ans := model.DefaultAnswers(model.EngineResources{NCPU: 2, MemTotal: 8 << 30})
	ans.Swarm, ans.Listen, ans.Registry = true, "0.0.0.0", "registry.lan:5000"
	s := model.Secrets{}
	s.EnsureSecrets(ans.Project)
	b, err := model.Render(&ans, "test", "", model.Inputs{})
	if err != nil {
		t.Fatal(err)
	}
	if err := model.WriteInstall(dir, &ans, s, b); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		argv []string
		want string // in stderr; empty: the command goes on to the engine
	}{
		{[]string{"logs", "broker"}, ""},
		{[]string{"stop"}, ""},
		{[]string{"start"}, ""},
		{[]string{"restart"}, ""},
		{[]string{"reset", "--yes", "kafka"}, "does not work on a swarm install"},
		{[]string{"backup"}, "does not work on a swarm install"},
		{[]string{"status"}, ""},
		{[]string{"down"}, ""},
		{[]string{"uninstall", "--yes"}, ""},
	} {
		t.Run(tc.argv[0], func(t *testing.T) {
			t.Parallel()
			streams, _, _, errOut := TestStreams()
			connected := false
			app := &App{Streams: streams, Connect: func(context.Context) (*engine.Docker, error) {
				connected = true
				return nil, errors.New("no engine in this test")
			}}
			code := Main(context.Background(), app, append([]string{"dataeco", tc.argv[0], "--dir", dir}, tc.argv[1:]...))
			if code == 0 {
				t.Fatalf("exit 0 without an engine:\n%s", errOut)
			}
			if tc.want == "" {
				if !connected {
					t.Errorf("%s refused a swarm install:\n%s", tc.argv[0], errOut)
				}
				return
			}
			if connected || !strings.Contains(errOut.String(), "does not work on a swarm install") || !strings.Contains(errOut.String(), tc.want) {
				t.Errorf("%s on a swarm install (connected %v):\n%s", tc.argv[0], connected, errOut)
			}
		})
	}
}
