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

// PortOwner finds the process listening on a TCP port from /proc: the socket's inode in
// /proc/net/tcp{,6}, then the process holding that inode. Processes of other users are only
// visible to root, so it may find nothing.
func PortOwner(port int) (Proc, bool) {
	return portOwnerIn("/proc", port)
}

func portOwnerIn(procRoot string, port int) (Proc, bool) {
	inodes := map[string]bool{}
	for _, f := range []string{"net/tcp", "net/tcp6"} {
		for _, inode := range listeningInodes(filepath.Join(procRoot, f), port) {
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

// listeningInodes reads a /proc/net/tcp table for sockets in LISTEN state (0A) on port.
func listeningInodes(path string, port int) []string {
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
		if len(fields) < 10 || fields[3] != "0A" {
			continue
		}
		if strings.HasSuffix(fields[1], want) {
			out = append(out, fields[9])
		}
	}
	return out
}
