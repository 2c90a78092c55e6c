package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
)

func envMap(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestKafkaPlainUsers(t *testing.T) {
	jaas := `org.apache.kafka.common.security.plain.PlainLoginModule required user_dataeco="s3cret" user_other="x";`
	for _, tt := range []struct {
		name string
		env  map[string]string
		want map[string]string
		err  string
	}{
		{"listener prefixed", map[string]string{"KAFKA_LISTENER_NAME_HOST_SASL_ENABLED_MECHANISMS": "PLAIN", "KAFKA_LISTENER_NAME_HOST_PLAIN_SASL_JAAS_CONFIG": jaas},
			map[string]string{"dataeco": "s3cret", "other": "x"}, ""},
		{"broker-wide mechanisms", map[string]string{"KAFKA_SASL_ENABLED_MECHANISMS": "SCRAM-SHA-256,PLAIN", "KAFKA_LISTENER_NAME_HOST_PLAIN_SASL_JAAS_CONFIG": jaas},
			map[string]string{"dataeco": "s3cret", "other": "x"}, ""},
		{"default GSSAPI", map[string]string{"KAFKA_LISTENER_NAME_HOST_PLAIN_SASL_JAAS_CONFIG": jaas}, nil, "PLAIN only"},
		{"no JAAS", map[string]string{"KAFKA_SASL_ENABLED_MECHANISMS": "PLAIN"}, nil, "JAAS configuration"},
	} {
		got, err := kafkaPlainUsers("HOST", envMap(tt.env))
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: %v, want an error with %q", tt.name, err, tt.err)
			}
			continue
		}
		if err != nil || len(got) != len(tt.want) || got["dataeco"] != tt.want["dataeco"] {
			t.Errorf("%s: %v %v", tt.name, got, err)
		}
	}
}

// TestProxySASLPlain: a listener with SASL/PLAIN users takes a client with the right login,
// and refuses one with a wrong password or none.
func TestProxySASLPlain(t *testing.T) {
	addr := startTestBrokerAuth(t, map[string]string{"dataeco": "s3cret"}, "")[0]
	roundTrip := func(opts ...kgo.Opt) error {
		cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.AllowAutoTopicCreation(),
			kgo.RequestRetries(0), kgo.RetryTimeout(3 * time.Second)}, opts...)...)
		if err != nil {
			return err
		}
		defer cl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return cl.ProduceSync(ctx, &kgo.Record{Topic: "sasl-test", Value: []byte("v")}).FirstErr()
	}
	if err := roundTrip(kgo.SASL(plain.Auth{User: "dataeco", Pass: "s3cret"}.AsMechanism())); err != nil {
		t.Errorf("the right login: %v", err)
	}
	if err := roundTrip(kgo.SASL(plain.Auth{User: "dataeco", Pass: "wrong"}.AsMechanism())); err == nil {
		t.Error("a wrong password produced")
	}
	if err := roundTrip(); err == nil {
		t.Error("a client without SASL produced")
	}
}

func TestBasicAuthFromEnv(t *testing.T) {
	dir := t.TempDir()
	users := filepath.Join(dir, "users.properties")
	jaas := filepath.Join(dir, "jaas.conf")
	os.WriteFile(users, []byte("dataeco: pw1,admin\nreader: pw2,viewer\n"), 0o600)
	os.WriteFile(jaas, []byte("SchemaRegistry {\n  org.eclipse.jetty.jaas.spi.PropertyFileLoginModule required\n  file=\""+users+"\";\n};\n"), 0o600)
	env := map[string]string{
		"SCHEMA_REGISTRY_AUTHENTICATION_METHOD": "BASIC", "SCHEMA_REGISTRY_AUTHENTICATION_REALM": "SchemaRegistry",
		"SCHEMA_REGISTRY_AUTHENTICATION_ROLES": "admin", "SCHEMA_REGISTRY_OPTS": "-Xmx1g -Djava.security.auth.login.config=" + jaas,
	}
	a, err := basicAuthFromEnv("SCHEMA_REGISTRY_", "SCHEMA_REGISTRY_OPTS", envMap(env))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "[]") })))
	defer srv.Close()
	for _, tt := range []struct {
		user, pass string
		want       int
	}{{"dataeco", "pw1", 200}, {"dataeco", "bad", 401}, {"reader", "pw2", 401}, {"", "", 401}} {
		req, _ := http.NewRequest("GET", srv.URL+"/subjects", nil)
		if tt.user != "" {
			req.SetBasicAuth(tt.user, tt.pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%s:%s got HTTP %d, want %d", tt.user, tt.pass, resp.StatusCode, tt.want)
		}
	}
	// Off, or misconfigured as the real server would refuse to start.
	if a, err := basicAuthFromEnv("SCHEMA_REGISTRY_", "SCHEMA_REGISTRY_OPTS", envMap(nil)); a != nil || err != nil {
		t.Errorf("no method: %v %v", a, err)
	}
	env["SCHEMA_REGISTRY_AUTHENTICATION_REALM"] = "Other"
	if _, err := basicAuthFromEnv("SCHEMA_REGISTRY_", "SCHEMA_REGISTRY_OPTS", envMap(env)); err == nil || !strings.Contains(err.Error(), "No LoginModules configured for Other") {
		t.Errorf("a realm the JAAS file lacks: %v", err)
	}
}

// TestSparkAuth: with spark.authenticate on, the master takes a worker or driver that
// proves the secret, and refuses one with another secret or none.
func TestSparkAuth(t *testing.T) {
	if _, err := sparkAuthFrom(envMap(map[string]string{"SPARK_DAEMON_JAVA_OPTS": "-Dspark.authenticate=true"}), nil, "SPARK_DAEMON_JAVA_OPTS"); err == nil ||
		!strings.Contains(err.Error(), "A secret key must be specified") {
		t.Errorf("on without a secret: %v", err)
	}
	server, err := sparkAuthFrom(envMap(map[string]string{"SPARK_DAEMON_JAVA_OPTS": "-Dspark.authenticate=true -Dspark.authenticate.secret=abc"}), nil, "SPARK_DAEMON_JAVA_OPTS")
	if err != nil || !server.on || server.secret != "abc" {
		t.Fatalf("%+v %v", server, err)
	}
	m := newSparkMasterState("spark://m:7077", "http://m:8080")
	m.auth = server
	ln := serveLoopback(t, m.serveConn)
	submit := func(conf map[string]string) error {
		a, err := sparkAuthFrom(envMap(nil), conf)
		if err != nil {
			return err
		}
		d := &sparkDriver{masters: []string{ln.Addr().String()}, auth: a, hbEvery: time.Hour,
			register: func(string) string { return "APP - 0 1024 spark auth-test" }}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		var lastLog time.Time
		err = d.session(ctx, d.masters[0], &lastLog)
		if d.appID == "" && err == nil {
			err = context.DeadlineExceeded
		}
		return err
	}
	if err := submit(map[string]string{"spark.authenticate": "true", "spark.authenticate.secret": "abc"}); err != nil {
		t.Errorf("the right secret: %v", err)
	}
	if err := submit(map[string]string{"spark.authenticate": "true", "spark.authenticate.secret": "abd"}); err == nil || !strings.Contains(err.Error(), "authentication with the master failed") {
		t.Errorf("another secret: %v", err)
	}
	if err := submit(nil); err == nil || !strings.Contains(err.Error(), "the master requires authentication") {
		t.Errorf("no authentication: %v", err)
	}
}

// serveLoopback hands each connection to a loopback port to handle, until the test ends.
func serveLoopback(t *testing.T, handle func(net.Conn)) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go handle(c)
		}
	}()
	return ln
}
