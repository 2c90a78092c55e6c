package model

import (
	"slices"
	"strings"
)

// Proxy settings in the .env file, beside the credentials (a proxy URL may carry a
// password). install sets them from the environment it runs in (or the Docker CLI's
// config) every time, so they follow the machine from the office to home; the Airflow
// services, whose tasks fetch from outside, read them.
const (
	KeyHTTPProxy  = "DATAECO_HTTP_PROXY"
	KeyHTTPSProxy = "DATAECO_HTTPS_PROXY"
	KeyNoProxy    = "DATAECO_NO_PROXY"
)

// Proxy is how the machine reaches outside: what HTTP_PROXY, HTTPS_PROXY and NO_PROXY say.
type Proxy struct {
	HTTP, HTTPS, No string
}

// Set says whether any proxy is configured.
func (p Proxy) Set() bool { return p.HTTP != "" || p.HTTPS != "" }

// ProxyFrom reads the proxy variables through getenv, upper case first as curl and Docker
// do, then lower case.
func ProxyFrom(getenv func(string) string) Proxy {
	get := func(k string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return getenv(strings.ToLower(k))
	}
	return Proxy{HTTP: get("HTTP_PROXY"), HTTPS: get("HTTPS_PROXY"), No: get("NO_PROXY")}
}

// BuildArgs are the proxy settings as the build arguments Docker predefines (they reach
// every RUN step and are kept out of the image's history), both spellings, as tools
// differ in which they read.
func (p Proxy) BuildArgs() map[string]string {
	out := map[string]string{}
	for k, v := range map[string]string{"HTTP_PROXY": p.HTTP, "HTTPS_PROXY": p.HTTPS, "NO_PROXY": p.No} {
		if v != "" {
			out[k], out[strings.ToLower(k)] = v, v
		}
	}
	return out
}

// NoProxyFor is NO_PROXY for the stack's containers: the user's entries, then loopback and
// every service's name, so that nothing the stack says to itself goes to the proxy (Airflow's
// task runner calls its API server by name).
func (p Proxy) NoProxyFor(a *Answers) string {
	var out []string
	add := func(v string) {
		if v = strings.TrimSpace(v); v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	for _, v := range strings.Split(p.No, ",") {
		add(v)
	}
	for _, v := range append([]string{"localhost", "127.0.0.1"}, ServiceNames(a)...) {
		add(v)
	}
	return strings.Join(out, ",")
}

// SetProxy records the proxy in the secrets for the containers, or clears it.
func (s Secrets) SetProxy(p Proxy, a *Answers) {
	if !p.Set() {
		delete(s, KeyHTTPProxy)
		delete(s, KeyHTTPSProxy)
		delete(s, KeyNoProxy)
		return
	}
	s[KeyHTTPProxy], s[KeyHTTPSProxy], s[KeyNoProxy] = p.HTTP, p.HTTPS, p.NoProxyFor(a)
}
