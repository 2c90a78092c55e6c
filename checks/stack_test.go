package checks

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestInstallDirCheck(t *testing.T) {
	t.Parallel()
	mk := func(t *testing.T, files map[string]os.FileMode, dirMode os.FileMode) string {
		dir := t.TempDir()
		for f, m := range files {
			if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), m); err != nil {
				t.Fatal(err)
			}
			os.Chmod(filepath.Join(dir, f), m)
		}
		os.Chmod(dir, dirMode)
		return dir
	}
	all := map[string]os.FileMode{"answers.yaml": 0o600, ".env": 0o600, "docker-compose.yml": 0o644}
	tests := []struct {
		name    string
		files   map[string]os.FileMode
		dirMode os.FileMode
		problem error
		want    Status
		has     string
	}{
		{"intact", all, 0o700, nil, Pass, "holds every file"},
		{"compose deleted", map[string]os.FileMode{"answers.yaml": 0o600, ".env": 0o600}, 0o700, nil, Fail, "docker-compose.yml is missing"},
		{"secrets readable by others", map[string]os.FileMode{"answers.yaml": 0o600, ".env": 0o644, "docker-compose.yml": 0o644}, 0o700, nil, Fail, "mode 0644"},
		{"open dir", all, 0o755, nil, Fail, "the dir has mode 0755"},
		{"damaged answers", all, 0o700, errors.New("answers.yaml: yaml: line 3: did not find expected key"), Fail, "did not find expected key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := mk(t, tt.files, tt.dirMode)
			env := &Env{Stack: &Stack{Dir: dir, Files: []string{"answers.yaml", ".env", "docker-compose.yml"},
				Secrets: filepath.Join(dir, ".env"), Problem: tt.problem}}
			r := checkInstallDir(context.Background(), env)
			if r.Status != tt.want || !strings.Contains(r.Message, tt.has) {
				t.Errorf("got %s %q, want %s containing %q", r.Status, r.Message, tt.want, tt.has)
			}
			if r.Status == Fail && r.Fix == "" {
				t.Error("failure without a fix")
			}
		})
	}
}

func TestStackChecksSkipWhenNothingInstalled(t *testing.T) {
	t.Parallel()
	for _, c := range StackChecks() {
		if r := c.Run(context.Background(), &Env{}); r.Status != Skip {
			t.Errorf("%s: %s, want skip", c.ID, r.Status)
		}
	}
}
