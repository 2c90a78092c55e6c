package installer

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// versionCache answers a binary's version query with what the same file printed before:
// same resolved path, size and modification time, within ttl. An upgrade replaces the file,
// so it is asked again; the ttl bounds what a wrapper script (whose own file does not
// change) can leave stale. Without a file, every query runs.
type versionCache struct {
	file string // "" disables the cache
	ttl  time.Duration
	run  func(ctx context.Context, name string, args ...string) ([]byte, error)
	now  func() time.Time
}

type versionEntry struct {
	Size    int64     `json:"size"`
	ModTime time.Time `json:"mod_time"`
	Output  string    `json:"output"`
	At      time.Time `json:"at"`
}

// Exec runs name with args, or answers from the cache.
func (v versionCache) Exec(ctx context.Context, name string, args ...string) ([]byte, error) {
	if v.file == "" {
		return v.run(ctx, name, args...)
	}
	path, err := exec.LookPath(name)
	if err == nil {
		path, err = filepath.EvalSymlinks(path)
	}
	if err != nil {
		return v.run(ctx, name, args...)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return v.run(ctx, name, args...)
	}
	key := strings.Join(append([]string{path}, args...), " ")
	entries := map[string]versionEntry{}
	if raw, err := os.ReadFile(v.file); err == nil {
		_ = json.Unmarshal(raw, &entries) // a damaged cache is an empty one
	}
	if e, ok := entries[key]; ok && e.Size == fi.Size() && e.ModTime.Equal(fi.ModTime()) && v.now().Sub(e.At) < v.ttl {
		return []byte(e.Output), nil
	}
	out, err := v.run(ctx, name, args...)
	if err != nil {
		return out, err
	}
	entries[key] = versionEntry{Size: fi.Size(), ModTime: fi.ModTime(), Output: string(out), At: v.now()}
	if raw, err := json.Marshal(entries); err == nil {
		// Best effort: a cache that cannot be written costs the next run half a second.
		if os.MkdirAll(filepath.Dir(v.file), 0o755) == nil {
			tmp := v.file + ".tmp"
			if os.WriteFile(tmp, raw, 0o644) == nil {
				_ = os.Rename(tmp, v.file)
			}
		}
	}
	return out, nil
}

// cacheDir is where dataeco keeps what it can always compute again: $XDG_CACHE_HOME/dataeco,
// else the system's user cache directory; "" when neither is known.
func (a *App) cacheDir() string {
	if x := a.Getenv("XDG_CACHE_HOME"); x != "" {
		return filepath.Join(x, "dataeco")
	}
	if a.Getenv("HOME") == "" {
		return ""
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "dataeco")
}
