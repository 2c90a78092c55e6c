//go:build unix

package model

import (
	"os"

	"golang.org/x/sys/unix"
)

// tryLock takes an exclusive advisory lock without waiting. The kernel drops it when the
// process dies, so a crashed dataeco never leaves a stale lock.
func tryLock(f *os.File) (bool, error) {
	err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if err == unix.EWOULDBLOCK {
		return false, nil
	}
	return err == nil, err
}
