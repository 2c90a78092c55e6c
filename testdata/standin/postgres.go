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
// (initdb's pg_hba.conf trusts local and 127.0.0.1/::1 connections, and the
// image appends "host all all all scram-sha-256" for the others); others
// must give the password of POSTGRES_USER, unless
// POSTGRES_HOST_AUTH_METHOD=trust. POSTGRES_INITDB_ARGS with --auth-host or
// --auth-local (or -A/--auth) changes the loopback lines, as initdb does.
// The stand-in has no Unix socket: the clients mark a connection that would
// use it ("socket", psql without -h) and the server applies the local line.

type pgRequest struct {
	Op       string `json:"op"`
	User     string `json:"user,omitempty"`
	Database string `json:"database,omitempty"`
	Password string `json:"password,omitempty"`
	SQL      string `json:"sql,omitempty"`
	// Socket marks a loopback connection standing in for the Unix socket.
	Socket bool `json:"socket,omitempty"`
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
	// AuthLocal and AuthHost are the methods of the local (socket) and the
	// 127.0.0.1/::1 lines of pg_hba.conf; empty means trust.
	AuthLocal string `json:"auth_local,omitempty"`
	AuthHost  string `json:"auth_host,omitempty"`
	// Alembic holds, per database, the rows of the one table the stand-in
	// keeps: alembic_version, where Airflow's `db migrate` records the
	// schema revision. A database without a key has no such table.
	Alembic map[string][]string `json:"alembic_version,omitempty"`
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
	s.state.AuthLocal, s.state.AuthHost = initdbAuth(os.Getenv("POSTGRES_INITDB_ARGS"))
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
			if notReady() {
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

// initdbAuth reads initdb's authentication options from
// POSTGRES_INITDB_ARGS: -A/--auth METHOD sets both, --auth-local and
// --auth-host one each. Empty results mean initdb's default, trust.
func initdbAuth(args string) (local, host string) {
	f := strings.Fields(args)
	for i := 0; i < len(f); i++ {
		flag, val, hasVal := strings.Cut(f[i], "=")
		if strings.HasPrefix(flag, "-A") && flag != "-A" {
			flag, val, hasVal = "-A", flag[2:], true
		}
		if !hasVal && i+1 < len(f) {
			val = f[i+1]
		}
		switch flag {
		case "-A", "--auth":
			local, host = val, val
		case "--auth-local":
			local = val
		case "--auth-host":
			host = val
		default:
			continue
		}
		if !hasVal {
			i++
		}
	}
	return local, host
}

// authenticate returns "" when the startup request is accepted, else the
// server's error message. local says whether it came from a loopback
// address.
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
	method := "scram-sha-256" // host all all all
	switch {
	case local && req.Socket:
		method = s.state.AuthLocal
	case local:
		method = s.state.AuthHost
	case s.state.TrustHost:
		method = "trust"
	}
	if method == "" || method == "trust" {
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
	pgSelectRe    = regexp.MustCompile(`(?is)^select\s+(.+?)(?:\s+from\s+(?:public\.)?(\w+)(?:\s+where\s+datname\s*=\s*'([^']*)')?)?$`)
	pgCreateDBRe  = regexp.MustCompile(`(?is)^create\s+database\s+"?(\w+)"?`)
	pgAliasRe     = regexp.MustCompile(`(?is)^(.+?)\s+as\s+"?(\w+)"?$`)
	pgIntRe       = regexp.MustCompile(`^-?\d+$`)
	pgStringLitRe = regexp.MustCompile(`^'((?:[^']|'')*)'$`)
)

// query evaluates the little SQL the stand-in understands: SELECT of
// literals and a few functions, SELECT from pg_database, CREATE DATABASE,
// and the statements Alembic runs on alembic_version.
func (s *pgServer) query(sql, user, db string) pgResponse {
	sql = strings.TrimSpace(strings.TrimRight(strings.TrimSpace(sql), ";"))
	if r, ok := s.alembicStatement(sql, db); ok {
		return r
	}
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
	tableCol := "" // the one column of the relation, for *
	switch strings.ToLower(m[2]) {
	case "":
		rowsCtx = []map[string]string{{}}
	case "pg_database":
		tableCol = "datname"
		s.mu.Lock()
		for _, d := range s.state.Databases {
			if m[3] == "" || m[3] == d {
				rowsCtx = append(rowsCtx, map[string]string{"datname": d})
			}
		}
		s.mu.Unlock()
	case "alembic_version":
		if m[3] != "" {
			return pgResponse{Error: `ERROR:  column "datname" does not exist`}
		}
		tableCol = "version_num"
		s.mu.Lock()
		rows, ok := s.state.Alembic[db]
		s.mu.Unlock()
		if !ok {
			return pgResponse{Error: fmt.Sprintf("ERROR:  relation %q does not exist", m[2])}
		}
		for _, v := range rows {
			rowsCtx = append(rowsCtx, map[string]string{"version_num": v})
		}
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
		case (le == tableCol || le == "*") && tableCol != "":
			col, val = tableCol, func(r map[string]string) string { return r[tableCol] }
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

// The statements Alembic (Airflow's `db migrate`) runs on its version table.
// alembic_version is the only table the stand-in keeps; its rows are stored
// per database in standin-postgres.json.
var (
	pgAlembicCreateRe = regexp.MustCompile(`(?is)^create\s+table\s+(if\s+not\s+exists\s+)?(?:public\.)?alembic_version\b`)
	pgAlembicDropRe   = regexp.MustCompile(`(?is)^drop\s+table\s+(if\s+exists\s+)?(?:public\.)?alembic_version$`)
	pgAlembicInsertRe = regexp.MustCompile(`(?is)^insert\s+into\s+(?:public\.)?alembic_version\s*(?:\(\s*version_num\s*\))?\s*values\s*\(\s*'([^']*)'\s*\)$`)
	pgAlembicUpdateRe = regexp.MustCompile(`(?is)^update\s+(?:public\.)?alembic_version\s+set\s+version_num\s*=\s*'([^']*)'(?:\s+where\s+(?:alembic_version\.)?version_num\s*=\s*'([^']*)')?$`)
	pgAlembicDeleteRe = regexp.MustCompile(`(?is)^delete\s+from\s+(?:public\.)?alembic_version(?:\s+where\s+(?:alembic_version\.)?version_num\s*=\s*'([^']*)')?$`)
)

// alembicStatement runs sql if it is a statement on alembic_version; ok is
// false for any other statement.
func (s *pgServer) alembicStatement(sql, db string) (resp pgResponse, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rows, exists := s.state.Alembic[db]
	noTable := pgResponse{Error: `ERROR:  relation "alembic_version" does not exist`}
	set := func(rows []string, tag string) pgResponse {
		if s.state.Alembic == nil {
			s.state.Alembic = map[string][]string{}
		}
		if rows == nil {
			rows = []string{}
		}
		s.state.Alembic[db] = rows
		if err := s.save(); err != nil {
			return pgResponse{Error: "ERROR:  " + err.Error()}
		}
		return pgResponse{OK: true, Tag: tag}
	}
	switch {
	case pgAlembicCreateRe.MatchString(sql):
		m := pgAlembicCreateRe.FindStringSubmatch(sql)
		if exists {
			if m[1] != "" {
				return pgResponse{OK: true, Tag: "CREATE TABLE"}, true
			}
			return pgResponse{Error: `ERROR:  relation "alembic_version" already exists`}, true
		}
		return set(nil, "CREATE TABLE"), true
	case pgAlembicDropRe.MatchString(sql):
		m := pgAlembicDropRe.FindStringSubmatch(sql)
		if !exists {
			if m[1] != "" {
				return pgResponse{OK: true, Tag: "DROP TABLE"}, true
			}
			return pgResponse{Error: `ERROR:  table "alembic_version" does not exist`}, true
		}
		delete(s.state.Alembic, db)
		if err := s.save(); err != nil {
			return pgResponse{Error: "ERROR:  " + err.Error()}, true
		}
		return pgResponse{OK: true, Tag: "DROP TABLE"}, true
	case pgAlembicInsertRe.MatchString(sql):
		if !exists {
			return noTable, true
		}
		v := pgAlembicInsertRe.FindStringSubmatch(sql)[1]
		for _, r := range rows {
			if r == v {
				return pgResponse{Error: `ERROR:  duplicate key value violates unique constraint "alembic_version_pkc"`}, true
			}
		}
		return set(append(append([]string{}, rows...), v), "INSERT 0 1"), true
	case pgAlembicUpdateRe.MatchString(sql):
		if !exists {
			return noTable, true
		}
		m := pgAlembicUpdateRe.FindStringSubmatch(sql)
		out, n := append([]string{}, rows...), 0
		for i, r := range out {
			if m[2] == "" || r == m[2] {
				out[i] = m[1]
				n++
			}
		}
		return set(out, fmt.Sprintf("UPDATE %d", n)), true
	case pgAlembicDeleteRe.MatchString(sql):
		if !exists {
			return noTable, true
		}
		m := pgAlembicDeleteRe.FindStringSubmatch(sql)
		var out []string
		for _, r := range rows {
			if m[1] != "" && r != m[1] {
				out = append(out, r)
			}
		}
		return set(out, fmt.Sprintf("DELETE %d", len(rows)-len(out))), true
	}
	return pgResponse{}, false
}
