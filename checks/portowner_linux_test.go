//go:build linux

package checks

import (
	"net"
	"os"
	"testing"
)

// TestPortOwnerOnRealSockets opens a real listener and a real connection to it: the
// listener's port belongs to this process as a server, the connection's local port as an
// outgoing connection's.
func TestPortOwnerOnRealSockets(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	conn, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	defer func() { (<-accepted).Close() }()

	server := l.Addr().(*net.TCPAddr).Port
	client := conn.LocalAddr().(*net.TCPAddr).Port
	if p, ok := PortOwner(server); !ok || p.PID != os.Getpid() || p.Outgoing {
		t.Errorf("listener port %d: %+v, %v; want this process as a server", server, p, ok)
	}
	if p, ok := PortOwner(client); !ok || p.PID != os.Getpid() || !p.Outgoing {
		t.Errorf("connection port %d: %+v, %v; want this process's outgoing connection", client, p, ok)
	}
	// The kernel's range is where the connection's port came from.
	if lo, hi, ok := EphemeralPorts(); !ok || client < lo || client > hi {
		t.Errorf("ephemeral range %d-%d (%v) does not hold the connection's port %d", lo, hi, ok, client)
	}
}
