package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dataeco/dataeco/installer"
	"github.com/dataeco/dataeco/installer/model"
)

// TestIntegrationCACert: behind a TLS-inspecting proxy, HTTPS from a build or a container
// fails unless the company's CA is trusted there. Here a package index of the test's own
// serves HTTPS with a certificate from a CA the test makes, on the engine's bridge address
// (this machine): the Airflow image's build asks it for the user's requirement. Without
// --ca-cert the install fails, says the certificate is not trusted and names --ca-cert, and
// nothing runs; with it the build goes through the index, and the running Airflow container
// reaches the same server with the image's own tools.
func TestIntegrationCACert(t *testing.T) {
	registry := standinRegistry(t)
	c := dockerAPI(t)
	project := "dataeco-cacert"
	freshProject(t, c, project)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	caPEM, server := companyIndex(t)
	caFile := filepath.Join(t.TempDir(), "company-ca.crt")
	writeFile(t, caFile, "Company root CA\n"+string(caPEM))

	dir := filepath.Join(t.TempDir(), "install")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, model.RequirementsFile), "--extra-index-url "+server.url+"/simple\ndataeco-from-company-index==1.0\n")
	args := append([]string{"install", "--yes", "--no-smoke", "--dir", dir, "--project", project, "--registry", registry,
		"--components", "kafka,airflow", "--timeout", "3m"}, fixedPortArgs(17900)...)

	r := runCLI(t, ctx, args...)
	if r.code != installer.ExitFailure || !strings.Contains(r.stderr, "CERTIFICATE_VERIFY_FAILED") ||
		!strings.Contains(r.stderr, "`dataeco install --ca-cert FILE`") {
		t.Errorf("install through an untrusted index: exit %d\n%s", r.code, r.stderr)
	}
	if n := len(projectContainers(t, c, project)); n != 0 {
		t.Errorf("a failed build left %d containers", n)
	}
	if server.asked() != 0 {
		t.Errorf("the index answered %d requests over a certificate the build should not trust", server.asked())
	}

	r = runCLI(t, ctx, append(args, "--ca-cert", caFile)...)
	mustSucceed(t, r, "install --ca-cert")
	built := regexp.MustCompile(`built (dataeco/airflow:\S+)`).FindStringSubmatch(r.stderr)
	if built == nil {
		t.Fatalf("no Airflow image built:\n%s", r.stderr)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "image", "rm", "-f", built[1]).Run() })
	if server.asked() == 0 {
		t.Error("the build never reached the company's index")
	}
	if got := readFile(t, filepath.Join(dir, model.CACertsFile)); got != string(caPEM) {
		t.Errorf("the install dir keeps %q, want the CA alone", got)
	}
	if out, err := execIn(t, project, "airflow-apiserver", "curl -sSf "+server.url+"/simple/"); err != nil {
		t.Errorf("the running Airflow container does not trust the company's CA: %v\n%s", err, out)
	}
	if out, err := execIn(t, project, "airflow-apiserver", "pip show dataeco-from-company-index"); err != nil {
		t.Errorf("the requirement from the company's index is not installed: %v\n%s", err, out)
	}
}

// indexServer is an HTTPS package index that answers every project page.
type indexServer struct {
	url string
	mu  sync.Mutex
	n   int
}

func (s *indexServer) asked() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// companyIndex makes a CA and an HTTPS server with a certificate it signed, on the address
// of the engine's default bridge (this machine, where build containers reach the host), and
// returns the CA in PEM and the server.
func companyIndex(t *testing.T) ([]byte, *indexServer) {
	t.Helper()
	ip := bridgeAddress(t)
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "dataeco test company CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: ip.String()}, IPAddresses: []net.IP{ip},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	s := &indexServer{}
	ln, err := net.Listen("tcp", net.JoinHostPort(ip.String(), "17990"))
	if err != nil {
		t.Fatalf("listening on the bridge: %v", err)
	}
	srv := &http.Server{
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.mu.Lock()
			s.n++
			s.mu.Unlock()
			fmt.Fprintln(w, "<!DOCTYPE html><html><body></body></html>")
		}),
	}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { _ = srv.Close() })
	s.url = "https://" + ln.Addr().String()
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), s
}

// TestIntegrationProxy: the proxy of the environment install runs in reaches the image
// builds and the Airflow containers, and the stack's own names stay off it. The "proxy" is
// a recorder of the test's own on the engine's bridge address that answers everything
// itself; the address it is asked for is another port of that bridge address, where nothing
// listens, so a request that bypassed it would fail rather than leave the machine.
func TestIntegrationProxy(t *testing.T) {
	registry := standinRegistry(t)
	c := dockerAPI(t)
	project := "dataeco-proxy"
	freshProject(t, c, project)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	gw := bridgeAddress(t)
	proxy := recordingProxy(t, gw, 17991)
	behind := fmt.Sprintf("http://%s:17992", gw) // nothing listens there

	dir := filepath.Join(t.TempDir(), "install")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, model.RequirementsFile), "--extra-index-url "+behind+"/simple\ndataeco-via-proxy==1.0\n")
	env := map[string]string{"HTTP_PROXY": proxy.url, "HTTPS_PROXY": proxy.url, "NO_PROXY": "corp.internal"}
	r := runCLIEnv(t, ctx, env, append([]string{"install", "--yes", "--no-smoke", "--dir", dir, "--project", project, "--registry", registry,
		"--components", "kafka,airflow", "--timeout", "3m", "--subnet", "10.214.7.0/24"}, fixedPortArgs(17920)...)...)
	mustSucceed(t, r, "install behind a proxy")
	// --subnet (rides along here): the engine made the stack's network in that range.
	if out, err := exec.Command("docker", "network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}}{{end}}", project+"_default").Output(); err != nil ||
		strings.TrimSpace(string(out)) != "10.214.7.0/24" {
		t.Errorf("the stack's network has subnet %q (%v), want 10.214.7.0/24", out, err)
	}
	if built := regexp.MustCompile(`built (dataeco/airflow:\S+)`).FindStringSubmatch(r.stderr); built != nil {
		t.Cleanup(func() { _ = exec.Command("docker", "image", "rm", "-f", built[1]).Run() })
	}
	if want := "GET " + behind + "/simple/dataeco-via-proxy/"; !proxy.saw(want) {
		t.Errorf("the build did not go through the proxy (%q); it saw %v", want, proxy.requests())
	}
	if !strings.Contains(r.stderr, "image builds and the Airflow containers (their tasks) go through it") {
		t.Errorf("the proxy check does not say what goes through the proxy:\n%s", r.stderr)
	}
	if out, err := execIn(t, project, "airflow-scheduler", "curl -sSf "+behind+"/from-a-task"); err != nil || !proxy.saw("GET "+behind+"/from-a-task") {
		t.Errorf("a task's request did not go through the proxy: %v\n%s", err, out)
	}
	out, err := execIn(t, project, "airflow-scheduler", `echo "$NO_PROXY"`)
	for _, want := range []string{"corp.internal", "localhost", "airflow-apiserver", "postgres", "broker"} {
		if err != nil || !strings.Contains(","+out+",", ","+want+",") {
			t.Errorf("NO_PROXY in the Airflow containers lacks %s: %q %v", want, out, err)
		}
	}
	if strings.Contains(readFile(t, filepath.Join(dir, model.ComposeFile)), proxy.url) {
		t.Error("the compose file holds the proxy's URL; it belongs in .env")
	}

	// From a network without a proxy, the next install takes that network's settings.
	r = runCLIEnv(t, ctx, map[string]string{"HTTP_PROXY": "", "HTTPS_PROXY": "", "NO_PROXY": "", "http_proxy": "", "https_proxy": "", "no_proxy": ""},
		append([]string{"install", "--yes", "--no-smoke", "--dir", dir, "--timeout", "3m"}, fixedPortArgs(17920)...)...)
	mustSucceed(t, r, "install without a proxy")
	if out, err := execIn(t, project, "airflow-scheduler", `echo "[$HTTPS_PROXY]"`); err != nil || out != "[]" {
		t.Errorf("the proxy stayed after an install without one: %q %v", out, err)
	}
}

// bridgeAddress is the engine's default bridge address on this machine.
func bridgeAddress(t *testing.T) net.IP {
	t.Helper()
	out, err := exec.Command("docker", "network", "inspect", "bridge", "-f", "{{range .IPAM.Config}}{{.Gateway}}{{end}}").Output()
	if ip := net.ParseIP(strings.TrimSpace(string(out))); err == nil && ip != nil {
		return ip
	}
	// A daemon that made docker0 itself (there was none when it started, as on a new machine)
	// records no gateway for the bridge network: the address is the interface's.
	addr, err := exec.Command("ip", "-o", "-4", "addr", "show", "docker0").Output()
	if f := strings.Fields(string(addr)); err == nil && len(f) > 3 {
		if ip, _, err := net.ParseCIDR(f[3]); err == nil {
			return ip
		}
	}
	t.Fatalf("the bridge's address: no gateway in `docker network inspect bridge` (%q) and none on docker0 (%q)", out, addr)
	return nil
}

// proxyRecorder answers every request itself and records "METHOD URL".
type proxyRecorder struct {
	url  string
	mu   sync.Mutex
	seen []string
}

func (p *proxyRecorder) requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string{}, p.seen...)
}

func (p *proxyRecorder) saw(line string) bool {
	for _, s := range p.requests() {
		if s == line {
			return true
		}
	}
	return false
}

func recordingProxy(t *testing.T, ip net.IP, port int) *proxyRecorder {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip.String(), fmt.Sprint(port)))
	if err != nil {
		t.Fatalf("listening on the bridge: %v", err)
	}
	p := &proxyRecorder{url: "http://" + ln.Addr().String()}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.seen = append(p.seen, r.Method+" "+r.URL.String())
		p.mu.Unlock()
		fmt.Fprintln(w, "<!DOCTYPE html><html><body></body></html>")
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return p
}
