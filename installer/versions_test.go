package installer

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestVersionCache: a version query runs once per binary file; a replaced binary, an expired
// entry or no cache file runs it again.
func TestVersionCache(t *testing.T) {
	bin := t.TempDir()
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	tool := filepath.Join(bin, "faketool")
	write := func(version string) {
		t.Helper()
		if err := os.WriteFile(tool, []byte("#!/bin/sh\necho "+version+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write("1.29.2")
	runs := 0
	clock := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	v := versionCache{file: filepath.Join(t.TempDir(), "cache", "versions.json"), ttl: time.Hour,
		now: func() time.Time { return clock },
		run: func(ctx context.Context, name string, args ...string) ([]byte, error) {
			runs++
			return []byte(name + " " + args[0]), nil
		}}
	ask := func(want int, arg string) {
		t.Helper()
		out, err := v.Exec(context.Background(), "faketool", arg)
		if err != nil || string(out) != "faketool "+arg {
			t.Fatalf("Exec = %q, %v", out, err)
		}
		if runs != want {
			t.Errorf("after asking %s: %d runs, want %d", arg, runs, want)
		}
	}
	ask(1, "version")
	ask(1, "version") // from the cache
	ask(2, "--short") // other arguments, another query
	write("2.0.0-longer")
	ask(3, "version") // the file changed
	ask(3, "version")
	clock = clock.Add(2 * time.Hour)
	ask(4, "version") // expired
	v.file = ""
	ask(5, "version")
	ask(6, "version")
}
