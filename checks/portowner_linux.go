//go:build linux

package checks

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// PortOwner finds the process holding a TCP port from /proc: the socket's inode in
// /proc/net/tcp{,6}, then the process holding that inode. A listener wins; failing that, a
// connection whose local end is the port (the kernel hands such ports out to outgoing
// connections, and one blocks a later bind as surely as a server does). Processes of other
// users are only visible to root, so it may find nothing.
func PortOwner(port int) (Proc, bool) {
	return portOwnerIn("/proc", port)
}

// EphemeralPorts reads the range the kernel draws outgoing connections' local ports from.
func EphemeralPorts() (lo, hi int, ok bool) {
	return ephemeralPortsIn("/proc")
}

func ephemeralPortsIn(procRoot string) (lo, hi int, ok bool) {
	b, err := os.ReadFile(filepath.Join(procRoot, "sys/net/ipv4/ip_local_port_range"))
	if err != nil {
		return 0, 0, false
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0, 0, false
	}
	lo, err1 := strconv.Atoi(f[0])
	hi, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || lo > hi {
		return 0, 0, false
	}
	return lo, hi, true
}

func portOwnerIn(procRoot string, port int) (Proc, bool) {
	if p, ok := socketOwnerIn(procRoot, port, true); ok {
		return p, true
	}
	p, ok := socketOwnerIn(procRoot, port, false)
	p.Outgoing = ok
	return p, ok
}

func socketOwnerIn(procRoot string, port int, listening bool) (Proc, bool) {
	inodes := map[string]bool{}
	for _, f := range []string{"net/tcp", "net/tcp6"} {
		for _, inode := range socketInodes(filepath.Join(procRoot, f), port, listening) {
			inodes[inode] = true
		}
	}
	if len(inodes) == 0 {
		return Proc{}, false
	}
	pids, _ := filepath.Glob(filepath.Join(procRoot, "[0-9]*"))
	for _, dir := range pids {
		fds, _ := filepath.Glob(filepath.Join(dir, "fd", "*"))
		for _, fd := range fds {
			link, err := os.Readlink(fd)
			if err != nil || !strings.HasPrefix(link, "socket:[") {
				continue
			}
			if inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] {
				pid, _ := strconv.Atoi(filepath.Base(dir))
				comm, _ := os.ReadFile(filepath.Join(dir, "comm"))
				return Proc{PID: pid, Name: strings.TrimSpace(string(comm))}, true
			}
		}
	}
	return Proc{}, false
}

// socketInodes reads a /proc/net/tcp table for the sockets whose local port is port: those in
// LISTEN state (0A), or else those in any other state that a process still holds (inode 0
// is a connection in TIME_WAIT, which no process owns and which a listener may bind over).
func socketInodes(path string, port int, listening bool) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	want := fmt.Sprintf(":%04X", port)
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 || (fields[3] == "0A") != listening || fields[9] == "0" {
			continue
		}
		if strings.HasSuffix(fields[1], want) {
			out = append(out, fields[9])
		}
	}
	return out
}
