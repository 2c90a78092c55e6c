package model

import (
	"strings"
	"testing"

	"github.com/dataeco/dataeco/installer/hint"
)

func TestParseRequirements(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, in, want, refuse string
	}{
		{"empty", "", "", ""},
		{"comments and blanks", "# mine\n\n  pandas>=2.2  # for the DAG\n", "pandas>=2.2\n", ""},
		{"extras and markers", "apache-airflow-providers-http[common]==5.0; python_version >= '3.10'\nrequests\n",
			"apache-airflow-providers-http[common]==5.0; python_version >= '3.10'\nrequests\n", ""},
		{"a direct reference", "mypkg @ https://example.com/mypkg-1.0.tar.gz\n", "mypkg @ https://example.com/mypkg-1.0.tar.gz\n", ""},
		{"index options", "--extra-index-url https://pypi.example/simple\nfoo==1\n", "--extra-index-url https://pypi.example/simple\nfoo==1\n", ""},
		{"apache-airflow itself", "pandas\napache-airflow==2.9.0\n", "", "line 2 asks for apache-airflow"},
		{"apache_airflow spelt otherwise", "Apache_Airflow\n", "", "apache-airflow itself"},
		{"a constraints file", "-c constraints.txt\n", "", "line 1"},
		{"another requirements file", "-r other.txt\n", "", "cannot pass"},
		{"not a requirement", "pandas ==\n", "", "not a requirement"},
		{"a shell command", "pandas; rm -rf /\n", "", ""}, // a marker pip itself rejects; not a shell
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseRequirements([]byte(tt.in))
			if tt.refuse != "" {
				if err == nil || !strings.Contains(err.Error(), tt.refuse) || hint.Of(err) == "" || !strings.Contains(err.Error(), RequirementsFile) {
					t.Fatalf("err = %v (hint %q), want one naming %s and %q", err, hint.Of(err), RequirementsFile, tt.refuse)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.want != "" && string(got) != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseSparkPackages(t *testing.T) {
	t.Parallel()
	got, err := ParseSparkPackages([]byte("# mine\norg.postgresql:postgresql:42.7.4\n\n"))
	if err != nil || len(got) != 1 || got[0] != "org.postgresql:postgresql:42.7.4" {
		t.Errorf("got %v, %v", got, err)
	}
	for _, bad := range []string{"postgresql\n", "org.postgresql:postgresql\n", "a:b:c:d\n", "a:b:1.0 --repositories x\n"} {
		if _, err := ParseSparkPackages([]byte(bad)); err == nil || !strings.Contains(err.Error(), SparkPackagesFile+" line 1") {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
}

// TestBuildsAreNamedByTheirInputs: the same inputs give the same tag, so a re-run builds
// nothing; any input that changes what is built gives another; a comment does not.
func TestBuildsAreNamedByTheirInputs(t *testing.T) {
	t.Parallel()
	tags := func(a *Answers, in Inputs) map[string]string {
		t.Helper()
		bs, err := Builds(a, in)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, b := range bs {
			out[b.Name] = b.Tag
			if !strings.HasPrefix(b.Tag, "dataeco/"+b.Name+":") || !strings.Contains(string(b.Files["Dockerfile"]), "FROM "+b.Base+"\n") {
				t.Errorf("%s: tag %s, Dockerfile:\n%s", b.Name, b.Tag, b.Files["Dockerfile"])
			}
		}
		return out
	}
	base := tags(testAnswers(nil), Inputs{})
	if len(base) != 2 {
		t.Fatalf("builds: %v", base)
	}
	if got := tags(testAnswers(nil), Inputs{Hostname: "elsewhere"}); got["airflow"] != base["airflow"] || got["spark"] != base["spark"] {
		t.Error("the host name changed a build")
	}
	if got := tags(testAnswers(nil), Inputs{Requirements: []byte("# only a comment\n\n")}); got["airflow"] != base["airflow"] {
		t.Error("a comment in requirements.txt changed the Airflow image")
	}
	if got := tags(testAnswers(nil), Inputs{Requirements: []byte("pandas\n")}); got["airflow"] == base["airflow"] || got["spark"] != base["spark"] {
		t.Errorf("a requirement: %v against %v", got, base)
	}
	if got := tags(testAnswers(nil), Inputs{SparkPackages: []byte("org.postgresql:postgresql:42.7.4\n")}); got["spark"] == base["spark"] || got["airflow"] != base["airflow"] {
		t.Errorf("a Spark package: %v against %v", got, base)
	}
	if got := tags(testAnswers(func(a *Answers) { a.Registry = "mirror.example:5000" }), Inputs{}); got["airflow"] == base["airflow"] {
		t.Error("another base (through a registry) kept the tag")
	}
	if got := tags(testAnswers(func(a *Answers) { a.Components = []string{CompKafka, CompCassandra} }), Inputs{}); len(got) != 0 {
		t.Errorf("builds without Airflow and Spark: %v", got)
	}
	if _, err := Builds(testAnswers(nil), Inputs{Requirements: []byte("apache-airflow\n")}); err == nil {
		t.Error("apache-airflow was accepted")
	}
}

func TestJWTSecretIsLongEnough(t *testing.T) {
	t.Parallel()
	s := Secrets{KeyAirflowJWT: "short-old-secret-of-24ch", KeyPostgresPassword: "kept"}
	if _, err := s.EnsureSecrets("dataeco"); err != nil {
		t.Fatal(err)
	}
	if len(s[KeyAirflowJWT]) < 64 {
		t.Errorf("JWT secret %q is shorter than 64", s[KeyAirflowJWT])
	}
	if s[KeyPostgresPassword] != "kept" {
		t.Error("another secret was regenerated")
	}
	again := s.Clone()
	if changed, _ := again.EnsureSecrets("dataeco"); changed {
		t.Error("a 64-character JWT secret was regenerated")
	}
}

func TestAdvertised(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ listen, advertise, want string }{
		{"127.0.0.1", "", "localhost"},
		{"0.0.0.0", "", "host.lan"},
		{"[::]", "", "host.lan"},
		{"192.168.1.5", "", "192.168.1.5"},
		{"0.0.0.0", "kafka.example.com", "kafka.example.com"},
	} {
		a := testAnswers(func(a *Answers) { a.Listen, a.Advertise = tt.listen, tt.advertise })
		if got := a.Advertised("host.lan"); got != tt.want {
			t.Errorf("listen %s advertise %q: %s, want %s", tt.listen, tt.advertise, got, tt.want)
		}
	}
	for in, want := range map[string]string{"Host.Example.COM": "host.example.com", "10.0.0.2": "10.0.0.2", "::1": "[::1]"} {
		if got, err := ParseHost(in); err != nil || got != want {
			t.Errorf("ParseHost(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "0.0.0.0", "host name", "http://host", "-host", "a..b"} {
		if _, err := ParseHost(bad); err == nil {
			t.Errorf("ParseHost(%q) accepted", bad)
		}
	}
}
