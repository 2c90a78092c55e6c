//go:build !windows

package engine

import (
	"os"
	"os/exec"
	"syscall"
)

// detach puts cmd in a process group of its own, out of reach of the terminal's Ctrl-C.
func detach(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} }

// terminate asks p to end, as ssh ends cleanly on SIGTERM.
func terminate(p *os.Process) { _ = p.Signal(syscall.SIGTERM) }
