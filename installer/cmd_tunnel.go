package installer

import (
	"fmt"
	"strings"

	"github.com/dataeco/dataeco/installer/engine"
	"github.com/dataeco/dataeco/installer/hint"
	"github.com/urfave/cli/v2"
)

func (a *App) tunnelCmd() *cli.Command {
	return &cli.Command{
		Name:  "tunnel",
		Usage: "forward the ports a remote ssh:// engine published on its loopback to this machine, until Ctrl-C",
		Description: "For an install on another machine's engine (DOCKER_HOST=ssh://USER@HOST) with the ports on that\n" +
			"machine's loopback (the default --listen 127.0.0.1): one ssh process forwards each of them to\n" +
			"the same port on this machine's loopback, so the URLs of dataeco status and dataeco env\n" +
			"work here, Kafka clients included. It uses your ssh, keys and ~/.ssh/config, as docker does.\n" +
			"dataeco smoke opens one of its own while it runs.",
		Flags:  []cli.Flag{dirFlag()},
		Action: a.runTunnel,
	}
}

func (a *App) runTunnel(c *cli.Context) error {
	def, err := a.load(c)
	if err != nil {
		return err
	}
	in := def.Inputs
	if in.RemoteHost == "" {
		return hint.New("its URLs work as they are: `dataeco env`", fmt.Errorf("the install in %s runs on this machine's engine: there is nothing to tunnel", def.Dir))
	}
	ports := remoteLoopbackPorts(def.Answers, in.RemoteHost, false)
	if len(ports) == 0 {
		a.status("Every published port is on the addresses of %s: reach them there (`dataeco env`), no tunnel needed", in.RemoteHost)
		return nil
	}
	if !engine.IsSSH(in.Endpoint) {
		var cmds []string
		for _, p := range ports {
			cmds = append(cmds, fmt.Sprintf("-L %d:127.0.0.1:%d", p, p))
		}
		return hint.New(fmt.Sprintf("reach the engine with DOCKER_HOST=ssh://USER@%s and run `dataeco install` again, or tunnel yourself: ssh -N %s USER@%s",
			in.RemoteHost, strings.Join(cmds, " "), in.RemoteHost),
			fmt.Errorf("the install's engine is reached at %s, not over SSH, so dataeco has no SSH login to tunnel with", in.Endpoint))
	}
	t, err := engine.OpenTunnel(c.Context, in.Endpoint, ports)
	if err != nil {
		return err
	}
	defer t.Close()
	if len(t.Busy) > 0 {
		a.status("Note: port %s is taken on this machine, so not forwarded: stop what holds it here, or move the stack's port (`dataeco install --PORT-FLAG N`)", joinInts(t.Busy))
	}
	forwarded := map[string]bool{}
	for _, p := range t.Ports {
		forwarded[fmt.Sprint(p)] = true
	}
	for _, e := range endpoints(def) {
		if i := strings.LastIndex(e.URL, ":"); i >= 0 && forwarded[e.URL[i+1:]] {
			a.result("  %-18s %s", e.Name, e.URL)
		}
	}
	a.status("Forwarding port %s from %s through SSH; Ctrl-C closes the tunnel", joinInts(t.Ports), in.RemoteHost)
	select {
	case <-c.Context.Done():
		a.status("Tunnel closed")
		return nil
	case <-t.Done():
		return hint.New("run `dataeco tunnel` again; check the SSH login with `ssh "+in.RemoteHost+"`",
			fmt.Errorf("the SSH tunnel to %s ended: %v", in.RemoteHost, t.Err()))
	}
}
