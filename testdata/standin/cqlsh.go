package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

type cqlshArgs struct {
	host, user, password, execute, keyspace, file string
	port                                          int
	connectTimeout                                time.Duration
}

func parseCqlshArgs(args []string) (cqlshArgs, error) {
	a := cqlshArgs{host: envOr("CQLSH_HOST", "localhost"), connectTimeout: 5 * time.Second}
	a.port, _ = strconv.Atoi(envOr("CQLSH_PORT", "9042"))
	var pos []string
	withValue := map[string]*string{
		"-u": &a.user, "--username": &a.user,
		"-p": &a.password, "--password": &a.password,
		"-e": &a.execute, "--execute": &a.execute,
		"-k": &a.keyspace, "--keyspace": &a.keyspace,
		"-f": &a.file, "--file": &a.file,
	}
	ignoredValue := map[string]bool{"--request-timeout": true, "--cqlversion": true, "--protocol-version": true, "--encoding": true, "--consistency-level": true, "--serial-consistency-level": true}
	ignoredFlag := map[string]bool{"--ssl": true, "--no-color": true, "-C": true, "--color": true, "--debug": true, "--no-file-io": true, "--disable-history": true, "-t": true, "--tty": true}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		flag, val, hasVal := strings.Cut(arg, "=")
		if !strings.HasPrefix(arg, "--") {
			flag, hasVal = arg, false
		}
		switch {
		case withValue[flag] != nil || ignoredValue[flag] || flag == "--connect-timeout":
			if !hasVal {
				if i+1 >= len(args) {
					return a, fmt.Errorf("%s option requires 1 argument", flag)
				}
				i++
				val = args[i]
			}
			if flag == "--connect-timeout" {
				secs, err := strconv.ParseFloat(val, 64)
				if err != nil {
					return a, fmt.Errorf("option --connect-timeout: invalid number %q", val)
				}
				a.connectTimeout = time.Duration(secs * float64(time.Second))
			} else if p := withValue[flag]; p != nil {
				*p = val
			}
		case ignoredFlag[flag]:
		case strings.HasPrefix(arg, "-") && len(arg) > 1:
			return a, fmt.Errorf("no such option: %s", arg)
		default:
			pos = append(pos, arg)
		}
	}
	if len(pos) > 2 {
		return a, fmt.Errorf("too many arguments: %s", strings.Join(pos, " "))
	}
	if len(pos) > 0 {
		a.host = pos[0]
	}
	if len(pos) > 1 {
		p, err := strconv.Atoi(pos[1])
		if err != nil {
			return a, fmt.Errorf("invalid port %q", pos[1])
		}
		a.port = p
	}
	if a.password != "" && a.user == "" {
		return a, fmt.Errorf("a password was given without a username")
	}
	return a, nil
}

// cqlConn is a client connection to the stand-in Cassandra.
type cqlConn struct {
	c     net.Conn
	sc    *bufio.Scanner
	enc   *json.Encoder
	hello cqlResult
}

func cqlDial(addr string, timeout time.Duration) (*cqlConn, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	cc := &cqlConn{c: c, sc: bufio.NewScanner(c), enc: json.NewEncoder(c)}
	cc.sc.Buffer(make([]byte, 64<<10), 16<<20)
	if err := cc.read(&cc.hello, timeout); err != nil || cc.hello.Server != cqlServerName {
		c.Close()
		if err == nil {
			err = fmt.Errorf("not the stand-in Cassandra")
		}
		return nil, err
	}
	return cc, nil
}

func (cc *cqlConn) read(v *cqlResult, timeout time.Duration) error {
	cc.c.SetReadDeadline(time.Now().Add(timeout))
	if !cc.sc.Scan() {
		if err := cc.sc.Err(); err != nil {
			return err
		}
		return io.EOF
	}
	return json.Unmarshal(cc.sc.Bytes(), v)
}

func (cc *cqlConn) do(req cqlRequest) (cqlResult, error) {
	var res cqlResult
	if err := cc.enc.Encode(req); err != nil {
		return res, err
	}
	err := cc.read(&res, 30*time.Second)
	return res, err
}

func (cc *cqlConn) Close() error { return cc.c.Close() }

// cqlshAddr resolves the host to an IP, as the driver reports it.
func cqlshAddr(host string, port int) string {
	ip := host
	if net.ParseIP(host) == nil {
		if ips, err := net.LookupIP(host); err == nil {
			ip = ips[0].String()
			for _, x := range ips {
				if x.To4() != nil {
					ip = x.String()
					break
				}
			}
		}
	}
	return net.JoinHostPort(ip, strconv.Itoa(port))
}

func cqlConnError(addr, what string) string {
	return fmt.Sprintf("Connection error: ('Unable to connect to any servers', {'%s': %s})", addr, what)
}

func cqlshMain(args []string) int {
	a, err := parseCqlshArgs(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "Usage: cqlsh [options] [host [port]]\n\ncqlsh: error: %v\n", err)
		return 2
	}
	if failUnhealthy() {
		return 1
	}
	var script string
	switch {
	case a.execute != "":
		script = a.execute
	case a.file != "":
		b, err := os.ReadFile(a.file)
		if err != nil {
			fmt.Fprintf(os.Stderr, "Could not open '%s': %v\n", a.file, err)
			return 1
		}
		script = string(b)
	default:
		b, _ := io.ReadAll(os.Stdin)
		script = string(b)
	}
	return runCqlsh(a, script, os.Stdout, os.Stderr)
}

func runCqlsh(a cqlshArgs, script string, stdout, stderr io.Writer) int {
	addr := cqlshAddr(a.host, a.port)
	ip, _, _ := net.SplitHostPort(addr)
	cc, err := cqlDial(addr, a.connectTimeout)
	if err != nil {
		what := fmt.Sprintf(`OSError(None, "Tried connecting to [('%s', %d)]. Last error: %s")`, ip, a.port, err)
		if strings.Contains(err.Error(), "connection refused") {
			what = fmt.Sprintf(`ConnectionRefusedError(111, "Tried connecting to [('%s', %d)]. Last error: Connection refused")`, ip, a.port)
		} else if strings.Contains(err.Error(), "timeout") {
			what = fmt.Sprintf(`OperationTimedOut('errors=Timed out creating connection (%d seconds), last_host=None')`, int(a.connectTimeout.Seconds()))
		}
		fmt.Fprintln(stderr, cqlConnError(addr, what))
		return 1
	}
	defer cc.Close()
	if cc.hello.Auth {
		if a.user == "" {
			fmt.Fprintln(stderr, cqlConnError(addr, "AuthenticationFailed('Remote end requires authentication')"))
			return 1
		}
		res, err := cc.do(cqlRequest{Op: "login", User: a.user, Password: a.password})
		if err != nil {
			fmt.Fprintln(stderr, cqlConnError(addr, fmt.Sprintf("ConnectionShutdown('%v')", err)))
			return 1
		}
		if !res.OK {
			fmt.Fprintln(stderr, cqlConnError(addr, fmt.Sprintf(`AuthenticationFailed('Failed to authenticate to %s: Error from server: code=%s [Bad credentials] message="%s"')`, addr, res.Code, res.Message)))
			return 1
		}
	}
	if a.keyspace != "" {
		res, err := cc.do(cqlRequest{Op: "exec", Stmt: "USE " + a.keyspace})
		if err != nil || !res.OK {
			fmt.Fprintf(stderr, "Connection error: keyspace %s: %s\n", a.keyspace, res.Message)
			return 2
		}
	}
	code := 0
	for _, stmt := range splitCQLStatements(script) {
		res, err := cc.do(cqlRequest{Op: "exec", Stmt: stmt})
		if err != nil {
			fmt.Fprintf(stderr, "<stdin>:1:NoHostAvailable: ('Unable to complete the operation against any hosts', {}) (%v)\n", err)
			return 2
		}
		if !res.OK {
			fmt.Fprintln(stderr, formatCQLError(res))
			code = 2
			continue
		}
		io.WriteString(stdout, formatCQLResult(res))
	}
	return code
}

var cqlErrorTitles = map[string]string{
	"2000": "Syntax error in CQL query",
	"2100": "Unauthorized",
	"2200": "Invalid query",
	"2300": "Query invalid because of configuration issue",
}

func formatCQLError(r cqlResult) string {
	if r.Class == "AlreadyExists" {
		return "<stdin>:1:AlreadyExists: " + r.Message
	}
	if r.Class == "SyntaxException" {
		return fmt.Sprintf(`<stdin>:1:SyntaxException: %s`, r.Message)
	}
	title := cqlErrorTitles[r.Code]
	if title == "" {
		title = r.Class
	}
	return fmt.Sprintf(`<stdin>:1:%s: Error from server: code=%s [%s] message="%s"`, r.Class, r.Code, title, r.Message)
}

// formatCQLResult prints rows the way cqlsh does: headers left-aligned,
// values right-aligned, then the row count.
func formatCQLResult(r cqlResult) string {
	switch r.Kind {
	case "text":
		return r.Text
	case "rows":
	default:
		return ""
	}
	widths := make([]int, len(r.Columns))
	for i, c := range r.Columns {
		widths[i] = utf8.RuneCountInString(c)
		for _, row := range r.Rows {
			if n := utf8.RuneCountInString(row[i]); n > widths[i] {
				widths[i] = n
			}
		}
	}
	var b strings.Builder
	b.WriteString("\n")
	var hdr, rule []string
	for i, c := range r.Columns {
		hdr = append(hdr, c+strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)))
		rule = append(rule, strings.Repeat("-", widths[i]))
	}
	b.WriteString(strings.TrimRight(" "+strings.Join(hdr, " | "), " ") + "\n")
	b.WriteString("-" + strings.Join(rule, "-+-") + "-\n")
	for _, row := range r.Rows {
		var cells []string
		for i, v := range row {
			cells = append(cells, strings.Repeat(" ", widths[i]-utf8.RuneCountInString(v))+v)
		}
		b.WriteString(" " + strings.Join(cells, " | ") + "\n")
	}
	fmt.Fprintf(&b, "\n(%d rows)\n", len(r.Rows))
	return b.String()
}

// nodetoolMain implements `nodetool status` and `nodetool version` against
// the stand-in server (the real one uses JMX, which needs no CQL login).
func nodetoolMain(args []string) int {
	host, port := "127.0.0.1", 9042
	var cmd []string
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "-h", "--host":
			if i+1 < len(args) {
				i++
				host = args[i]
			}
		case "-p", "--port", "-u", "--username", "-pw", "--password":
			i++
		default:
			cmd = append(cmd, args[i])
		}
	}
	if len(cmd) == 0 || (cmd[0] != "status" && cmd[0] != "version") {
		fmt.Fprintln(os.Stderr, "nodetool: the stand-in implements only status and version")
		return 1
	}
	if failUnhealthy() {
		return 1
	}
	cc, err := cqlDial(net.JoinHostPort(host, strconv.Itoa(port)), 3*time.Second)
	if err != nil {
		fmt.Fprintf(os.Stderr, "nodetool: Failed to connect to '%s:7199' - ConnectException: 'Connection refused'.\n", host)
		return 1
	}
	defer cc.Close()
	if cmd[0] == "version" {
		fmt.Printf("ReleaseVersion: %s\n", cc.hello.Version)
		return 0
	}
	ring, err := cc.do(cqlRequest{Op: "ring"})
	if err != nil || !ring.OK {
		fmt.Fprintf(os.Stderr, "nodetool: Failed to connect to '%s:7199' - %v %s\n", host, err, ring.Message)
		return 1
	}
	fmt.Printf("Datacenter: %s\n=======================\nStatus=Up/Down\n|/ State=Normal/Leaving/Joining/Moving\n", envOr("CASSANDRA_DC", "datacenter1"))
	fmt.Printf("--  Address     Load        Tokens  Owns (effective)  Host ID                               Rack\n")
	for _, r := range ring.Rows {
		fmt.Printf("%s  %-11s 100 KiB     16      ?                 %-36s  %s\n", r[0], r[1], r[2], envOr("CASSANDRA_RACK", "rack1"))
	}
	fmt.Println()
	return 0
}
