package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The stand-in PostgreSQL speaks a line protocol of JSON objects, one per
// line, over TCP port 5432:
//
//	server: {"server":"standin-postgres","version":"17.6"}
//	client: {"op":"ping"}                                  -> {"ok":true}
//	client: {"op":"startup","user":"u","database":"d","password":"p"}
//	                                                        -> {"ok":true} | {"ok":false,"error":"FATAL: ..."}
//	client: {"op":"query","sql":"SELECT 1"}                -> {"ok":true,"columns":["?column?"],"rows":[["1"]],"tag":"SELECT 1"}
//
// As in the real image, connections from loopback addresses are trusted
// (the image's pg_hba.conf trusts local and 127.0.0.1/::1 connections);
// others must give the password of POSTGRES_USER, unless
// POSTGRES_HOST_AUTH_METHOD=trust.

type pgRequest struct {
	Op       string `json:"op"`
	User     string `json:"user,omitempty"`
	Database string `json:"database,omitempty"`
	Password string `json:"password,omitempty"`
	SQL      string `json:"sql,omitempty"`
}

type pgResponse struct {
	Server  string     `json:"server,omitempty"`
	Version string     `json:"version,omitempty"`
	OK      bool       `json:"ok"`
	Error   string     `json:"error,omitempty"`
	Columns []string   `json:"columns,omitempty"`
	Rows    [][]string `json:"rows,omitempty"`
	Tag     string     `json:"tag,omitempty"`
}

const pgServerName = "standin-postgres"

// pgState is what the stand-in persists in PGDATA, like a cluster
// initialized by initdb: later starts ignore POSTGRES_* as the real image
// does.
type pgState struct {
	User      string   `json:"user"`
	Password  string   `json:"password"`
	Databases []string `json:"databases"`
	TrustHost bool     `json:"trust_host"`
}

type pgServer struct {
	mu      sync.Mutex
	state   pgState
	dataDir string
	version string
}

func pgDataDir() string { return envOr("PGDATA", "/var/lib/postgresql/data") }

func postgresMain(args []string) int {
	return runServer("postgres", pgDataDir(), func(ctx context.Context) error {
		s, err := initPostgres(pgDataDir())
		if err != nil {
			return err
		}
		port := 5432
		for i := 0; i < len(args); i++ { // postgres -p PORT / -c port=PORT
			if args[i] == "-p" && i+1 < len(args) {
				port, _ = strconv.Atoi(args[i+1])
			}
			if args[i] == "-c" && i+1 < len(args) && strings.HasPrefix(args[i+1], "port=") {
				port, _ = strconv.Atoi(strings.TrimPrefix(args[i+1], "port="))
			}
		}
		if p := os.Getenv("PGPORT"); p != "" {
			port, _ = strconv.Atoi(p)
		}
		logf("database system is ready to accept connections")
		return serveTCP(ctx, fmt.Sprintf("0.0.0.0:%d", port), "postgres", s.handleConn)
	})
}

func initPostgres(dir string) (*pgServer, error) {
	s := &pgServer{dataDir: dir, version: versionPrefix(os.Getenv("STANDIN_VERSION"), "17.6")}
	stateFile := filepath.Join(dir, "standin-postgres.json")
	data, err := os.ReadFile(stateFile)
	if err == nil {
		if err := json.Unmarshal(data, &s.state); err != nil {
			return nil, fmt.Errorf("corrupt %s: %v", stateFile, err)
		}
		logf("PostgreSQL Database directory appears to contain a database; Skipping initialization")
		return s, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	trust := os.Getenv("POSTGRES_HOST_AUTH_METHOD") == "trust"
	if os.Getenv("POSTGRES_PASSWORD") == "" && !trust {
		return nil, exitWith(1, `Error: Database is uninitialized and superuser password is not specified.
       You must specify POSTGRES_PASSWORD to a non-empty value for the
       superuser. For example, "-e POSTGRES_PASSWORD=password" on "docker run".

       You may also use "POSTGRES_HOST_AUTH_METHOD=trust" to allow all
       connections without a password. This is *not* recommended.

       See PostgreSQL documentation about "trust":
       https://www.postgresql.org/docs/current/auth-trust.html`)
	}
	user := envOr("POSTGRES_USER", "postgres")
	db := envOr("POSTGRES_DB", user)
	s.state = pgState{User: user, Password: os.Getenv("POSTGRES_PASSWORD"), Databases: []string{"postgres", "template0", "template1"}, TrustHost: trust}
	if db != "postgres" {
		s.state.Databases = append(s.state.Databases, db)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	os.WriteFile(filepath.Join(dir, "PG_VERSION"), []byte(strings.SplitN(s.version, ".", 2)[0]+"\n"), 0o600)
	if err := s.save(); err != nil {
		return nil, err
	}
	if entries, _ := os.ReadDir("/docker-entrypoint-initdb.d"); len(entries) > 0 {
		for _, e := range entries {
			logf("/usr/local/bin/docker-entrypoint.sh: ignoring /docker-entrypoint-initdb.d/%s (the stand-in does not run init scripts)", e.Name())
		}
	}
	logf("PostgreSQL init process complete; ready for start up. (user %s, database %s)", user, db)
	return s, nil
}

func (s *pgServer) save() error {
	b, _ := json.MarshalIndent(s.state, "", "  ")
	return atomicWriteFile(filepath.Join(s.dataDir, "standin-postgres.json"), b)
}

func isLoopback(addr net.Addr) bool {
	if ta, ok := addr.(*net.TCPAddr); ok {
		return ta.IP.IsLoopback()
	}
	return false
}

func (s *pgServer) handleConn(c net.Conn) {
	defer c.Close()
	logf("connection received: host=%s", c.RemoteAddr())
	enc := json.NewEncoder(c)
	enc.Encode(pgResponse{Server: pgServerName, Version: s.version, OK: true})
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	authed := false
	db := ""
	for {
		c.SetReadDeadline(time.Now().Add(5 * time.Minute))
		if !sc.Scan() {
			return
		}
		var req pgRequest
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			enc.Encode(pgResponse{Error: "FATAL:  invalid frontend message"})
			return
		}
		switch req.Op {
		case "ping":
			if unhealthy() {
				enc.Encode(pgResponse{Error: unhealthyMsg})
			} else {
				enc.Encode(pgResponse{OK: true})
			}
		case "startup":
			msg := s.authenticate(req, isLoopback(c.RemoteAddr()))
			if msg != "" {
				logf("authentication failed for %s from %s: %s", req.User, c.RemoteAddr(), msg)
				enc.Encode(pgResponse{Error: msg})
				return
			}
			authed, db = true, req.Database
			logf("connection authorized: user=%s database=%s", req.User, db)
			enc.Encode(pgResponse{OK: true})
		case "query":
			if !authed {
				enc.Encode(pgResponse{Error: "FATAL:  no startup message"})
				return
			}
			logf("statement from %s: %s", c.RemoteAddr(), req.SQL)
			enc.Encode(s.query(req.SQL, req.User, db))
		default:
			enc.Encode(pgResponse{Error: fmt.Sprintf("FATAL:  unknown operation %q", req.Op)})
			return
		}
	}
}

// authenticate returns "" when the startup request is accepted, else the
// server's error message.
func (s *pgServer) authenticate(req pgRequest, local bool) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if req.User != s.state.User {
		return fmt.Sprintf("FATAL:  role %q does not exist", req.User)
	}
	db := req.Database
	if db == "" {
		db = req.User
	}
	known := false
	for _, d := range s.state.Databases {
		known = known || d == db
	}
	if !known {
		return fmt.Sprintf("FATAL:  database %q does not exist", db)
	}
	if local || s.state.TrustHost {
		return ""
	}
	if req.Password == "" {
		return "fe_sendauth: no password supplied"
	}
	if req.Password != s.state.Password {
		return fmt.Sprintf("FATAL:  password authentication failed for user %q", req.User)
	}
	return ""
}

var (
	pgSelectRe    = regexp.MustCompile(`(?is)^select\s+(.+?)(?:\s+from\s+(\w+)(?:\s+where\s+datname\s*=\s*'([^']*)')?)?$`)
	pgCreateDBRe  = regexp.MustCompile(`(?is)^create\s+database\s+"?(\w+)"?`)
	pgAliasRe     = regexp.MustCompile(`(?is)^(.+?)\s+as\s+"?(\w+)"?$`)
	pgIntRe       = regexp.MustCompile(`^-?\d+$`)
	pgStringLitRe = regexp.MustCompile(`^'((?:[^']|'')*)'$`)
)

// query evaluates the little SQL the stand-in understands: SELECT of
// literals and a few functions, SELECT from pg_database, CREATE DATABASE.
func (s *pgServer) query(sql, user, db string) pgResponse {
	sql = strings.TrimSpace(strings.TrimRight(strings.TrimSpace(sql), ";"))
	if m := pgCreateDBRe.FindStringSubmatch(sql); m != nil {
		s.mu.Lock()
		defer s.mu.Unlock()
		name := strings.ToLower(m[1])
		for _, d := range s.state.Databases {
			if d == name {
				return pgResponse{Error: fmt.Sprintf("ERROR:  database %q already exists", name)}
			}
		}
		s.state.Databases = append(s.state.Databases, name)
		if err := s.save(); err != nil {
			return pgResponse{Error: "ERROR:  " + err.Error()}
		}
		return pgResponse{OK: true, Tag: "CREATE DATABASE"}
	}
	m := pgSelectRe.FindStringSubmatch(sql)
	if m == nil {
		word := strings.Fields(sql + " ")
		near := ""
		if len(word) > 0 {
			near = word[0]
		}
		return pgResponse{Error: fmt.Sprintf("ERROR:  syntax error at or near %q (the stand-in understands only simple SELECTs and CREATE DATABASE)", near)}
	}
	exprs := splitTopLevel(m[1], ',')
	var rowsCtx []map[string]string
	switch strings.ToLower(m[2]) {
	case "":
		rowsCtx = []map[string]string{{}}
	case "pg_database":
		s.mu.Lock()
		for _, d := range s.state.Databases {
			if m[3] == "" || m[3] == d {
				rowsCtx = append(rowsCtx, map[string]string{"datname": d})
			}
		}
		s.mu.Unlock()
	default:
		return pgResponse{Error: fmt.Sprintf("ERROR:  relation %q does not exist", m[2])}
	}
	resp := pgResponse{OK: true}
	for i, e := range exprs {
		e = strings.TrimSpace(e)
		alias := ""
		if am := pgAliasRe.FindStringSubmatch(e); am != nil {
			e, alias = strings.TrimSpace(am[1]), am[2]
		}
		col := ""
		var val func(map[string]string) string
		le := strings.ToLower(e)
		switch {
		case pgIntRe.MatchString(e):
			col, val = "?column?", func(map[string]string) string { return e }
		case pgStringLitRe.MatchString(e):
			v := strings.ReplaceAll(pgStringLitRe.FindStringSubmatch(e)[1], "''", "'")
			col, val = "?column?", func(map[string]string) string { return v }
		case le == "true" || le == "false":
			col, val = "bool", func(map[string]string) string { return le[:1] }
		case le == "version()":
			v := fmt.Sprintf("PostgreSQL %s (standin) on x86_64-pc-linux-gnu, 64-bit", s.version)
			col, val = "version", func(map[string]string) string { return v }
		case le == "current_user" || le == "user" || le == "session_user":
			col, val = le, func(map[string]string) string { return user }
		case le == "current_database()":
			col, val = "current_database", func(map[string]string) string { return db }
		case le == "now()" || le == "current_timestamp":
			col, val = le, func(map[string]string) string { return time.Now().UTC().Format("2006-01-02 15:04:05.999999-07") }
			col = strings.TrimSuffix(col, "()")
		case le == "datname" && m[2] != "":
			col, val = "datname", func(r map[string]string) string { return r["datname"] }
		case le == "*" && m[2] != "":
			col, val = "datname", func(r map[string]string) string { return r["datname"] }
		default:
			if m[2] == "" {
				return pgResponse{Error: fmt.Sprintf("ERROR:  column %q does not exist", e)}
			}
			return pgResponse{Error: fmt.Sprintf("ERROR:  column %q does not exist", e)}
		}
		if alias != "" {
			col = alias
		}
		resp.Columns = append(resp.Columns, col)
		for r := range rowsCtx {
			if i == 0 {
				resp.Rows = append(resp.Rows, nil)
			}
			resp.Rows[r] = append(resp.Rows[r], val(rowsCtx[r]))
		}
	}
	resp.Tag = fmt.Sprintf("SELECT %d", len(resp.Rows))
	return resp
}

// splitTopLevel splits s at sep outside quotes and parentheses.
func splitTopLevel(s string, sep rune) []string {
	var out []string
	depth, start := 0, 0
	inQuote := false
	for i, r := range s {
		switch {
		case r == '\'':
			inQuote = !inQuote
		case inQuote:
		case r == '(':
			depth++
		case r == ')':
			depth--
		case r == sep && depth == 0:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}
