package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// A fake curl with the options health checks use.

type curlArgs struct {
	url                          string
	method                       string
	headers                      []string
	data                         *string
	output                       string
	writeOut                     string
	user                         string
	unixSocket                   string // --unix-socket: every connection goes to this socket
	fail, silent, showError      bool
	head, follow, insecure, incl bool
	maxTime, connectTimeout      time.Duration
}

func parseCurlArgs(args []string) (curlArgs, error) {
	var a curlArgs
	shortFlags := map[byte]func(){
		'f': func() { a.fail = true },
		's': func() { a.silent = true },
		'S': func() { a.showError = true },
		'L': func() { a.follow = true },
		'k': func() { a.insecure = true },
		'I': func() { a.head = true },
		'i': func() { a.incl = true },
		'v': func() {},
		'q': func() {},
	}
	longFlags := map[string]func(){
		"--fail": func() { a.fail = true }, "--silent": func() { a.silent = true },
		"--show-error": func() { a.showError = true }, "--location": func() { a.follow = true },
		"--insecure": func() { a.insecure = true }, "--head": func() { a.head = true },
		"--include": func() { a.incl = true }, "--verbose": func() {}, "--no-progress-meter": func() {},
		"--fail-with-body": func() { a.fail = true }, "--compressed": func() {},
	}
	seconds := func(v string) (time.Duration, error) {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return 0, fmt.Errorf("expected a proper numerical parameter, got %q", v)
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	setValue := func(opt, v string) error {
		var err error
		switch opt {
		case "-X", "--request":
			a.method = v
		case "-H", "--header":
			a.headers = append(a.headers, v)
		case "-d", "--data", "--data-raw", "--data-binary":
			if a.data != nil {
				v = *a.data + "&" + v
			}
			a.data = &v
		case "-o", "--output":
			a.output = v
		case "-w", "--write-out":
			a.writeOut = v
		case "-u", "--user":
			a.user = v
		case "-m", "--max-time":
			a.maxTime, err = seconds(v)
		case "--connect-timeout":
			a.connectTimeout, err = seconds(v)
		case "--retry", "--retry-delay", "--retry-max-time", "-A", "--user-agent":
		case "--url":
			a.url = v
		case "--unix-socket":
			a.unixSocket = v
		default:
			return fmt.Errorf("option %s: is unknown", opt)
		}
		return err
	}
	valueOpts := "XHdowumA"
	for i := 0; i < len(args); i++ {
		arg := args[i]
		switch {
		case strings.HasPrefix(arg, "--"):
			if fn, ok := longFlags[arg]; ok {
				fn()
				continue
			}
			name, val, hasVal := strings.Cut(arg, "=")
			if !hasVal {
				if i+1 >= len(args) {
					if err := setValue(name, ""); err != nil {
						return a, err
					}
					return a, fmt.Errorf("option %s: requires parameter", name)
				}
				i++
				val = args[i]
			}
			if err := setValue(name, val); err != nil {
				return a, err
			}
		case strings.HasPrefix(arg, "-") && len(arg) > 1:
			for j := 1; j < len(arg); j++ {
				c := arg[j]
				if fn, ok := shortFlags[c]; ok {
					fn()
					continue
				}
				if !strings.ContainsRune(valueOpts, rune(c)) {
					return a, fmt.Errorf("option -%c: is unknown", c)
				}
				val := arg[j+1:]
				if val == "" {
					if i+1 >= len(args) {
						return a, fmt.Errorf("option -%c: requires parameter", c)
					}
					i++
					val = args[i]
				}
				if err := setValue("-"+string(c), val); err != nil {
					return a, err
				}
				break
			}
		default:
			if a.url != "" {
				return a, fmt.Errorf("the stand-in curl takes one URL (got %q and %q)", a.url, arg)
			}
			a.url = arg
		}
	}
	if a.url == "" {
		return a, errors.New("no URL specified")
	}
	if !strings.Contains(a.url, "://") {
		a.url = "http://" + a.url
	}
	if a.method == "" {
		switch {
		case a.head:
			a.method = "HEAD"
		case a.data != nil:
			a.method = "POST"
		default:
			a.method = "GET"
		}
	}
	return a, nil
}

// curlProxy is the proxy of the environment, as curl's, but none through a unix socket.
func curlProxy(a curlArgs) func(*http.Request) (*url.URL, error) {
	if a.unixSocket != "" {
		return nil
	}
	return http.ProxyFromEnvironment
}

// curlWriteOut expands the -w format: %{http_code}, %{url_effective} and
// the \n, \t escapes.
func curlWriteOut(format string, status int, u string) string {
	r := strings.NewReplacer(`%{http_code}`, fmt.Sprintf("%03d", status), `%{response_code}`, fmt.Sprintf("%03d", status),
		`%{url_effective}`, u, `\n`, "\n", `\t`, "\t", `\r`, "\r")
	return r.Replace(format)
}

func curlMain(args []string) int {
	a, err := parseCurlArgs(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "curl: %v\ncurl: try 'curl --help' for more information\n", err)
		return 2
	}
	return runCurl(a, os.Stdout, os.Stderr)
}

func runCurl(a curlArgs, stdout, stderr io.Writer) int {
	complain := func(code int, format string, x ...any) int {
		if !a.silent || a.showError {
			fmt.Fprintf(stderr, "curl: (%d) %s\n", code, fmt.Sprintf(format, x...))
		}
		if a.writeOut != "" {
			io.WriteString(stdout, curlWriteOut(a.writeOut, 0, a.url))
		}
		return code
	}
	u, err := url.Parse(a.url)
	if err != nil || u.Host == "" {
		return complain(3, "URL rejected: Malformed input to a URL function")
	}
	ctx := context.Background()
	if a.maxTime > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, a.maxTime)
		defer cancel()
	}
	var body io.Reader
	if a.data != nil {
		body = strings.NewReader(*a.data)
	}
	req, err := http.NewRequestWithContext(ctx, a.method, a.url, body)
	if err != nil {
		return complain(3, "URL rejected: %v", err)
	}
	if a.data != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("User-Agent", "curl/7.88.1")
	for _, h := range a.headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	if a.user != "" {
		user, pass, _ := strings.Cut(a.user, ":")
		req.SetBasicAuth(user, pass)
	}
	ct := a.connectTimeout
	if ct == 0 {
		ct = 30 * time.Second
	}
	dial := (&net.Dialer{Timeout: ct}).DialContext
	if a.unixSocket != "" {
		dial = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{Timeout: ct}).DialContext(ctx, "unix", a.unixSocket)
		}
	}
	client := &http.Client{Transport: &http.Transport{
		DialContext:     dial,
		TLSClientConfig: &tls.Config{InsecureSkipVerify: a.insecure},
		Proxy:           curlProxy(a), // as curl honours http_proxy, HTTPS_PROXY and NO_PROXY
	}}
	if !a.follow {
		client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	resp, err := client.Do(req)
	if err != nil {
		host, port := u.Hostname(), u.Port()
		if port == "" {
			port = map[string]string{"https": "443"}[u.Scheme]
			if port == "" {
				port = "80"
			}
		}
		msg := err.Error()
		switch {
		case strings.Contains(msg, "no such host"):
			return complain(6, "Could not resolve host: %s", host)
		case strings.Contains(msg, "connection refused"):
			return complain(7, "Failed to connect to %s port %s after 0 ms: Couldn't connect to server", host, port)
		case errors.Is(err, context.DeadlineExceeded) || strings.Contains(msg, "timeout"):
			return complain(28, "Operation timed out after %d milliseconds", a.maxTime.Milliseconds())
		}
		return complain(56, "Failure when receiving data from the peer (%v)", err)
	}
	defer resp.Body.Close()
	if a.fail && resp.StatusCode >= 400 {
		return complain(22, "The requested URL returned error: %d", resp.StatusCode)
	}
	var out io.Writer = stdout
	if a.output != "" && a.output != "-" {
		f, err := os.Create(a.output)
		if err != nil {
			return complain(23, "Failure writing output to destination: %v", err)
		}
		defer f.Close()
		out = f
	}
	if a.head || a.incl {
		fmt.Fprintf(out, "HTTP/1.1 %s\r\n", resp.Status)
		resp.Header.Write(out)
		io.WriteString(out, "\r\n")
	}
	if _, err := io.Copy(out, resp.Body); err != nil {
		return complain(56, "Failure when receiving data from the peer")
	}
	if a.writeOut != "" {
		io.WriteString(stdout, curlWriteOut(a.writeOut, resp.StatusCode, a.url))
	}
	return 0
}
