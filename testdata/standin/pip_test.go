package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func pipTestEnv(t *testing.T) string {
	t.Helper()
	site := filepath.Join(t.TempDir(), "site-packages")
	t.Setenv("STANDIN_PIP_SITE", site)
	t.Setenv("AIRFLOW_VERSION", "3.3.2")
	t.Setenv("STANDIN_ROLE", "airflow")
	old := pipGeteuid
	pipGeteuid = func() int { return 50000 }
	t.Cleanup(func() { pipGeteuid = old })
	return site
}

func runPipT(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = runPip(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestParsePipReq(t *testing.T) {
	for _, c := range []struct{ in, name, str string }{
		{"confluent-kafka==2.16.1", "confluent-kafka", "confluent-kafka==2.16.1"},
		{"pandas >= 2.2, <3", "pandas", "pandas<3,>=2.2"},
		{"requests[socks, security]~=2.31", "requests", "requests[socks,security]~=2.31"},
		{"foo ; python_version >= '3.8'", "foo", "foo; python_version >= '3.8'"},
		{"pkg @ https://example.com/pkg.whl", "pkg", "pkg @ https://example.com/pkg.whl"},
		{"Zope.Interface", "Zope.Interface", "Zope.Interface"},
	} {
		r, err := parsePipReq(c.in)
		if err != nil || r.name != c.name || r.String() != c.str {
			t.Errorf("%q: %+v %q %v", c.in, r, r.String(), err)
		}
	}
	for _, bad := range []string{"apache-airflow==", "foo bar", "-x", "foo==1 2", "foo @"} {
		if r, err := parsePipReq(bad); err == nil {
			t.Errorf("%q parsed: %+v", bad, r)
		}
	}
	if _, err := parsePipReq("apache-airflow=="); err == nil || err.Error() != "Invalid requirement: 'apache-airflow==': Expected end or semicolon (after name and no valid version specifier)" {
		t.Errorf("empty version: %v", err)
	}
}

func TestPipVersions(t *testing.T) {
	for _, c := range []struct {
		v, clause string
		ok        bool
	}{
		{"2.16.1", "==2.16.1", true}, {"2.16.1", "==2.16", false}, {"2.16.0", "==2.16", true}, {"2.16.1", "==2.*", true},
		{"2.10", ">=2.9", true}, {"2.10", "<2.9", false}, {"3.0", "!=3.0", false}, {"2.2.5", "~=2.2.0", true},
		{"2.3", "~=2.2.0", false}, {"1.0", ">1.0", false}, {"1.0.1", ">1.0", true}, {"1.0", "===1.0", true},
	} {
		if got := pipSatisfies(c.v, c.clause); got != c.ok {
			t.Errorf("%s %s: %v", c.v, c.clause, got)
		}
	}
	if v := pipCandidate([]string{">=2.2", "<3"}); v != "2.2" {
		t.Errorf("candidate %s", v)
	}
	if v := pipCandidate(nil); v != "1.0.0" {
		t.Errorf("candidate %s", v)
	}
	if pipNormalize("Confluent_Kafka") != "confluent-kafka" || pipNormalize("a.b--c") != "a-b-c" {
		t.Error("normalize")
	}
}

// TestPipInstall does what dataeco's Airflow image build does, then looks
// the packages up as a DAG's author would.
func TestPipInstall(t *testing.T) {
	site := pipTestEnv(t)
	dir := t.TempDir()
	dataeco := filepath.Join(dir, "requirements-dataeco.txt")
	user := filepath.Join(dir, "requirements-user.txt")
	os.WriteFile(dataeco, []byte("# the DAG's packages\nconfluent-kafka==2.16.1\n"), 0o644)
	os.WriteFile(user, []byte("--index-url https://pypi.example/simple\n-i https://pypi.example/simple\n--extra-index-url=https://mirror.example/simple\n"+
		"--trusted-host pypi.example\n--find-links /wheels\n-f /wheels\npandas >= 2.2, \\\n  <3  # comment\nrequests[socks]\n"), 0o644)

	code, out, errOut := runPipT("install", "--no-cache-dir", "apache-airflow==3.3.2", "-r", dataeco, "-r", user)
	if code != 0 {
		t.Fatalf("install: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		"Requirement already satisfied: apache-airflow==3.3.2 in " + site + " (3.3.2)\n",
		"Collecting confluent-kafka==2.16.1 (from -r " + dataeco + " (line 2))\n",
		"Collecting pandas<3,>=2.2 (from -r " + user + " (line 7))\n",
		"Successfully installed confluent-kafka-2.16.1 pandas-2.2 requests-1.0.0\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = runPipT("show", "confluent-kafka")
	if code != 0 || !strings.HasPrefix(out, "Name: confluent-kafka\nVersion: 2.16.1\n") || !strings.Contains(out, "Location: "+site+"\n") {
		t.Errorf("show: exit %d\n%s", code, out)
	}
	if code, out, _ = runPipT("show", "Pandas", "apache_airflow"); code != 0 || !strings.Contains(out, "Version: 2.2\n") || !strings.Contains(out, "---\nName: apache-airflow\nVersion: 3.3.2\n") {
		t.Errorf("show two: exit %d\n%s", code, out)
	}
	if code, _, errOut = runPipT("show", "numpy"); code != 1 || errOut != "WARNING: Package(s) not found: numpy\n" {
		t.Errorf("show missing: exit %d %q", code, errOut)
	}
	want := "Package         Version\n--------------- -------\napache-airflow  3.3.2\nconfluent-kafka 2.16.1\npandas          2.2\nrequests        1.0.0\n"
	if code, out, _ = runPipT("list"); code != 0 || out != want {
		t.Errorf("list: exit %d\n%s\nwant\n%s", code, out, want)
	}
	if code, out, _ = runPipT("freeze"); code != 0 || !strings.Contains(out, "confluent-kafka==2.16.1\n") {
		t.Errorf("freeze: %s", out)
	}
	if _, err := os.Stat(filepath.Join(site, "confluent_kafka-2.16.1.dist-info", "METADATA")); err != nil {
		t.Errorf("no dist-info: %v", err)
	}
	// A new version replaces the old record; the same one is already satisfied.
	if code, out, _ = runPipT("install", "-q", "confluent-kafka==2.17.0"); code != 0 || out != "" {
		t.Errorf("quiet upgrade: exit %d %q", code, out)
	}
	if _, err := os.Stat(filepath.Join(site, "confluent_kafka-2.16.1.dist-info")); err == nil {
		t.Error("old record kept")
	}
	if code, out, _ = runPipT("install", "confluent-kafka==2.17.0"); code != 0 || !strings.HasPrefix(out, "Requirement already satisfied: confluent-kafka==2.17.0") {
		t.Errorf("reinstall: %q", out)
	}
}

func TestPipInstallFailures(t *testing.T) {
	site := pipTestEnv(t)
	dir := t.TempDir()
	reqs := filepath.Join(dir, "r.txt")
	os.WriteFile(reqs, []byte("confluent-kafka==2.16.1\ndataeco-missing-foo\n"), 0o644)

	// A package the index does not have: pip's words, and nothing installed.
	code, out, errOut := runPipT("install", "--no-cache-dir", "apache-airflow==3.3.2", "-r", reqs)
	want := "ERROR: Could not find a version that satisfies the requirement dataeco-missing-foo (from versions: none)\nERROR: No matching distribution found for dataeco-missing-foo\n"
	if code != 1 || errOut != want {
		t.Errorf("missing: exit %d %q\nwant %q", code, errOut, want)
	}
	if strings.Contains(out, "Successfully installed") {
		t.Errorf("installed something: %s", out)
	}
	if entries, _ := os.ReadDir(site); len(entries) != 0 {
		t.Errorf("recorded %v", entries)
	}
	if code, _, errOut = runPipT("install", "Dataeco_Missing.Bar==1.0"); code != 1 || !strings.Contains(errOut, "requirement Dataeco_Missing.Bar==1.0 (from versions: none)") {
		t.Errorf("normalized missing name: exit %d %q", code, errOut)
	}
	// Airflow is on the index only at the image's version.
	if code, _, errOut = runPipT("install", "apache-airflow==3.1.0"); code != 1 ||
		errOut != "ERROR: Could not find a version that satisfies the requirement apache-airflow==3.1.0 (from versions: 3.3.2)\nERROR: No matching distribution found for apache-airflow==3.1.0\n" {
		t.Errorf("other airflow: exit %d %q", code, errOut)
	}
	// An unset AIRFLOW_VERSION in the Dockerfile's RUN gives "apache-airflow==".
	if code, _, errOut = runPipT("install", "apache-airflow=="); code != 1 || !strings.HasPrefix(errOut, "ERROR: Invalid requirement: 'apache-airflow=='") {
		t.Errorf("empty version: exit %d %q", code, errOut)
	}
	if code, _, errOut = runPipT("install", "foo==1", "foo==2"); code != 1 || !strings.Contains(errOut, "ERROR: Cannot install foo==1 and foo==2 because these package versions have conflicting dependencies.") {
		t.Errorf("conflict: exit %d %q", code, errOut)
	}
	if code, _, errOut = runPipT("install", "-r", filepath.Join(dir, "none.txt")); code != 1 || !strings.Contains(errOut, "Could not open requirements file: [Errno 2] No such file or directory") {
		t.Errorf("no file: exit %d %q", code, errOut)
	}
	os.WriteFile(reqs, []byte("--editable-nope x\n"), 0o644)
	if code, _, errOut = runPipT("install", "-r", reqs); code != 2 || !strings.Contains(errOut, "no such option: --editable-nope") {
		t.Errorf("bad option in file: exit %d %q", code, errOut)
	}
	if code, _, errOut = runPipT("install", "--frobnicate"); code != 2 || !strings.Contains(errOut, "no such option: --frobnicate") {
		t.Errorf("bad option: exit %d %q", code, errOut)
	}
	if code, _, errOut = runPipT("install", "--no-cache-dir"); code != 1 || !strings.Contains(errOut, "You must give at least one requirement") {
		t.Errorf("nothing: exit %d %q", code, errOut)
	}
	// As root in the Airflow image: the image's pip wrapper refuses.
	pipGeteuid = func() int { return 0 }
	if code, out, _ = runPipT("install", "x"); code != 1 || !strings.Contains(out, "You are running pip as root. Please use 'airflow' user to run pip!") {
		t.Errorf("root: exit %d %q", code, out)
	}
	t.Setenv("STANDIN_ROLE", "spark")
	if code, _, _ = runPipT("install", "-q", "x"); code != 0 {
		t.Errorf("root outside the Airflow image: exit %d", code)
	}
}

func TestPipReqFileEnv(t *testing.T) {
	pipTestEnv(t)
	f := filepath.Join(t.TempDir(), "r.txt")
	t.Setenv("PKG_VERSION", "1.2.3")
	os.WriteFile(f, []byte("-r nested.txt\nfoo==${PKG_VERSION}\n"), 0o644)
	os.WriteFile(filepath.Join(filepath.Dir(f), "nested.txt"), []byte("bar>=2\n"), 0o644)
	reqs, indexes, err := readPipReqFile(f, 0)
	if err != nil || len(reqs) != 2 || reqs[0].String() != "bar>=2" || reqs[1].String() != "foo==1.2.3" || len(indexes) != 0 {
		t.Errorf("%+v %v %v", reqs, indexes, err)
	}
}

// TestPipAsksTheIndexGiven: an index named in a requirements file is asked for each project;
// one whose certificate is not trusted fails the install in pip's words.
func TestPipAsksTheIndexGiven(t *testing.T) {
	pipTestEnv(t)
	asked := make(chan string, 10)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked <- r.URL.Path
		if strings.Contains(r.URL.Path, "nowhere") {
			http.NotFound(w, r)
		}
	})
	plain := httptest.NewServer(handler)
	defer plain.Close()
	untrusted := httptest.NewTLSServer(handler)
	defer untrusted.Close()
	f := filepath.Join(t.TempDir(), "r.txt")

	os.WriteFile(f, []byte("--index-url "+plain.URL+"/simple\nfoo==1\n"), 0o644)
	var out, errOut strings.Builder
	if code := runPip([]string{"install", "-r", f}, &out, &errOut); code != 0 || <-asked != "/simple/foo/" {
		t.Errorf("through a plain index: exit %d\n%s", code, errOut.String())
	}
	os.WriteFile(f, []byte("--index-url "+plain.URL+"/simple\nnowhere-pkg\n"), 0o644)
	if code := runPip([]string{"install", "-r", f}, &out, &errOut); code != 1 {
		t.Errorf("a project the index lacks: exit %d", code)
	}
	<-asked
	errOut.Reset()
	os.WriteFile(f, []byte("--extra-index-url "+untrusted.URL+"/simple\nbar\n"), 0o644)
	code := runPip([]string{"install", "-r", f}, &out, &errOut)
	if code != 1 || !strings.Contains(errOut.String(), "CERTIFICATE_VERIFY_FAILED") ||
		!strings.Contains(errOut.String(), "ERROR: Could not find a version that satisfies the requirement bar") {
		t.Errorf("through an untrusted index: exit %d\n%s", code, errOut.String())
	}
}
