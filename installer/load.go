package installer

import (
	"fmt"

	"github.com/dataeco/dataeco/installer/engine"
	"github.com/dataeco/dataeco/installer/hint"
	"github.com/dataeco/dataeco/installer/model"
	"github.com/urfave/cli/v2"
)

// The one way every command finds its install: --dir (or DATAECO_HOME, through the flag),
// then the answers, the secrets, the rendered file and the project, through the model.

func (a *App) installDir(c *cli.Context) (string, error) {
	return model.InstallDir(c.String("dir"), func(string) string { return "" })
}

// load reads the install in --dir; commands other than install need one.
func (a *App) load(c *cli.Context) (*model.Definition, error) {
	dir, err := a.installDir(c)
	if err != nil {
		return nil, err
	}
	return a.renderer().Load(c.Context, dir)
}

// stackFor connects to the engine and wires Compose for the definition.
func (a *App) stackFor(c *cli.Context, def *model.Definition) (*engine.Stack, error) {
	docker, err := a.connect(c.Context)
	if err != nil {
		return nil, err
	}
	if err := sameEngine(def, docker); err != nil {
		docker.Close()
		return nil, err
	}
	stack, err := a.newStack(docker, def)
	if err != nil {
		docker.Close()
		return nil, err
	}
	return stack, nil
}

// sameEngine refuses to act on an install through an engine on another machine than the one
// install put it on (engine.yaml): that engine has none of its containers or volumes, and
// status there would say the stack is gone while it runs where it was.
func sameEngine(def *model.Definition, docker *engine.Docker) error {
	want, got := def.Inputs.RemoteHost, docker.Facts.Target.RemoteHost()
	if want == got {
		return nil
	}
	at := "the engine at " + def.Inputs.Endpoint
	if want == "" {
		at = "this machine's engine"
	}
	return hint.New(fmt.Sprintf("point DOCKER_HOST (or the docker context) back at %s, or run `dataeco install --dir %s` to start the stack on this engine (its data stays on the other)", machine(want), def.Dir),
		fmt.Errorf("the install in %s runs on %s (%s), but this command reached %s on %s", def.Dir, at, model.EngineFile, docker.Facts.Target.Host, machine(got)))
}

// newStack wires Compose for the definition on a connected engine, with the images dataeco
// builds for it.
func (a *App) newStack(docker *engine.Docker, def *model.Definition) (*engine.Stack, error) {
	var builds []engine.BuildSpec
	for _, b := range def.Builds {
		builds = append(builds, engine.BuildSpec{Tag: b.Tag, Base: b.Base, Files: b.Files})
	}
	stack, err := engine.NewStack(docker, a.progress(), def.Project, builds)
	if err != nil {
		return nil, err
	}
	stack.BuildArgs = a.proxy(docker).BuildArgs()
	return stack, nil
}

// proxy is how this machine reaches outside: the proxy variables of the environment, else
// the Docker CLI's own settings (~/.docker/config.json "proxies", which Compose also hands
// to every container).
func (a *App) proxy(docker *engine.Docker) model.Proxy {
	if p := model.ProxyFrom(a.Getenv); p.Set() {
		return p
	}
	configured := docker.ConfiguredProxies()
	return model.ProxyFrom(func(k string) string { return configured[k] })
}

// withStack wraps an action on an installed stack: it holds an engine connection for the
// action's duration and, when locked, the install's lock, so commands that change an install
// take turns.
func (a *App) withStack(locked bool, action func(*cli.Context, *model.Definition, *engine.Stack) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		def, err := a.load(c)
		if err != nil {
			return err
		}
		if err := notOnSwarm(def, c.Command.Name); err != nil {
			return err
		}
		if locked {
			release, err := model.Lock(def.Dir, c.Command.Name)
			if err != nil {
				return err
			}
			defer release()
		}
		stack, err := a.stackFor(c, def)
		if err != nil {
			return err
		}
		defer stack.Docker.Close()
		return action(c, def, stack)
	}
}
