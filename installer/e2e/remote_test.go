//go:build linux

package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dataeco/dataeco/installer/model"
)

// A remote engine is played by a private dockerd in a network namespace of the test's own,
// reached from this machine over TCP with TLS at the namespace's address, as a user reaches a
// dev server's engine with DOCKER_HOST=tcp://server:2376, DOCKER_TLS_VERIFY=1 and
// DOCKER_CERT_PATH. The namespace's loopback is that machine's: a registry there serves the
// stand-ins under the same address as here, so --registry is the same answer.

// remoteEngine is a dockerd on "another machine" and what a client here needs to reach it.
type remoteEngine struct {
	*privateDaemon
	ns, ip string
	env    []string // DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH for the client
}

func startRemoteEngine(t *testing.T, registry string) *remoteEngine {
	t.Helper()
	requirePrivateDaemon(t)
	if _, err := exec.LookPath("nsenter"); err != nil {
		t.Fatalf("nsenter (util-linux) is needed: %v", err)
	}
	// 10.250/16: outside the private daemons' address pools (10.20-10.219) and the subnets
	// other tests ask for.
	ns, _, nsIP := netnsPair(t, "rem", 250)
	dir, err := os.MkdirTemp("/tmp", "dr")
	if err != nil {
		t.Fatal(err)
	}
	certs := makeEngineCerts(t, filepath.Join(dir, "certs"), nsIP)
	d := &privateDaemon{t: t, dir: dir, host: "unix://" + filepath.Join(dir, "d.sock"), name: "dataeco-e2e-" + filepath.Base(dir), netns: ns}
	t.Cleanup(d.destroy)
	if d.log, err = os.Create(filepath.Join(dir, "dockerd.log")); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "daemon.json")
	if err := os.WriteFile(cfg, []byte("{}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d.args = []string{
		"--config-file", cfg,
		"--data-root", filepath.Join(dir, "root"),
		"--exec-root", filepath.Join(dir, "run"),
		"--pidfile", filepath.Join(dir, "d.pid"),
		// The socket is for the test's own cleanup; the client under test comes over TCP.
		"-H", d.host,
		"-H", "tcp://" + net.JoinHostPort(nsIP, "2376"),
		"--tlsverify",
		"--tlscacert", filepath.Join(certs, "ca.pem"),
		"--tlscert", filepath.Join(certs, "server-cert.pem"),
		"--tlskey", filepath.Join(certs, "server-key.pem"),
		// In a network namespace of its own, its docker0 and iptables chains are its own too.
		"--cgroup-parent", "/" + d.name,
		"--containerd-namespace", d.name,
		"--containerd-plugins-namespace", d.name + "-plugins",
	}
	rememberDocker0()
	d.start()
	netnsRegistry(t, ns, registry)
	t.Logf("remote dockerd at tcp://%s:2376 in namespace %s (pid %d)", nsIP, ns, d.cmd.Process.Pid)
	return &remoteEngine{privateDaemon: d, ns: ns, ip: nsIP,
		env: []string{"DOCKER_HOST=tcp://" + net.JoinHostPort(nsIP, "2376"), "DOCKER_TLS_VERIFY=1", "DOCKER_CERT_PATH=" + certs, "DOCKER_CONTEXT="}}
}

// dataeco runs the real binary as a user on this machine whose environment points at the
// remote engine.
func (r *remoteEngine) dataeco(t *testing.T, ctx context.Context, args ...string) runResult {
	t.Helper()
	cmd := exec.CommandContext(ctx, dataecoBinary(t), args...)
	cmd.Env = append(os.Environ(), r.env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	code := 0
	if err := cmd.Run(); err != nil {
		code = -1
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
	}
	res := runResult{code: code, stdout: out.String(), stderr: errOut.String()}
	t.Logf("[remote engine] dataeco %s → exit %d\n--- stdout:\n%s--- stderr:\n%s", strings.Join(args, " "), code, res.stdout, res.stderr)
	return res
}

// netnsRegistry serves the stand-in registry's storage inside the namespace, at the same
// loopback address as here: the remote engine pulls from "its own" 127.0.0.1.
func netnsRegistry(t *testing.T, ns, addr string) {
	t.Helper()
	dir := t.TempDir()
	cfg := fmt.Sprintf("version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s\n  maintenance:\n    readonly:\n      enabled: true\nhttp:\n  addr: %s\n",
		filepath.Join(e2e.tmp, "data"), addr)
	if err := os.WriteFile(filepath.Join(dir, "config.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("nsenter", "--net=/var/run/netns/"+ns, "docker-registry", "serve", filepath.Join(dir, "config.yml"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting docker-registry in %s: %v", ns, err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); logf.Close() })
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, err := exec.Command("nsenter", "--net=/var/run/netns/"+ns, "curl", "-fsS", "-o", "/dev/null", "http://"+addr+"/v2/").CombinedOutput()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(dir, "registry.log"))
			t.Fatalf("the registry in %s did not answer on %s: %v %s\n%s", ns, addr, err, out, b)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// makeEngineCerts writes what `dockerd --tlsverify` and a client with DOCKER_CERT_PATH need:
// a CA, the engine's certificate for its address, and a client certificate, all signed by
// that CA. It returns the directory (the client's DOCKER_CERT_PATH: ca.pem, cert.pem, key.pem).
func makeEngineCerts(t *testing.T, dir, engineIP string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	write := func(name, typ string, der []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	caKey := key()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "dataeco e2e engine CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	write("ca.pem", "CERTIFICATE", caDER)
	leaf := func(serial int64, name string, usage x509.ExtKeyUsage, ips []net.IP, certFile, keyFile string) {
		k := key()
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IPAddresses: ips,
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kb, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		write(certFile, "CERTIFICATE", der)
		write(keyFile, "EC PRIVATE KEY", kb)
	}
	leaf(2, "engine", x509.ExtKeyUsageServerAuth, []net.IP{net.ParseIP(engineIP)}, "server-cert.pem", "server-key.pem")
	leaf(3, "client", x509.ExtKeyUsageClientAuth, nil, "cert.pem", "key.pem")
	return dir
}

// TestIntegrationRemoteEngineTLS: dataeco on this machine installs on an engine on another
// machine, reached over TCP with TLS. The ports check looks where the ports will be
// published (a port a container holds there fails; a port taken only here passes), the broker
// advertises the engine's machine, and status, smoke, env and doctor work from here.
func TestIntegrationRemoteEngineTLS(t *testing.T) {
	registry := standinRegistry(t)
	remote := startRemoteEngine(t, registry)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	const base = 18460 // fixedPortArgs: kafka +0, Spark UI +6, master +7
	dir := filepath.Join(t.TempDir(), "install")
	args := append([]string{"install", "--yes", "--dir", dir, "--project", "dataeco-remote", "--registry", registry,
		"--components", "kafka,spark", "--spark-workers", "1", "--listen", "0.0.0.0", "--expose", "spark-ui", "--allow-unauthenticated", "--timeout", "3m"}, fixedPortArgs(base)...)

	// Taken here only: the engine publishes elsewhere, so this is no conflict.
	local, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", base))
	if err != nil {
		t.Fatalf("holding port %d on this machine: %v", base, err)
	}
	defer local.Close()
	// Taken there: a container on the remote engine publishes the Spark UI's port.
	holder := base + 6
	zk, _ := model.Lookup("zookeeper")
	img := model.RewriteImage(registry, zk.Image)
	if out, err := remote.docker("pull", img); err != nil {
		t.Fatalf("pulling a stand-in on the remote engine: %v\n%s", err, out)
	}
	if out, err := remote.docker("run", "-d", "--name", "port-holder", "-p", fmt.Sprintf("%d:2181", holder), img); err != nil {
		t.Fatalf("a container holding port %d on the remote engine: %v\n%s", holder, err, out)
	}

	r := remote.dataeco(t, ctx, args...)
	if r.code == 0 {
		t.Fatal("install passed the ports check with a port a container holds on the engine's machine")
	}
	if want := fmt.Sprintf("%d (spark-master) is taken by container port-holder", holder); !strings.Contains(r.stderr, want) {
		t.Errorf("the ports check did not name the remote conflict (%q):\n%s", want, r.stderr)
	}
	if strings.Contains(r.stderr, fmt.Sprintf("port %d (broker) is taken", base)) {
		t.Errorf("a port taken only on this machine was reported as a conflict:\n%s", r.stderr)
	}
	if out, err := remote.docker("rm", "-f", "port-holder"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}

	r = remote.dataeco(t, ctx, args...)
	mustSucceed(t, r, "install on the remote engine")
	if !strings.Contains(r.stderr, "on another machine, "+remote.ip) || !strings.Contains(r.stderr, "TLS, the engine's certificate verified") {
		t.Errorf("install did not say it talks to an engine on another machine over verified TLS:\n%s", r.stderr)
	}
	// Published on the engine's machine, advertised by its address: the URLs name it.
	if !strings.Contains(r.stdout, fmt.Sprintf("%s:%d", remote.ip, base)) {
		t.Errorf("the summary does not give Kafka at %s:%d:\n%s", remote.ip, base, r.stdout)
	}
	if in, err := model.ReadInputs(dir); err != nil || in.RemoteHost != remote.ip {
		t.Errorf("%s: remote host %q, %v; want %s", model.EngineFile, in.RemoteHost, err, remote.ip)
	}

	r = remote.dataeco(t, ctx, "status", "--json", "--dir", dir)
	assertStackHealthy(t, r, []string{"zookeeper", "broker", "kafka-init", "spark-master", "spark-worker-1"})

	// Smoke from here: Kafka through the engine's address (the broker advertised it), with
	// the generated login, and Spark's master UI.
	r = remote.dataeco(t, ctx, "smoke", "--json", "--dir", dir)
	var smoke struct {
		Checks []struct{ ID, Status, Message string } `json:"checks"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &smoke); err != nil {
		t.Fatalf("smoke --json: %v\n%s", err, r.stdout)
	}
	passed := map[string]bool{}
	for _, c := range smoke.Checks {
		passed[c.ID] = c.Status == "pass"
		if (c.ID == "smoke-kafka" || c.ID == "smoke-spark") && c.Status != "pass" {
			t.Errorf("%s from this machine: %s %s", c.ID, c.Status, c.Message)
		}
	}
	if !passed["smoke-kafka"] || !passed["smoke-spark"] {
		t.Errorf("smoke did not run Kafka's and Spark's checks: %+v", smoke.Checks)
	}

	r = remote.dataeco(t, ctx, "env", "--dir", dir)
	if !strings.Contains(r.stdout, fmt.Sprintf("%s:%d", remote.ip, base)) {
		t.Errorf("env does not point clients at the engine's machine:\n%s", r.stdout)
	}

	r = remote.dataeco(t, ctx, "doctor", "--json", "--dir", dir)
	var doc struct {
		Checks []struct {
			ID, Status, Message string
			Details             map[string]string
		} `json:"checks"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("doctor --json: %v\n%s", err, r.stdout)
	}
	found := false
	for _, c := range doc.Checks {
		if c.ID == "docker-engine" {
			found = true
			if c.Details["remote_host"] != remote.ip || !strings.Contains(c.Details["via"], "TLS") || c.Details["endpoint"] != "tcp://"+net.JoinHostPort(remote.ip, "2376") {
				t.Errorf("doctor's engine check does not say which engine and how: %+v", c)
			}
		}
	}
	if !found {
		t.Errorf("doctor ran no docker-engine check:\n%s", r.stdout)
	}

	r = remote.dataeco(t, ctx, "uninstall", "--yes", "--dir", dir)
	mustSucceed(t, r, "uninstall on the remote engine")
}

// docker runs the docker CLI against the remote engine through its socket (the test's own
// back door, not the path under test).
func (r *remoteEngine) docker(args ...string) (string, error) {
	out, err := exec.Command("docker", append([]string{"-H", r.host}, args...)...).CombinedOutput()
	return string(out), err
}
