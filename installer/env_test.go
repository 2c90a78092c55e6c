package installer

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dataeco/dataeco/installer/model"
)

// defineFor renders a default install changed by mutate, with generated secrets, into a dir
// of the test's own.
func defineFor(t *testing.T, mutate func(*model.Answers)) *model.Definition {
	t.Helper()
	a := model.DefaultAnswers(model.EngineResources{NCPU: 4, MemTotal: 16 << 30})
	if mutate != nil {
		mutate(&a)
	}
	s := model.Secrets{}
	if _, err := s.EnsureSecrets(a.Project); err != nil {
		t.Fatal(err)
	}
	def, err := model.Renderer{Version: "test"}.Define(context.Background(), t.TempDir(), &a, s)
	if err != nil {
		t.Fatal(err)
	}
	return def
}

func TestConnectionEnv(t *testing.T) {
	t.Parallel()
	def := defineFor(t, nil)
	vars, hidden := connectionEnv(def, false)
	want := map[string]string{
		"KAFKA_BOOTSTRAP_SERVERS": "localhost:9092", "SCHEMA_REGISTRY_URL": "http://localhost:8081",
		"CONTROL_CENTER_URL": "http://localhost:9021", "AIRFLOW_URL": "http://localhost:8080", "AIRFLOW_USER": "admin",
		"SPARK_MASTER_URL": "spark://localhost:7077", "SPARK_UI_URL": "http://localhost:9090",
		"CASSANDRA_HOST": "localhost", "CASSANDRA_PORT": "9042", "CASSANDRA_USER": "dataeco_admin",
		"CASSANDRA_KEYSPACE": "spark_streams", "KAFKA_TOPIC": "users_created",
	}
	for k, v := range want {
		if vars[k] != v {
			t.Errorf("%s = %q, want %q", k, vars[k], v)
		}
	}
	if !slices.Equal(hidden, []string{"AIRFLOW_PASSWORD", "CASSANDRA_PASSWORD"}) {
		t.Errorf("hidden = %v", hidden)
	}
	for _, v := range vars {
		for _, secret := range def.Secrets.Values() {
			if v == secret {
				t.Errorf("a secret without --show-secrets: %s", v)
			}
		}
	}
	shown, hidden := connectionEnv(def, true)
	if shown["CASSANDRA_PASSWORD"] != def.Secrets[model.KeyCassandraPassword] || len(hidden) != 0 {
		t.Errorf("--show-secrets: %v, hidden %v", shown, hidden)
	}
	// Only what is installed and published, at the advertised host: ZooKeeper is an admin
	// port, published off loopback only when exposed by name.
	// Off loopback Kafka wants its SASL user: four more variables.
	for expose, want := range map[string]int{"": 6, "zookeeper": 7} {
		small := defineFor(t, func(a *model.Answers) {
			a.Components, a.Listen, a.Advertise = []string{model.CompKafka}, "0.0.0.0", "kafka.lan"
			a.Expose, _ = model.ParseExpose(expose)
		})
		vars, _ = connectionEnv(small, true)
		if len(vars) != want || vars["KAFKA_BOOTSTRAP_SERVERS"] != "kafka.lan:9092" || want == 3 && vars["ZOOKEEPER_CONNECT"] != "kafka.lan:2181" {
			t.Errorf("kafka only, advertised, --expose %q: %v", expose, vars)
		}
		if vars["KAFKA_SECURITY_PROTOCOL"] != "SASL_PLAINTEXT" || vars["KAFKA_SASL_USERNAME"] != small.Secrets[model.KeyKafkaUser] ||
			vars["KAFKA_SASL_PASSWORD"] != small.Secrets[model.KeyKafkaPassword] {
			t.Errorf("kafka only, advertised: no SASL client settings: %v", vars)
		}
	}
	// Everything off loopback: each guarded service's login, Spark's options for spark-submit,
	// the Spark UI on this machine only; the passwords only with --show-secrets.
	guarded := defineFor(t, func(a *model.Answers) { a.Listen, a.Advertise = "0.0.0.0", "stack.lan" })
	vars, hidden = connectionEnv(guarded, false)
	if vars["SPARK_UI_URL"] != "http://127.0.0.1:9090" || vars["SPARK_MASTER_URL"] != "spark://stack.lan:7077" ||
		vars["SCHEMA_REGISTRY_USER"] == "" || vars["CONTROL_CENTER_USER"] == "" {
		t.Errorf("off loopback: %v", vars)
	}
	wantHidden := []string{"AIRFLOW_PASSWORD", "CASSANDRA_PASSWORD", "CONTROL_CENTER_PASSWORD", "KAFKA_SASL_PASSWORD", "SCHEMA_REGISTRY_PASSWORD",
		"SPARK_AUTH_SECRET", "SPARK_SUBMIT_OPTS"}
	if !slices.Equal(hidden, wantHidden) {
		t.Errorf("off loopback, hidden = %v, want %v", hidden, wantHidden)
	}
	vars, _ = connectionEnv(guarded, true)
	if want := "-Dspark.authenticate=true -Dspark.authenticate.secret=" + guarded.Secrets[model.KeySparkSecret]; vars["SPARK_SUBMIT_OPTS"] != want {
		t.Errorf("SPARK_SUBMIT_OPTS = %q, want %q", vars["SPARK_SUBMIT_OPTS"], want)
	}
}

// TestCredentialsOffLoopback: the credentials dataeco adds off loopback are listed then,
// and only then; a component left out has no line.
func TestCredentialsOffLoopback(t *testing.T) {
	t.Parallel()
	services := func(cs []credential) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.Service)
		}
		return out
	}
	def := defineFor(t, nil)
	if got := services(credentials(def.Answers, def.Secrets)); !slices.Equal(got, []string{"airflow", "postgres", "cassandra"}) {
		t.Errorf("on loopback: %v", got)
	}
	def = defineFor(t, func(a *model.Answers) { a.Listen = "0.0.0.0" })
	cs := credentials(def.Answers, def.Secrets)
	if got := services(cs); !slices.Equal(got, []string{"airflow", "postgres", "cassandra", "kafka", "schema-registry", "control-center", "spark"}) {
		t.Errorf("off loopback: %v", got)
	}
	if cs[6].Password != def.Secrets[model.KeySparkSecret] || cs[3].User != "dataeco" {
		t.Errorf("off loopback: %+v", cs)
	}
	def = defineFor(t, func(a *model.Answers) { a.Listen, a.Components = "0.0.0.0", []string{model.CompKafka, model.CompSpark} })
	if got := services(credentials(def.Answers, def.Secrets)); !slices.Equal(got, []string{"kafka", "spark"}) {
		t.Errorf("kafka and spark off loopback: %v", got)
	}
}

// TestEnvShellOutput: the --shell output, sourced by a real shell, sets the variables to the
// values, whatever characters they hold.
func TestEnvShellOutput(t *testing.T) {
	t.Parallel()
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	vars := map[string]string{"A": "plain", "B": `it's "quoted" $HOME ; rm -rf / `}
	var out strings.Builder
	writeEnv(&out, vars, []string{"C"}, func(k, v string) string { return "export " + k + "=" + shellQuote(v) })
	script := filepath.Join(t.TempDir(), "env.sh")
	if err := os.WriteFile(script, []byte(out.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := exec.Command(sh, "-c", `. "$1" && printf '%s|%s' "$A" "$B"`, "sh", script).Output()
	if err != nil || string(got) != vars["A"]+"|"+vars["B"] {
		t.Errorf("sourced: %q, %v\n%s", got, err, out.String())
	}
	if !strings.Contains(out.String(), "# C: add --show-secrets") {
		t.Errorf("the hidden variable is not named:\n%s", out.String())
	}
}

func TestOpener(t *testing.T) {
	t.Parallel()
	found := func(names ...string) func(string) (string, error) {
		return func(n string) (string, error) {
			if slices.Contains(names, n) {
				return "/usr/bin/" + n, nil
			}
			return "", errors.New("not found")
		}
	}
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	for _, tt := range []struct {
		name, goos string
		getenv     func(string) string
		look       func(string) (string, error)
		want       string
		fails      bool
	}{
		{"macOS", "darwin", env(), found(), "open", false},
		{"Windows", "windows", env(), found(), "rundll32", false},
		{"Linux desktop", "linux", env("DISPLAY", ":0"), found("xdg-open"), "xdg-open", false},
		{"Wayland", "linux", env("WAYLAND_DISPLAY", "wayland-0"), found("xdg-open"), "xdg-open", false},
		{"a server without display", "linux", env(), found("xdg-open"), "", true},
		{"a display without xdg-open", "linux", env("DISPLAY", ":0"), found(), "", true},
		{"WSL", "linux", env("WSL_DISTRO_NAME", "Debian"), found("wslview"), "wslview", false},
		{"WSL without wslview", "linux", env("WSL_DISTRO_NAME", "Debian"), found("explorer.exe"), "explorer.exe", false},
	} {
		name, _, err := opener(tt.goos, tt.getenv, tt.look)
		if (err != nil) != tt.fails || name != tt.want {
			t.Errorf("%s: %q, %v", tt.name, name, err)
		}
	}
}

func TestNamedServices(t *testing.T) {
	t.Parallel()
	def := defineFor(t, func(a *model.Answers) { a.SparkWorkers = 2 })
	for _, tt := range []struct {
		names, want []string
	}{
		{nil, nil},
		{[]string{"broker"}, []string{"broker"}},
		{[]string{"spark"}, []string{"spark-master", "spark-stream", "spark-worker-1", "spark-worker-2"}},
		{[]string{"kafka", "broker"}, []string{"broker", "zookeeper"}},
		{[]string{"kafka-init"}, []string{"kafka-init"}},
	} {
		got, err := namedServices(def, tt.names)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("%v: %v, %v; want %v", tt.names, got, err, tt.want)
		}
	}
	if _, err := namedServices(def, []string{"flink"}); err == nil || !strings.Contains(err.Error(), `"flink"`) {
		t.Errorf("an unknown name: %v", err)
	}
	small := defineFor(t, func(a *model.Answers) { a.Components = []string{model.CompKafka} })
	if _, err := namedServices(small, []string{"cassandra"}); err == nil {
		t.Error("a component that is not installed was accepted")
	}
}

func TestOpenCommand(t *testing.T) {
	t.Parallel()
	def := defineFor(t, nil)
	if err := model.WriteInstall(def.Dir, def.Answers, def.Secrets, def.Compose); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args []string
		code int
		url  string
	}{
		{nil, 0, "http://localhost:8080"},
		{[]string{"spark"}, 0, "http://localhost:9090"},
		{[]string{"control-center"}, 0, "http://localhost:9021"},
		{[]string{"kafka"}, ExitUsage, ""},
	} {
		streams, _, out, errOut := TestStreams()
		var opened string
		app := &App{Streams: streams, Browser: func(u string) error { opened = u; return nil }}
		code := Main(context.Background(), app, append([]string{"dataeco", "open", "--dir", def.Dir}, tt.args...))
		if code != tt.code || opened != tt.url || strings.TrimSpace(out.String()) != tt.url {
			t.Errorf("open %v: exit %d, opened %q, stdout %q, stderr %q", tt.args, code, opened, out, errOut)
		}
	}
}
