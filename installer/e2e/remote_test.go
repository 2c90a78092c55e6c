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
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

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
	// 10.250/16: outside the private daemons' address pools (10.20-10.219) and the subnets
	// other tests ask for.
	ns, _, nsIP := netnsPair(t, "rem", 250)
	r := startNetnsEngine(t, "dr", ns, nsIP, false, "")
	netnsRegistry(t, ns, registry, filepath.Join(e2e.tmp, "data"), true)
	return r
}

// startNetnsEngine starts a private dockerd in the network namespace ns, serving TLS at ip
// with certificates made for it, and returns it with the client environment that reaches it.
// With ownRun it also has a /run of its own, with its socket at /var/run/docker.sock.
func startNetnsEngine(t *testing.T, prefix, ns, ip string, ownRun bool, bin string) *remoteEngine {
	t.Helper()
	requirePrivateDaemon(t)
	if _, err := exec.LookPath("nsenter"); err != nil {
		t.Fatalf("nsenter (util-linux) is needed: %v", err)
	}
	d := newPrivateDaemon(t, prefix)
	d.netns, d.ownRun, d.bin = ns, ownRun, bin
	certs := makeEngineCerts(t, filepath.Join(d.dir, "certs"), ip)
	d.args = append(d.args,
		// The unix socket is for the test's own cleanup; the client under test comes over TCP.
		"-H", "tcp://"+net.JoinHostPort(ip, "2376"),
		"--tlsverify",
		"--tlscacert", filepath.Join(certs, "ca.pem"),
		"--tlscert", filepath.Join(certs, "server-cert.pem"),
		"--tlskey", filepath.Join(certs, "server-key.pem"),
		// In a network namespace of its own, its docker0 and iptables chains are its own too.
		"--cgroup-parent", "/"+d.name,
		"--containerd-namespace", d.name,
		"--containerd-plugins-namespace", d.name+"-plugins",
	)
	rememberDocker0()
	d.start()
	t.Logf("dockerd at tcp://%s:2376 in namespace %s (pid %d)", ip, ns, d.cmd.Process.Pid)
	return &remoteEngine{privateDaemon: d, ns: ns, ip: ip,
		env: []string{"DOCKER_HOST=tcp://" + net.JoinHostPort(ip, "2376"), "DOCKER_TLS_VERIFY=1", "DOCKER_CERT_PATH=" + certs, "DOCKER_CONTEXT="}}
}

// dataeco runs the real binary as a user on this machine whose environment points at the
// remote engine.
func (r *remoteEngine) dataeco(t *testing.T, ctx context.Context, args ...string) runResult {
	t.Helper()
	return runBinary(t, ctx, r.env, args...)
}

// netnsRegistry serves a registry's storage inside the namespace, at the same loopback
// address as here: the remote engine pulls from "its own" 127.0.0.1. Read-only, or taking
// pushes too.
func netnsRegistry(t *testing.T, ns, addr, storage string, readonly bool) {
	t.Helper()
	dir := t.TempDir()
	cfg := fmt.Sprintf("version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s\n  maintenance:\n    readonly:\n      enabled: %v\nhttp:\n  addr: %s\n",
		storage, readonly, addr)
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

// TestIntegrationRemoteEngine: dataeco on this machine installs on an engine on another
// machine. Over TCP with TLS, with the ports on that machine's addresses: the ports check
// looks where the ports will be published (a port a container holds there fails; a port
// taken only here passes), the broker advertises the engine's machine, and status, smoke, env
// and doctor work from here. Over SSH, with the ports on that machine's loopback: smoke
// reaches them through a tunnel of its own, and `dataeco tunnel` forwards them until Ctrl-C.
func TestIntegrationRemoteEngine(t *testing.T) {
	// Its engine is its own, in a namespace of its own: it runs beside the swarm's test.
	t.Parallel()
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
	if out, err := remote.docker("run", "-d", "--name", "port-holder", "-p", fmt.Sprintf("%d:2181", holder),
		"--entrypoint", "/bin/busybox", img, "sleep", "3600"); err != nil {
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

	// The same engine on plain TCP (a proxy in its namespace to its socket, as an engine
	// started with -H tcp://0.0.0.0:2375 would be): it works, and doctor warns that anyone
	// who reaches the port controls the machine.
	plain := remote.plainTCP(t)
	r = runBinary(t, ctx, []string{"DOCKER_HOST=tcp://" + plain, "DOCKER_TLS_VERIFY=", "DOCKER_CERT_PATH=", "DOCKER_CONTEXT="}, "doctor", "--json", "--dir", dir)
	statuses := map[string]string{}
	var plainDoc struct {
		Checks []struct{ ID, Status, Message string } `json:"checks"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &plainDoc); err != nil {
		t.Fatalf("doctor --json over plain TCP: %v\n%s", err, r.stdout)
	}
	for _, c := range plainDoc.Checks {
		statuses[c.ID] = c.Status
		if c.ID == "docker-engine" && (c.Status != "warn" || !strings.Contains(c.Message, "without TLS, so anyone who reaches tcp://"+plain)) {
			t.Errorf("doctor over plain TCP: %s %s", c.Status, c.Message)
		}
	}
	if statuses["containers"] != "pass" {
		t.Errorf("doctor over plain TCP did not find the stack healthy: %v", statuses)
	}

	// The same install dir through this machine's engine: refused, naming where it runs.
	r = runCLI(t, ctx, "status", "--dir", dir)
	if r.code == 0 || !strings.Contains(r.stderr, "runs on the engine at tcp://"+net.JoinHostPort(remote.ip, "2376")) {
		t.Errorf("status through another engine than the install's: exit %d\n%s", r.code, r.stderr)
	}

	r = remote.dataeco(t, ctx, "uninstall", "--yes", "--dir", dir)
	mustSucceed(t, r, "uninstall on the remote engine")
	local.Close()

	t.Run("ssh", func(t *testing.T) { remoteOverSSH(t, ctx, remote, registry, base) })
}

// remoteOverSSH installs on the remote engine reached as ssh://root@ADDRESS (sshd in its
// namespace, the docker CLI's own ssh connection helper), with the ports on that machine's
// loopback, and reaches them from here only through SSH tunnels.
func remoteOverSSH(t *testing.T, ctx context.Context, remote *remoteEngine, registry string, base int) {
	sshEnv := startSSHD(t, remote)
	ssh := &remoteEngine{privateDaemon: remote.privateDaemon, ns: remote.ns, ip: remote.ip, env: sshEnv}
	dir := filepath.Join(t.TempDir(), "install")
	r := ssh.dataeco(t, ctx, append([]string{"install", "--yes", "--no-smoke", "--dir", dir, "--project", "dataeco-ssh", "--registry", registry,
		"--components", "kafka,spark", "--spark-workers", "1", "--timeout", "3m"}, fixedPortArgs(base)...)...)
	mustSucceed(t, r, "install over SSH")
	if !strings.Contains(r.stderr, "at ssh://root@"+remote.ip+" over SSH") || !strings.Contains(r.stdout, "dataeco tunnel") {
		t.Errorf("install did not say the engine is reached over SSH and how to reach the ports:\nstdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}

	// The smoke checks tunnel to the loopback ports themselves; Kafka's client follows the
	// broker's advertised localhost:PORT back through the same tunnel.
	r = ssh.dataeco(t, ctx, "smoke", "--json", "--dir", dir)
	var smoke struct {
		Checks []struct{ ID, Status, Message string } `json:"checks"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &smoke); err != nil {
		t.Fatalf("smoke --json: %v\n%s", err, r.stdout)
	}
	for _, c := range smoke.Checks {
		if (c.ID == "smoke-kafka" || c.ID == "smoke-spark") && c.Status != "pass" {
			t.Errorf("%s through the tunnel: %s %s", c.ID, c.Status, c.Message)
		}
	}
	if !strings.Contains(r.stderr, "Opening an SSH tunnel to "+remote.ip) {
		t.Errorf("smoke opened no tunnel:\n%s", r.stderr)
	}

	// dataeco tunnel: the Spark UI answers here while it runs; Ctrl-C closes it, and no ssh
	// is left behind.
	cmd := exec.CommandContext(ctx, dataecoBinary(t), "tunnel", "--dir", dir)
	cmd.Env = append(os.Environ(), sshEnv...)
	w := &lineWriter{lines: make(chan string, 1000)}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	ui := fmt.Sprintf("http://127.0.0.1:%d/json/", base+6)
	waitForLine(t, w.lines, "Forwarding port", time.Minute)
	if body, err := httpGet(ctx, ui); err != nil || !strings.Contains(body, "ALIVE") {
		t.Errorf("the Spark master UI through dataeco tunnel: %v %.200s", err, body)
	}
	_ = cmd.Process.Signal(os.Interrupt)
	if err := cmd.Wait(); err != nil {
		t.Errorf("dataeco tunnel after Ctrl-C: %v\n%s", err, w.String())
	}
	if !strings.Contains(out.String(), fmt.Sprintf("localhost:%d", base)) {
		t.Errorf("dataeco tunnel listed no Kafka address:\n%s", out.String())
	}
	if b, err := httpGet(ctx, ui); err == nil {
		t.Errorf("the tunnel still answers after Ctrl-C: %.100s", b)
	}

	r = ssh.dataeco(t, ctx, "uninstall", "--yes", "--dir", dir)
	mustSucceed(t, r, "uninstall over SSH")
}

// startSSHD runs sshd in the remote engine's namespace, with keys the test makes, giving the
// root login the remote engine's socket as DOCKER_HOST (what a real machine's default socket
// would be). It returns a client environment: DOCKER_HOST=ssh://root@ADDRESS and a PATH
// whose ssh uses the test's key and known host.
func startSSHD(t *testing.T, remote *remoteEngine) []string {
	t.Helper()
	if _, err := os.Stat("/usr/sbin/sshd"); err != nil {
		t.Fatalf("sshd (openssh-server) is needed: %v", err)
	}
	sshBin, err := exec.LookPath("ssh")
	if err != nil {
		t.Fatalf("ssh (openssh-client) is needed: %v", err)
	}
	dir := t.TempDir()
	keygen := func(name string) {
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(dir, name)).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v\n%s", err, out)
		}
	}
	keygen("host_key")
	keygen("id")
	pub := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name+".pub"))
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(strings.Fields(string(b))[:2], " ")
	}
	files := map[string]string{
		"authorized_keys": pub("id") + "\n",
		"known_hosts":     remote.ip + " " + pub("host_key") + "\n",
		"sshd_config": strings.Join([]string{
			"ListenAddress " + remote.ip + ":22",
			"HostKey " + filepath.Join(dir, "host_key"),
			"AuthorizedKeysFile " + filepath.Join(dir, "authorized_keys"),
			"PidFile " + filepath.Join(dir, "sshd.pid"),
			"PermitRootLogin prohibit-password", "PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no",
			"StrictModes no", "AllowTcpForwarding yes",
			"SetEnv DOCKER_HOST=" + remote.host, ""}, "\n"),
		"ssh_config": strings.Join([]string{"Host *",
			"  IdentityFile " + filepath.Join(dir, "id"),
			"  UserKnownHostsFile " + filepath.Join(dir, "known_hosts"),
			"  StrictHostKeyChecking yes", "  BatchMode yes", ""}, "\n"),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	// What the docker CLI and dataeco run as "ssh": the real one with the test's config.
	wrapper := fmt.Sprintf("#!/bin/sh\nexec %s -F %s \"$@\"\n", sshBin, filepath.Join(dir, "ssh_config"))
	if err := os.WriteFile(filepath.Join(bin, "ssh"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil { // sshd's privilege separation dir
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "sshd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("nsenter", "--net=/var/run/netns/"+remote.ns, "/usr/sbin/sshd", "-D", "-e", "-f", filepath.Join(dir, "sshd_config"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting sshd: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "sshd.log"))
			t.Logf("sshd log:\n%s", b)
		}
	})
	env := []string{"DOCKER_HOST=ssh://root@" + remote.ip, "DOCKER_TLS_VERIFY=", "DOCKER_CERT_PATH=", "DOCKER_CONTEXT=",
		"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH")}
	deadline := time.Now().Add(20 * time.Second)
	for {
		c := exec.Command(filepath.Join(bin, "ssh"), "root@"+remote.ip, "true")
		out, err := c.CombinedOutput()
		if err == nil {
			return env
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(dir, "sshd.log"))
			t.Fatalf("no SSH login to %s: %v %s\n%s", remote.ip, err, out, b)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// docker runs the docker CLI against the remote engine through its socket (the test's own
// back door, not the path under test).
func (r *remoteEngine) docker(args ...string) (string, error) {
	out, err := exec.Command("docker", append([]string{"-H", r.host}, args...)...).CombinedOutput()
	return string(out), err
}

// httpGet fetches url directly (never through a proxy), with a short timeout.
func httpGet(ctx context.Context, url string) (string, error) {
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return string(b), fmt.Errorf("%s: %s", url, resp.Status)
	}
	return string(b), err
}

// plainTCP serves the remote engine's API without TLS at its address, port 2375: a listener
// made inside its namespace, copying each connection to the engine's socket. It returns
// HOST:PORT.
func (r *remoteEngine) plainTCP(t *testing.T) string {
	t.Helper()
	addr := net.JoinHostPort(r.ip, "2375")
	type result struct {
		l   net.Listener
		err error
	}
	got := make(chan result, 1)
	go func() {
		// This thread enters the namespace and never leaves it: locked to the goroutine, it
		// ends with it. The listener's socket stays in the namespace.
		runtime.LockOSThread()
		fd, err := unix.Open("/var/run/netns/"+r.ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err == nil {
			err = unix.Setns(fd, unix.CLONE_NEWNET)
			unix.Close(fd)
		}
		if err != nil {
			got <- result{err: err}
			return
		}
		l, err := net.Listen("tcp", addr)
		got <- result{l, err}
	}()
	res := <-got
	if res.err != nil {
		t.Fatalf("a plain TCP listener in %s: %v", r.ns, res.err)
	}
	t.Cleanup(func() { res.l.Close() })
	sock := strings.TrimPrefix(r.host, "unix://")
	go func() {
		for {
			c, err := res.l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				e, err := net.Dial("unix", sock)
				if err != nil {
					return
				}
				defer e.Close()
				go func() { _, _ = io.Copy(e, c) }()
				_, _ = io.Copy(c, e)
			}()
		}
	}()
	return addr
}
