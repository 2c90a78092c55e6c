package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dataeco/dataeco/installer/hint"
	"github.com/docker/cli/cli/connhelper/ssh"
)

// Tunnel forwards ports published on the loopback of a remote engine's machine to the same
// ports on this machine's loopback, through the ssh the docker CLI itself uses for an ssh://
// engine (same binary, same ~/.ssh/config, keys and agent). The same port numbers matter:
// the Kafka broker gives clients its advertised address, localhost:PORT, to come back to.
type Tunnel struct {
	// Ports are the ports forwarded; Busy those left out because something on this machine
	// already listens on them.
	Ports, Busy []int

	cmd    *exec.Cmd
	stderr *lockedBuffer
	done   chan struct{}
}

// IsSSH says whether endpoint is an ssh:// engine, the kind OpenTunnel can forward from.
func IsSSH(endpoint string) bool { return strings.HasPrefix(endpoint, "ssh://") }

// OpenTunnel starts one ssh process forwarding each of ports on the machine behind endpoint
// (ssh://[USER@]HOST[:PORT]) and returns once every forward listens here. A port already
// taken here is left out (Busy) rather than failing them all. Close ends it; so does ctx.
func OpenTunnel(ctx context.Context, endpoint string, ports []int) (*Tunnel, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme != "ssh" {
		return nil, fmt.Errorf("%s is not an ssh:// engine: only those have a tunnel", endpoint)
	}
	spec, err := ssh.NewSpec(u)
	if err != nil {
		return nil, fmt.Errorf("the engine's address %s: %w", endpoint, err)
	}
	t := &Tunnel{stderr: &lockedBuffer{}, done: make(chan struct{})}
	// BatchMode: a prompt for a password or a host key would wait for a terminal that is
	// busy with dataeco's own output; the docker CLI's connection needs the same setup.
	args := []string{"-N", "-T", "-o", "ExitOnForwardFailure=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=30",
		"-o", "ServerAliveInterval=15"}
	for _, p := range ports {
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			t.Busy = append(t.Busy, p)
			continue
		}
		l.Close()
		t.Ports = append(t.Ports, p)
		args = append(args, "-L", fmt.Sprintf("127.0.0.1:%d:127.0.0.1:%d", p, p))
	}
	if len(t.Ports) == 0 {
		close(t.done)
		return t, nil
	}
	sshArgs := spec.Args()
	if sshArgs == nil {
		return nil, fmt.Errorf("the engine's address %s cannot be given to ssh", endpoint)
	}
	t.cmd = exec.Command("ssh", append(args, sshArgs...)...)
	t.cmd.Stderr = t.stderr
	// Its own process group: a Ctrl-C at the terminal reaches dataeco, which closes the
	// tunnel when it is done with it, not in the middle of the smoke checks.
	detach(t.cmd)
	if err := t.cmd.Start(); err != nil {
		return nil, hint.Wrap(fmt.Errorf("starting ssh for a tunnel to %s: %w", u.Host, err), "install the OpenSSH client (ssh), which the docker CLI needs for ssh:// engines too")
	}
	go func() { _ = t.cmd.Wait(); close(t.done) }()
	if err := t.wait(ctx, 45*time.Second); err != nil {
		t.Close()
		return nil, err
	}
	go func() {
		select {
		case <-ctx.Done():
			t.Close()
		case <-t.done:
		}
	}()
	return t, nil
}

// wait returns once every forwarded port accepts a connection here (ssh listens on them only
// after it logged in), or with ssh's own words when it gave up.
func (t *Tunnel) wait(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for _, p := range t.Ports {
		for {
			c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)), time.Second)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-t.done:
				return hint.New("check that `ssh` to the engine's machine logs in without a prompt (a key or an agent, and its host key known), as `docker` needs too",
					fmt.Errorf("the SSH tunnel ended before it was up: %s", strings.TrimSpace(t.stderr.String())))
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("the SSH tunnel did not listen on port %d within %s: %s", p, limit, strings.TrimSpace(t.stderr.String()))
			}
		}
	}
	return nil
}

// Close ends the tunnel and waits for ssh to go.
func (t *Tunnel) Close() error {
	if t.cmd == nil || t.cmd.Process == nil {
		return nil
	}
	select {
	case <-t.done:
		return nil
	default:
	}
	terminate(t.cmd.Process)
	select {
	case <-t.done:
	case <-time.After(5 * time.Second):
		_ = t.cmd.Process.Kill()
		<-t.done
	}
	return nil
}

// Done is closed when the tunnel has ended (ssh exited).
func (t *Tunnel) Done() <-chan struct{} { return t.done }

// Err is what ssh said when the tunnel ended on its own.
func (t *Tunnel) Err() error {
	select {
	case <-t.done:
		if s := strings.TrimSpace(t.stderr.String()); s != "" {
			return errors.New(s)
		}
		return errors.New("ssh exited")
	default:
		return nil
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
