package model

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dataeco/dataeco/installer/hint"
)

// fakeAsker answers questions by prompt, or with the current answer when it has none.
type fakeAsker struct {
	inputs map[string]string // prompt -> answer
	asked  []string
}

func (f *fakeAsker) Ask(s Setting, current *Answers) (Apply, error) {
	f.asked = append(f.asked, s.Prompt)
	v, ok := f.inputs[s.Prompt]
	if !ok {
		v = s.Get(current)
	}
	return s.Parse(v)
}

func TestDefaultAnswersFollowEngine(t *testing.T) {
	t.Parallel()
	small := DefaultAnswers(EngineResources{NCPU: 2, MemTotal: 4 << 30})
	big := DefaultAnswers(EngineResources{NCPU: 16, MemTotal: 32 << 30})
	if small.SparkWorkerCores != 1 || small.KafkaHeap != 512 || small.SparkWorkerMemory != 512 {
		t.Errorf("small engine defaults = %+v", small)
	}
	if big.SparkWorkerCores != 4 || big.SparkWorkerMemory != 2048 || big.KafkaHeap != 1024 {
		t.Errorf("big engine defaults = %+v", big)
	}
	if small.Listen != "127.0.0.1" {
		t.Errorf("default listen = %q, want 127.0.0.1", small.Listen)
	}
}

func TestResolveAnswers(t *testing.T) {
	t.Parallel()
	defaults := DefaultAnswers(EngineResources{NCPU: 4, MemTotal: 8 << 30})
	saved := defaults
	saved.KafkaHeap = 768
	saved.Ports = map[string]int{}
	for k, v := range defaults.Ports {
		saved.Ports[k] = v
	}
	noTTY := func() (Asker, error) { return nil, errors.New("no terminal") }

	tests := []struct {
		name     string
		o        map[string]string
		saved    *Answers
		yes      bool
		asker    *fakeAsker
		check    func(t *testing.T, a *Answers)
		wantErr  string
		wantCode int
	}{
		{name: "yes takes defaults", yes: true, check: func(t *testing.T, a *Answers) {
			if a.KafkaHeap != defaults.KafkaHeap || len(a.Components) != len(Components()) {
				t.Errorf("got %+v", a)
			}
		}},
		{name: "flags beat defaults", yes: true, o: map[string]string{"kafka-heap": "2g", "components": "spark", "kafka-port": "19092"},
			check: func(t *testing.T, a *Answers) {
				if a.KafkaHeap != 2048 || strings.Join(a.Components, ",") != "kafka,spark" || a.Ports["kafka"] != 19092 {
					t.Errorf("got %+v", a)
				}
			}},
		{name: "saved answers reused without prompting", saved: &saved, check: func(t *testing.T, a *Answers) {
			if a.KafkaHeap != 768 {
				t.Errorf("saved answer lost: %v", a.KafkaHeap)
			}
		}},
		{name: "flag beats saved", saved: &saved, o: map[string]string{"kafka-heap": "1g"}, check: func(t *testing.T, a *Answers) {
			if a.KafkaHeap != 1024 {
				t.Errorf("got %v", a.KafkaHeap)
			}
		}},
		{name: "no terminal and no yes names the flags", wantErr: "--components", wantCode: hint.ExitUsage},
		{name: "no terminal but flags for every question", o: map[string]string{"components": "all", "spark-worker-cores": "1",
			"spark-worker-memory": "1g", "cassandra-heap": "1g", "kafka-heap": "1g", "listen": "127.0.0.1"},
			check: func(t *testing.T, a *Answers) {}},
		{name: "prompts on a terminal", asker: &fakeAsker{inputs: map[string]string{
			"Cassandra heap": "2g", "Components to install (Kafka is always included)": "kafka,cassandra"}},
			check: func(t *testing.T, a *Answers) {
				if a.CassandraHeap != 2048 || a.Has(CompSpark) {
					t.Errorf("got %+v", a)
				}
			}},
		{name: "duplicate ports refused", yes: true, o: map[string]string{"kafka-port": "9042"}, wantErr: "already used", wantCode: hint.ExitUsage},
		// A swarm publishes on every address of a node, and its nodes pull from a registry.
		{name: "swarm on loopback refused", yes: true, o: map[string]string{"swarm": "true", "registry": "reg.lan:5000"}, wantErr: "--listen 0.0.0.0", wantCode: hint.ExitUsage},
		{name: "swarm without a registry refused", yes: true, o: map[string]string{"swarm": "true", "listen": "0.0.0.0"}, wantErr: "--registry", wantCode: hint.ExitUsage},
		{name: "swarm", yes: true, o: map[string]string{"swarm": "true", "listen": "0.0.0.0", "registry": "reg.lan:5000", "spark-workers": "3"},
			check: func(t *testing.T, a *Answers) {
				if !a.Swarm || a.SparkWorkers != 3 {
					t.Errorf("got %+v", a)
				}
				// The Spark UI stays on loopback unless exposed; a swarm cannot do that.
				for _, p := range PortsOf(a) {
					if p.Local {
						t.Errorf("%s is published on a swarm though not exposed", p.Name())
					}
				}
			}},
		// Several brokers are a cluster over a swarm's nodes; one is written as before.
		{name: "brokers without swarm refused", yes: true, o: map[string]string{"kafka-brokers": "3"}, wantErr: "--swarm", wantCode: hint.ExitUsage},
		{name: "Cassandra nodes without swarm refused", yes: true, o: map[string]string{"cassandra-nodes": "3"}, wantErr: "--swarm", wantCode: hint.ExitUsage},
		{name: "brokers out of range", yes: true, o: map[string]string{"kafka-brokers": "10"}, wantErr: "outside 1-9", wantCode: hint.ExitUsage},
		{name: "three brokers", yes: true, o: map[string]string{"swarm": "true", "listen": "0.0.0.0", "registry": "reg.lan:5000", "kafka-brokers": "3"},
			check: func(t *testing.T, a *Answers) {
				if a.Brokers() != 3 || a.KafkaReplication() != 3 {
					t.Errorf("brokers %d, replication %d", a.Brokers(), a.KafkaReplication())
				}
			}},
		{name: "one broker", yes: true, o: map[string]string{"kafka-brokers": "1"},
			check: func(t *testing.T, a *Answers) {
				if a.KafkaBrokers != 0 || a.Brokers() != 1 {
					t.Errorf("kafka_brokers %d", a.KafkaBrokers)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ask := noTTY
			if tt.asker != nil {
				ask = func() (Asker, error) { return tt.asker, nil }
			}
			given, err := ReadGiven(func(flag string) (string, bool) {
				v, ok := tt.o[flag]
				return v, ok
			}, tt.saved)
			var a *Answers
			if err == nil {
				a, err = Resolve(given, tt.saved, defaults, tt.yes, ask)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error()+hintOf(err), tt.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
				}
				if hint.ExitCode(err) != tt.wantCode {
					t.Errorf("exit code %d, want %d", hint.ExitCode(err), tt.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, a)
		})
	}
}

func hintOf(err error) string { return hint.Of(err) }

func TestAnswersRoundTrip(t *testing.T) {
	t.Parallel()
	a := testAnswers(func(a *Answers) { a.Registry = "127.0.0.1:5000"; a.SparkWorkerMemory = 1536 })
	b, err := a.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseAnswers(b)
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if got.SparkWorkerMemory != 1536 || got.Registry != a.Registry || got.Ports["cassandra"] != 9042 {
		t.Errorf("round trip lost data: %+v", got)
	}
	if _, err := ParseAnswers([]byte("version: 1\nkafka_heep: 1g\n")); err == nil {
		t.Error("a misspelt key was accepted")
	}
	if _, err := ParseAnswers([]byte("version: 1\nkafka_heap: 2gb\n")); err == nil {
		t.Error("an invalid size was accepted")
	}
}

func TestSecretsGeneratedOnceAndPrivate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := Secrets{}
	if _, err := s.EnsureSecrets("dataeco"); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{KeyPostgresPassword, KeyAirflowAdminPass, KeyCassandraPassword} {
		if len(s[k]) < 20 {
			t.Errorf("%s = %q is too short", k, s[k])
		}
	}
	if s[KeyAirflowAdminPass] == s[KeyPostgresPassword] {
		t.Error("two secrets are equal")
	}
	ans := testAnswers(nil)
	rendered, err := Render(ans, "test", "", Inputs{})
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteInstall(dir, ans, s, rendered); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(filepath.Join(dir, EnvFile))
	if st.Mode().Perm() != 0o600 {
		t.Errorf(".env mode %o, want 600", st.Mode().Perm())
	}
	dst, _ := os.Stat(dir)
	if dst.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %o, want 700", dst.Mode().Perm())
	}
	again, err := LoadSecrets(dir)
	if err != nil {
		t.Fatal(err)
	}
	if changed, _ := again.EnsureSecrets("dataeco"); changed {
		t.Error("secrets were regenerated on reload")
	}
	if again[KeyPostgresPassword] != s[KeyPostgresPassword] {
		t.Error("postgres password changed")
	}
	if strings.Contains(string(rendered), s[KeyPostgresPassword]) {
		t.Error("the compose file contains a secret")
	}
	os.Chmod(filepath.Join(dir, EnvFile), 0o644)
	if _, err := LoadSecrets(dir); err == nil || !strings.Contains(hintOf(err), "chmod 600") {
		t.Errorf("world-readable .env accepted: %v", err)
	}
}

func TestWriteInstallPutsThePipelineWhereComposeMountsIt(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := testAnswers(nil)
	b, err := Render(a, "test", "", Inputs{})
	if err != nil {
		t.Fatal(err)
	}
	mine := filepath.Join(dir, "dags", "my_dag.py")
	os.MkdirAll(filepath.Dir(mine), 0o755)
	os.WriteFile(mine, []byte("# the user's own"), 0o644)
	if err := WriteInstall(dir, a, testSecrets(), b); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"dags/user_automation.py", "dags/dataeco_users.py", "pipeline/spark/stream_users.py", "pipeline/cql/schema.cql"} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil || st.Mode().Perm() != 0o644 {
			t.Errorf("%s: %v %v", f, err, st)
		}
	}
	if got, _ := os.ReadFile(mine); string(got) != "# the user's own" {
		t.Error("the user's own DAG was touched")
	}
	for _, mount := range []string{"./dags:/opt/airflow/dags", "./pipeline/spark:/opt/dataeco/spark:ro", "./pipeline/cql:/opt/dataeco/cql:ro"} {
		if !strings.Contains(string(b), mount) {
			t.Errorf("compose file lacks the mount %s", mount)
		}
	}
}

// TestAnswersOfANewerRelease: an install dir written by a newer dataeco is refused by name,
// with the release to use, even when it carries keys this one does not know.
func TestAnswersOfANewerRelease(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good, err := testAnswers(nil).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	newer := strings.Replace(string(good), "version: 2", "version: 3", 1) + "plugins: [flink]\n"
	if err := os.WriteFile(filepath.Join(dir, AnswersFile), []byte(newer), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = LoadAnswers(dir)
	var nf *NewerFormatError
	if !errors.As(err, &nf) || nf.Format != 3 || !strings.Contains(err.Error(), "written by a newer dataeco (answers format 3; this one reads format 2)") ||
		!strings.Contains(hint.Of(err), "nothing was changed") {
		t.Errorf("a newer answers file: %v (hint %q)", err, hint.Of(err))
	}
	if b, _ := os.ReadFile(filepath.Join(dir, AnswersFile)); string(b) != newer {
		t.Error("the newer file was changed")
	}
}

// TestAnswersOfAnOlderRelease: a format-1 file (dataeco releases before format 2) is read,
// brought to the current format, and says so; written again it is current.
func TestAnswersOfAnOlderRelease(t *testing.T) {
	t.Parallel()
	current, err := testAnswers(nil).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	old := strings.Replace(string(current), "version: 2", "version: 1", 1)
	a, err := ParseAnswers([]byte(old))
	if err != nil {
		t.Fatal(err)
	}
	if a.Version != 2 || !strings.Contains(a.Migrated, "format 1 to 2") {
		t.Errorf("version %d, migrated %q", a.Version, a.Migrated)
	}
	again, err := a.Marshal()
	if err != nil || string(again) != string(current) {
		t.Errorf("the migrated answers write as\n%s\nwant\n%s", again, current)
	}
	if b, _ := ParseAnswers(current); b == nil || b.Migrated != "" {
		t.Errorf("current answers say they were migrated: %+v", b)
	}
	for _, bad := range []string{"version: 0\n", "project: x\n"} {
		if _, err := ParseAnswers([]byte(bad)); err == nil || !strings.Contains(err.Error(), "no format version") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
