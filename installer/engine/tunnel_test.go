//go:build !windows

package engine

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dataeco/dataeco/installer/hint"
)

// TestOpenTunnelFailures: only ssh:// engines have a tunnel; an ssh that cannot log in ends
// the attempt with its own words and a hint, and a port taken here is left out rather than
// failing the others.
func TestOpenTunnelFailures(t *testing.T) {
	if _, err := OpenTunnel(context.Background(), "tcp://10.0.0.5:2376", []int{9092}); err == nil || !strings.Contains(err.Error(), "not an ssh:// engine") {
		t.Errorf("a tcp:// engine: %v", err)
	}
	bin := t.TempDir()
	fake := "#!/bin/sh\necho 'root@devbox: Permission denied (publickey).' >&2\nexit 255\n"
	if err := os.WriteFile(filepath.Join(bin, "ssh"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	busy := held.Addr().(*net.TCPAddr).Port
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := free.Addr().(*net.TCPAddr).Port
	free.Close()
	_, err = OpenTunnel(context.Background(), "ssh://root@devbox", []int{busy, port})
	if err == nil || !strings.Contains(err.Error(), "Permission denied (publickey)") || !strings.Contains(hint.Of(err), "without a prompt") {
		t.Errorf("a refused login: %v (hint %q)", err, hint.Of(err))
	}
	tun, err := OpenTunnel(context.Background(), "ssh://root@devbox", []int{busy})
	if err != nil || len(tun.Busy) != 1 || len(tun.Ports) != 0 {
		t.Errorf("only a busy port: %+v, %v", tun, err)
	}
	if !IsSSH("ssh://me@h") || IsSSH("tcp://h:2376") {
		t.Error("IsSSH")
	}
}
