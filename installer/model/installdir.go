package model

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/dataeco/dataeco/installer/hint"
)

// Files in the install dir.
const (
	AnswersFile = "answers.yaml"
	EnvFile     = ".env"
	ComposeFile = "docker-compose.yml"
	// OverrideFile is the user's own additions, with Compose's semantics for the file of this
	// name: merged over ComposeFile, never written by dataeco.
	OverrideFile = "docker-compose.override.yml"
	dagsDir      = "dags"
)

// InstallDir resolves where the install lives: --dir, then DATAECO_HOME, then ~/.dataeco.
func InstallDir(flagValue string, getenv func(string) string) (string, error) {
	dir := flagValue
	if dir == "" {
		dir = getenv("DATAECO_HOME")
	}
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", hint.Usage("--dir", "~/.dataeco", "no home directory to default to: %v", err)
		}
		dir = filepath.Join(home, ".dataeco")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", hint.Usage("--dir", "~/.dataeco", "%v", err)
	}
	if st, err := os.Stat(abs); err == nil && !st.IsDir() {
		return "", hint.Usage("--dir", "~/.dataeco", "%s is a file, not a directory", abs)
	}
	return abs, nil
}

// PrepareDir creates the install dir private to the user. A dir that exists is tightened to
// 0700 as well, since it holds the credentials file.
func PrepareDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return hint.Wrap(fmt.Errorf("creating the install dir: %w", err),
			"choose a writable place with --dir or DATAECO_HOME")
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return hint.Wrap(fmt.Errorf("securing the install dir: %w", err), "choose a dir you own with --dir")
	}
	return nil
}

// CheckWritable fails early, before any question or Docker call, when the dir can't be used.
func CheckWritable(dir string) error {
	probe := dir
	for {
		st, err := os.Stat(probe)
		if err == nil {
			if !st.IsDir() {
				return hint.Usage("--dir", "~/.dataeco", "%s is a file, not a directory", probe)
			}
			f, err := os.CreateTemp(probe, ".write-test-*")
			if err != nil {
				return hint.Usage("--dir", "~/.dataeco", "%s is not writable: %v", probe, errors.Unwrap(err))
			}
			f.Close()
			return os.Remove(f.Name())
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return hint.Usage("--dir", "~/.dataeco", "%v", err)
		}
		parent := filepath.Dir(probe)
		if parent == probe {
			return hint.Usage("--dir", "~/.dataeco", "no existing parent for %s", dir)
		}
		probe = parent
	}
}

// WriteFileAtomic replaces path in one step, so an interrupted install never leaves a
// half-written answers or compose file behind.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
