package installer

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/dataeco/dataeco/installer/engine"
	"github.com/dataeco/dataeco/installer/model"
)

// TestDamagedInstallDir: a damaged install dir gives a clear error naming the file and the
// way out, before anything touches Docker or the data.
func TestDamagedInstallDir(t *testing.T) {
	t.Parallel()
	setup := func(t *testing.T) string {
		dir := filepath.Join(t.TempDir(), "install")
		ans := model.DefaultAnswers(model.EngineResources{NCPU: 2, MemTotal: 8 << 30})
		s := model.Secrets{}
		s.EnsureSecrets(ans.Project)
		b, _ := model.Render(&ans, "test", "", model.Inputs{})
		if err := model.WriteInstall(dir, &ans, s, b); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	tests := []struct {
		name   string
		damage func(dir string)
		want   []string
	}{
		{"answers edited into invalid YAML", func(dir string) {
			os.WriteFile(filepath.Join(dir, model.AnswersFile), []byte("version: 1\nkafka_heap: [oops\n"), 0o600)
		}, []string{"answers.yaml is damaged", "move it away and run `dataeco install`"}},
		{"answers with an invalid value", func(dir string) {
			b, _ := os.ReadFile(filepath.Join(dir, model.AnswersFile))
			os.WriteFile(filepath.Join(dir, model.AnswersFile), []byte(regexp.MustCompile(`kafka_heap: \S+`).ReplaceAllString(string(b), "kafka_heap: 2gb")), 0o600)
		}, []string{"answers.yaml is damaged", "2gb"}},
		{"secrets readable by others", func(dir string) {
			os.Chmod(filepath.Join(dir, model.EnvFile), 0o644)
		}, []string{"readable by other users", "chmod 600"}},
		{"secrets file garbled", func(dir string) {
			os.WriteFile(filepath.Join(dir, model.EnvFile), []byte("this is not an env file\n"), 0o600)
		}, []string{".env is damaged", "restore the file"}},
		{"requirements.txt asks for apache-airflow", func(dir string) {
			os.WriteFile(filepath.Join(dir, model.RequirementsFile), []byte("pandas\napache-airflow==2.10.0\n"), 0o644)
		}, []string{"requirements.txt line 2 asks for apache-airflow", "remove it from requirements.txt"}},
		{"requirements.txt with a line pip cannot read", func(dir string) {
			os.WriteFile(filepath.Join(dir, model.RequirementsFile), []byte("pandas ==\n"), 0o644)
		}, []string{"requirements.txt line 1", "one package a line"}},
		{"spark-packages.txt without a version", func(dir string) {
			os.WriteFile(filepath.Join(dir, model.SparkPackagesFile), []byte("org.postgresql:postgresql\n"), 0o644)
		}, []string{"spark-packages.txt line 1", "group:artifact:version"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := setup(t)
			tt.damage(dir)
			for _, argv := range [][]string{{"status"}, {"stop"}, {"install", "--yes"}} {
				cmd := argv[0]
				streams, _, _, errOut := TestStreams()
				app := &App{Streams: streams, Connect: func(context.Context) (*engine.Docker, error) {
					t.Errorf("%s contacted Docker with a damaged install dir", cmd)
					return nil, errors.New("no")
				}}
				code := Main(context.Background(), app, append(append([]string{"dataeco"}, argv...), "--dir", dir))
				if code != ExitFailure {
					t.Errorf("%s: exit %d, want 1\n%s", cmd, code, errOut)
				}
				for _, w := range tt.want {
					if !strings.Contains(errOut.String(), w) {
						t.Errorf("%s: stderr lacks %q:\n%s", cmd, w, errOut)
					}
				}
			}
		})
	}
}
