package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// pgConn is a client connection to the stand-in PostgreSQL.
type pgConn struct {
	c   net.Conn
	sc  *bufio.Scanner
	enc *json.Encoder
}

var errNotStandinPG = errors.New("server is not the stand-in PostgreSQL")

func pgDial(host string, port int, timeout time.Duration) (*pgConn, error) {
	c, err := net.DialTimeout("tcp", net.JoinHostPort(host, strconv.Itoa(port)), timeout)
	if err != nil {
		return nil, err
	}
	p := &pgConn{c: c, sc: bufio.NewScanner(c), enc: json.NewEncoder(c)}
	p.sc.Buffer(make([]byte, 64<<10), 16<<20)
	var hello pgResponse
	if err := p.read(&hello, timeout); err != nil || hello.Server != pgServerName {
		c.Close()
		if err == nil {
			err = errNotStandinPG
		}
		return nil, err
	}
	return p, nil
}

func (p *pgConn) read(v *pgResponse, timeout time.Duration) error {
	p.c.SetReadDeadline(time.Now().Add(timeout))
	if !p.sc.Scan() {
		if err := p.sc.Err(); err != nil {
			return err
		}
		return io.EOF
	}
	return json.Unmarshal(p.sc.Bytes(), v)
}

func (p *pgConn) do(req pgRequest) (pgResponse, error) {
	var resp pgResponse
	if err := p.enc.Encode(req); err != nil {
		return resp, err
	}
	err := p.read(&resp, 30*time.Second)
	return resp, err
}

func (p *pgConn) Close() error { return p.c.Close() }

// ---------------------------------------------------------------------------
// pg_isready

type pgIsReadyArgs struct {
	host    string
	port    int
	user    string
	db      string
	quiet   bool
	timeout int
}

func parsePgIsReadyArgs(args []string) (pgIsReadyArgs, error) {
	a := pgIsReadyArgs{host: envOr("PGHOST", "localhost"), user: os.Getenv("PGUSER"), db: os.Getenv("PGDATABASE"), timeout: 3}
	a.port, _ = strconv.Atoi(envOr("PGPORT", "5432"))
	opts := []pgOpt{
		{"h", "host", true, func(v string) error { a.host = v; return nil }},
		{"p", "port", true, func(v string) (err error) { a.port, err = strconv.Atoi(v); return }},
		{"U", "username", true, func(v string) error { a.user = v; return nil }},
		{"d", "dbname", true, func(v string) error { a.db = v; return nil }},
		{"t", "timeout", true, func(v string) (err error) { a.timeout, err = strconv.Atoi(v); return }},
		{"q", "quiet", false, func(string) error { a.quiet = true; return nil }},
	}
	pos, err := parsePgOpts(args, opts)
	if err != nil {
		return a, err
	}
	if len(pos) > 0 {
		return a, fmt.Errorf("too many command-line arguments (first is %q)", pos[0])
	}
	if a.timeout <= 0 {
		a.timeout = 3
	}
	return a, nil
}

func pgIsReadyMain(args []string) int {
	a, err := parsePgIsReadyArgs(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "pg_isready: %v\nTry \"pg_isready --help\" for more information.\n", err)
		return 3
	}
	if failUnhealthy() {
		return 1
	}
	where := fmt.Sprintf("%s:%d", a.host, a.port)
	say := func(s string) {
		if !a.quiet {
			fmt.Println(where + " - " + s)
		}
	}
	p, err := pgDial(a.host, a.port, time.Duration(a.timeout)*time.Second)
	if err != nil {
		say("no response")
		return 2
	}
	defer p.Close()
	resp, err := p.do(pgRequest{Op: "ping"})
	if err != nil {
		say("no response")
		return 2
	}
	if !resp.OK {
		say("rejecting connections")
		return 1
	}
	say("accepting connections")
	return 0
}

// ---------------------------------------------------------------------------
// psql

type psqlArgs struct {
	host, user, db, command string
	port                    int
	tuplesOnly, unaligned   bool
	fieldSep                string
	files                   []string
}

// pgOpt describes one option of the PostgreSQL client tools.
type pgOpt struct {
	short, long string
	hasArg      bool
	set         func(string) error
}

// parsePgOpts parses getopt-style options: grouped short flags (-tAc CMD),
// attached values (-Upostgres), long options with = or a separate value.
func parsePgOpts(args []string, opts []pgOpt) ([]string, error) {
	var pos []string
	find := func(short, long string) *pgOpt {
		for i := range opts {
			if (short != "" && opts[i].short == short) || (long != "" && opts[i].long == long) {
				return &opts[i]
			}
		}
		return nil
	}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		switch {
		case arg == "--":
			return append(pos, args[i+1:]...), nil
		case strings.HasPrefix(arg, "--"):
			name, val, hasVal := strings.Cut(arg[2:], "=")
			o := find("", name)
			if o == nil {
				return nil, fmt.Errorf("unrecognized option '%s'", arg)
			}
			if o.hasArg && !hasVal {
				if i+1 >= len(args) {
					return nil, fmt.Errorf("option '--%s' requires an argument", name)
				}
				i++
				val = args[i]
			}
			if err := o.set(val); err != nil {
				return nil, fmt.Errorf("invalid value for --%s: %v", name, err)
			}
		case strings.HasPrefix(arg, "-") && len(arg) > 1:
			for j := 1; j < len(arg); j++ {
				_, size := utf8.DecodeRuneInString(arg[j:])
				o := find(arg[j:j+size], "")
				if o == nil {
					return nil, fmt.Errorf("invalid option -- '%s'", arg[j:j+size])
				}
				if !o.hasArg {
					o.set("")
					continue
				}
				val := arg[j+size:]
				if val == "" {
					if i+1 >= len(args) {
						return nil, fmt.Errorf("option requires an argument -- '%s'", o.short)
					}
					i++
					val = args[i]
				}
				if err := o.set(val); err != nil {
					return nil, fmt.Errorf("invalid value for -%s: %v", o.short, err)
				}
				break
			}
		default:
			pos = append(pos, arg)
		}
	}
	return pos, nil
}

func parsePsqlArgs(args []string) (psqlArgs, error) {
	a := psqlArgs{host: os.Getenv("PGHOST"), user: os.Getenv("PGUSER"), db: os.Getenv("PGDATABASE"), fieldSep: "|"}
	a.port, _ = strconv.Atoi(envOr("PGPORT", "5432"))
	ignore := func(string) error { return nil }
	opts := []pgOpt{
		{"h", "host", true, func(v string) error { a.host = v; return nil }},
		{"p", "port", true, func(v string) (err error) { a.port, err = strconv.Atoi(v); return }},
		{"U", "username", true, func(v string) error { a.user = v; return nil }},
		{"d", "dbname", true, func(v string) error { a.db = v; return nil }},
		{"c", "command", true, func(v string) error { a.command = v; return nil }},
		{"f", "file", true, func(v string) error { a.files = append(a.files, v); return nil }},
		{"t", "tuples-only", false, func(string) error { a.tuplesOnly = true; return nil }},
		{"A", "no-align", false, func(string) error { a.unaligned = true; return nil }},
		{"F", "field-separator", true, func(v string) error { a.fieldSep = v; return nil }},
		{"q", "quiet", false, ignore},
		{"X", "no-psqlrc", false, ignore},
		{"w", "no-password", false, ignore},
		{"W", "password", false, ignore},
		{"v", "set", true, ignore},
		{"e", "echo-queries", false, ignore},
	}
	pos, err := parsePgOpts(args, opts)
	if err != nil {
		return a, err
	}
	if len(pos) > 0 && a.db == "" {
		a.db, pos = pos[0], pos[1:]
	}
	if len(pos) > 0 && a.user == "" {
		a.user, pos = pos[0], pos[1:]
	}
	if len(pos) > 0 {
		return a, fmt.Errorf("extra command-line argument %q ignored", pos[0])
	}
	return a, nil
}

// pgConnInfo is what a connection needs, after URIs and defaults.
type pgConnInfo struct {
	host, user, db, password string
	port                     int
	socket                   bool // no host: the Unix socket of the real image
}

// resolvePsqlConn applies a postgresql:// URI given as dbname and the
// defaults (user = $USER or root, db = user, password = $PGPASSWORD).
func resolvePsqlConn(a psqlArgs) (pgConnInfo, error) {
	ci := pgConnInfo{host: a.host, user: a.user, db: a.db, port: a.port, password: os.Getenv("PGPASSWORD")}
	if strings.HasPrefix(ci.db, "postgresql://") || strings.HasPrefix(ci.db, "postgres://") {
		u, err := url.Parse(ci.db)
		if err != nil {
			return ci, fmt.Errorf("invalid URI %q: %v", ci.db, err)
		}
		ci.db = strings.TrimPrefix(u.Path, "/")
		if u.User != nil {
			ci.user = u.User.Username()
			if pw, ok := u.User.Password(); ok {
				ci.password = pw
			}
		}
		if h := u.Hostname(); h != "" {
			ci.host = h
		}
		if p := u.Port(); p != "" {
			ci.port, _ = strconv.Atoi(p)
		}
	}
	if ci.user == "" {
		ci.user = envOr("USER", "root")
	}
	if ci.db == "" {
		ci.db = ci.user
	}
	if ci.host == "" || strings.HasPrefix(ci.host, "/") {
		ci.host, ci.socket = "localhost", true // the Unix socket of the real image
	}
	return ci, nil
}

func psqlMain(args []string) int {
	a, err := parsePsqlArgs(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "psql: error: %v\npsql: hint: Try \"psql --help\" for more information.\n", err)
		return 1
	}
	if failUnhealthy() {
		return 1
	}
	ci, err := resolvePsqlConn(a)
	if err != nil {
		fmt.Fprintf(os.Stderr, "psql: error: %v\n", err)
		return 1
	}
	var sqls []string
	if a.command != "" {
		sqls = append(sqls, a.command)
	}
	for _, f := range a.files {
		var b []byte
		if f == "-" {
			b, err = io.ReadAll(os.Stdin)
		} else {
			b, err = os.ReadFile(f)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "psql: error: %s: %v\n", f, err)
			return 1
		}
		sqls = append(sqls, splitTopLevel(string(b), ';')...)
	}
	if a.command == "" && len(a.files) == 0 {
		b, _ := io.ReadAll(os.Stdin)
		sqls = append(sqls, splitTopLevel(string(b), ';')...)
	}

	p, err := pgDial(ci.host, ci.port, 5*time.Second)
	if err != nil {
		fmt.Fprintf(os.Stderr, "psql: error: connection to server at \"%s\", port %d failed: %s\n\tIs the server running on that host and accepting TCP/IP connections?\n",
			ci.host, ci.port, connErrText(err))
		return 2
	}
	defer p.Close()
	resp, err := p.do(pgRequest{Op: "startup", User: ci.user, Database: ci.db, Password: ci.password, Socket: ci.socket})
	if err != nil || !resp.OK {
		msg := resp.Error
		if err != nil {
			msg = err.Error()
		}
		fmt.Fprintf(os.Stderr, "psql: error: connection to server at \"%s\", port %d failed: %s\n", ci.host, ci.port, msg)
		return 2
	}
	for _, sql := range sqls {
		if strings.TrimSpace(sql) == "" {
			continue
		}
		resp, err := p.do(pgRequest{Op: "query", SQL: sql})
		if err != nil {
			fmt.Fprintf(os.Stderr, "psql: error: server closed the connection unexpectedly: %v\n", err)
			return 2
		}
		if !resp.OK {
			fmt.Fprintln(os.Stderr, resp.Error)
			return 1
		}
		fmt.Print(formatPsql(resp, a.tuplesOnly, a.unaligned, a.fieldSep))
	}
	return 0
}

func connErrText(err error) string {
	s := err.Error()
	switch {
	case strings.Contains(s, "connection refused"):
		return "Connection refused"
	case strings.Contains(s, "no such host"):
		return "could not translate host name to address: Name or service not known"
	case strings.Contains(s, "timeout"):
		return "timeout expired"
	}
	return s
}

// formatPsql renders a result as psql does in its aligned and unaligned
// modes, with or without headers and footer.
func formatPsql(r pgResponse, tuplesOnly, unaligned bool, sep string) string {
	var b strings.Builder
	if len(r.Columns) == 0 {
		if !tuplesOnly {
			b.WriteString(r.Tag + "\n")
		}
		return b.String()
	}
	footer := fmt.Sprintf("(%d row", len(r.Rows))
	if len(r.Rows) != 1 {
		footer += "s"
	}
	footer += ")"
	if unaligned {
		if !tuplesOnly {
			b.WriteString(strings.Join(r.Columns, sep) + "\n")
		}
		for _, row := range r.Rows {
			b.WriteString(strings.Join(row, sep) + "\n")
		}
		if !tuplesOnly {
			b.WriteString(footer + "\n")
		}
		return b.String()
	}
	widths := make([]int, len(r.Columns))
	numeric := make([]bool, len(r.Columns))
	for i, c := range r.Columns {
		widths[i] = utf8.RuneCountInString(c)
		numeric[i] = len(r.Rows) > 0
		for _, row := range r.Rows {
			if n := utf8.RuneCountInString(row[i]); n > widths[i] {
				widths[i] = n
			}
			if _, err := strconv.ParseFloat(row[i], 64); err != nil {
				numeric[i] = false
			}
		}
	}
	pad := func(s string, w int, right bool) string {
		gap := strings.Repeat(" ", w-utf8.RuneCountInString(s))
		if right {
			return gap + s
		}
		return s + gap
	}
	if !tuplesOnly {
		var hdr, rule []string
		for i, c := range r.Columns {
			left := (widths[i] - utf8.RuneCountInString(c)) / 2
			hdr = append(hdr, " "+pad(strings.Repeat(" ", left)+c, widths[i], false)+" ")
			rule = append(rule, strings.Repeat("-", widths[i]+2))
		}
		b.WriteString(strings.TrimRight(strings.Join(hdr, "|"), " ") + "\n")
		b.WriteString(strings.Join(rule, "+") + "\n")
	}
	for _, row := range r.Rows {
		var cells []string
		for i, v := range row {
			cells = append(cells, " "+pad(v, widths[i], numeric[i])+" ")
		}
		b.WriteString(strings.TrimRight(strings.Join(cells, "|"), " ") + "\n")
	}
	if !tuplesOnly {
		b.WriteString(footer + "\n\n")
	}
	return b.String()
}
