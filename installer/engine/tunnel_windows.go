package engine

import (
	"os"
	"os/exec"
	"syscall"
)

// detach puts cmd in a process group of its own, out of reach of the console's Ctrl-C.
func detach(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP}
}

// terminate ends p: Windows has no SIGTERM to send.
func terminate(p *os.Process) { _ = p.Kill() }
