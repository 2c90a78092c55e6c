package model

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/dataeco/dataeco/installer/hint"
)

const lockFile = ".lock"

// Lock makes commands that change an install take turns: a second one refuses at
// once, naming the first, instead of interleaving Compose calls on the same containers.
func Lock(dir, command string) (release func(), err error) {
	path := filepath.Join(dir, lockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, hint.Wrap(fmt.Errorf("opening the install lock: %w", err), "check that you own "+dir)
	}
	ok, err := tryLock(f)
	if err != nil {
		f.Close()
		return nil, hint.Wrap(fmt.Errorf("locking %s: %w", dir, err), "check that you own "+dir)
	}
	if !ok {
		holder, _ := os.ReadFile(path)
		f.Close()
		who := strings.TrimSpace(string(holder))
		if who == "" {
			who = "another dataeco command"
		}
		return nil, hint.New("wait for it to finish (or stop it with Ctrl-C), then run your command again",
			fmt.Errorf("%s is busy: %s is changing it", dir, who))
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(fmt.Sprintf("dataeco %s (PID %d)\n", command, os.Getpid())), 0)
	return func() {
		_ = f.Truncate(0)
		f.Close()
	}, nil
}
