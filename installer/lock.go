package installer

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

const lockFile = ".lock"

// lockInstall makes commands that change an install take turns: a second one refuses at
// once, naming the first, instead of interleaving Compose calls on the same containers.
func lockInstall(dir, command string) (release func(), err error) {
	path := filepath.Join(dir, lockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, WithHint(fmt.Errorf("opening the install lock: %w", err), "check that you own "+dir)
	}
	ok, err := tryLock(f)
	if err != nil {
		f.Close()
		return nil, WithHint(fmt.Errorf("locking %s: %w", dir, err), "check that you own "+dir)
	}
	if !ok {
		holder, _ := os.ReadFile(path)
		f.Close()
		who := strings.TrimSpace(string(holder))
		if who == "" {
			who = "another dataeco command"
		}
		return nil, &Error{Code: ExitFailure, Err: fmt.Errorf("%s is busy: %s is changing it", dir, who),
			Hint: "wait for it to finish (or stop it with Ctrl-C), then run your command again"}
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(fmt.Sprintf("dataeco %s (PID %d)\n", command, os.Getpid())), 0)
	return func() {
		_ = f.Truncate(0)
		f.Close()
	}, nil
}
