package model

import (
	"context"
	"strings"
	"testing"
)

func TestProxy(t *testing.T) {
	t.Parallel()
	env := map[string]string{"https_proxy": "http://u:pw@proxy.corp:3128", "HTTP_PROXY": "http://proxy.corp:3128", "NO_PROXY": "corp.internal, localhost"}
	p := ProxyFrom(func(k string) string { return env[k] })
	if p.HTTPS != "http://u:pw@proxy.corp:3128" || p.HTTP != "http://proxy.corp:3128" || !p.Set() {
		t.Errorf("ProxyFrom = %+v", p)
	}
	args := p.BuildArgs()
	if args["HTTPS_PROXY"] != p.HTTPS || args["https_proxy"] != p.HTTPS || args["no_proxy"] != p.No || len(args) != 6 {
		t.Errorf("BuildArgs = %v", args)
	}
	a := testAnswers(func(a *Answers) { a.Components = []string{CompKafka, CompAirflow} })
	no := p.NoProxyFor(a)
	if !strings.HasPrefix(no, "corp.internal,localhost,127.0.0.1,") || !strings.Contains(no, ",airflow-apiserver,") || strings.Contains(no, "cassandra") {
		t.Errorf("NoProxyFor = %q", no)
	}
	if len(Proxy{}.BuildArgs()) != 0 || (Proxy{No: "x"}).Set() {
		t.Error("no proxy still gives settings")
	}

	// The Airflow containers get them through .env; the file itself holds none.
	s := Secrets{}
	if _, err := s.EnsureSecrets(a.Project); err != nil {
		t.Fatal(err)
	}
	s.SetProxy(p, a)
	def, err := Renderer{Version: "test"}.DefineWith(context.Background(), t.TempDir(), a, s, Inputs{})
	if err != nil {
		t.Fatal(err)
	}
	envOf := def.Project.Services["airflow-scheduler"].Environment
	if v := envOf["HTTPS_PROXY"]; v == nil || *v != p.HTTPS {
		t.Errorf("airflow-scheduler's HTTPS_PROXY = %v", v)
	}
	if v := envOf["no_proxy"]; v == nil || *v != no {
		t.Errorf("airflow-scheduler's no_proxy = %v", v)
	}
	if strings.Contains(string(def.Compose), "proxy.corp") {
		t.Error("the compose file holds the proxy's URL")
	}
	if red := string(s.Redact([]byte("via http://u:pw@proxy.corp:3128 for corp.internal"))); strings.Contains(red, "pw@") || !strings.Contains(red, "corp.internal") {
		t.Errorf("redaction: %s", red)
	}
	s.SetProxy(Proxy{}, a)
	if _, ok := s[KeyHTTPSProxy]; ok {
		t.Error("a cleared proxy stays in .env")
	}
}
