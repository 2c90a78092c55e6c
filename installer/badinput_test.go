package installer

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dataeco/dataeco/installer/engine"
)

// TestBadInputRefusedBeforeAnythingIsWritten: every invalid flag value exits 2 naming the
// flag with a valid example, before Docker is asked anything or a file is written.
func TestBadInputRefusedBeforeAnythingIsWritten(t *testing.T) {
	t.Parallel()
	aFile := filepath.Join(t.TempDir(), "file")
	os.WriteFile(aFile, []byte("x"), 0o600)
	readOnly := filepath.Join(t.TempDir(), "ro")
	os.Mkdir(readOnly, 0o500)
	tests := []struct {
		args    []string
		flag    string
		example string
	}{
		{[]string{"--spark-worker-memory", "2gb"}, "--spark-worker-memory", "1g"},
		{[]string{"--spark-worker-memory", "-1"}, "--spark-worker-memory", "1g"},
		{[]string{"--spark-worker-memory", "0"}, "--spark-worker-memory", "1g"},
		{[]string{"--spark-worker-memory", "0m"}, "--spark-worker-memory", "1g"},
		{[]string{"--cassandra-heap", "lots"}, "--cassandra-heap", "1g"},
		{[]string{"--kafka-heap", "1.5g"}, "--kafka-heap", "1g"},
		{[]string{"--kafka-heap", "128m"}, "--kafka-heap", "1g"},
		{[]string{"--kafka-port", "0"}, "--kafka-port", "19092"},
		{[]string{"--kafka-port", "70000"}, "--kafka-port", "19092"},
		{[]string{"--airflow-port", "http"}, "--airflow-port", "18080"},
		{[]string{"--kafka-port", "9042"}, "--cassandra-port", "19042"}, // "port 9042 is already used for --kafka-port"
		{[]string{"--components", "kafka,flink"}, "--components", "kafka,spark,cassandra"},
		{[]string{"--components", ""}, "--components", "kafka,spark,cassandra"},
		{[]string{"--listen", "localhost"}, "--listen", "127.0.0.1"},
		{[]string{"--listen", "999.1.1.1"}, "--listen", "127.0.0.1"},
		{[]string{"--spark-workers", "0"}, "--spark-workers", "2"},
		{[]string{"--spark-workers", "-1"}, "--spark-workers", "2"},
		{[]string{"--spark-workers", "100"}, "--spark-workers", "2"},
		{[]string{"--spark-worker-cores", "two"}, "--spark-worker-cores", "2"},
		{[]string{"--registry", "https://mirror"}, "--registry", "mirror.local:5000"},
		{[]string{"--registry", "host:99999"}, "--registry", "mirror.local:5000"},
		{[]string{"--project", "Data Eco"}, "--project", "dataeco"},
		{[]string{"--advertise", "my laptop"}, "--advertise", "dataeco.example.lan"},
		{[]string{"--advertise", "0.0.0.0"}, "--advertise", "dataeco.example.lan"},
		{[]string{"--subnet", "10.0.0.0/30"}, "--subnet", "10.123.0.0/24"},
		{[]string{"--subnet", "vpn"}, "--subnet", "10.123.0.0/24"},
		{[]string{"--expose", "kafka"}, "--expose", "zookeeper"},
		{[]string{"--ca-cert", "/nonexistent/ca.pem"}, "--ca-cert", "/usr/local/share/ca-certificates/company.crt"},
		{[]string{"--dir", aFile}, "--dir", "~/.dataeco"},
		{[]string{"--dir", filepath.Join(readOnly, "install")}, "--dir", "~/.dataeco"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, "="), func(t *testing.T) {
			t.Parallel()
			if os.Geteuid() == 0 && strings.HasPrefix(tt.args[1], readOnly) {
				t.Skip("root writes anywhere")
			}
			dir := filepath.Join(t.TempDir(), "install")
			args := append([]string{"dataeco", "install", "--yes"}, tt.args...)
			if tt.flag != "--dir" {
				args = append(args, "--dir", dir)
			}
			streams, _, out, errOut := TestStreams()
			connected := false
			app := &App{Streams: streams, Connect: func(context.Context) (*engine.Docker, error) {
				connected = true
				return nil, errors.New("Docker must not be reached")
			}}
			code := Main(context.Background(), app, args)
			if code != ExitUsage {
				t.Errorf("exit %d, want 2; stderr:\n%s", code, errOut)
			}
			if !strings.Contains(errOut.String(), tt.flag) || !strings.Contains(errOut.String(), tt.flag+" "+tt.example) {
				t.Errorf("message does not name %s with example %q:\n%s", tt.flag, tt.example, errOut)
			}
			if out.Len() != 0 {
				t.Errorf("stdout not empty: %q", out)
			}
			if connected {
				t.Errorf("Docker was contacted before the bad value was refused")
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("%s was written", dir)
			}
		})
	}
}

// TestUsageErrors: unknown commands and flags exit 2 with a pointer to help; help and
// version need no Docker.
func TestUsageErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"frobnicate"}, ExitUsage, ""},
		{[]string{"install", "--no-such-flag"}, ExitUsage, ""},
		{[]string{"--help"}, ExitOK, "COMMANDS"},
		{[]string{"install", "--help"}, ExitOK, "--spark-worker-memory"},
		{[]string{"version"}, ExitOK, "dataeco test"},
		{[]string{"version", "--json"}, ExitOK, `"version": "test"`},
		{[]string{"status", "--dir", "/nonexistent/dataeco"}, ExitFailure, ""},
	} {
		streams, _, out, errOut := TestStreams()
		app := &App{Streams: streams, Build: BuildInfo{Version: "test"}, Connect: func(context.Context) (*engine.Docker, error) {
			t.Errorf("%v contacted Docker", tt.args)
			return nil, errors.New("no")
		}}
		code := Main(context.Background(), app, append([]string{"dataeco"}, tt.args...))
		if code != tt.code || !strings.Contains(out.String(), tt.out) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", tt.args, code, out, errOut)
		}
	}
}
