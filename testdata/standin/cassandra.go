package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The stand-in Cassandra speaks a line protocol of JSON objects on port
// 9042:
//
//	server: {"server":"standin-cassandra","version":"5.0.6","auth":true}
//	client: {"op":"login","user":"u","password":"p"}  -> {"ok":true} | {"ok":false,"message":"..."}
//	client: {"op":"exec","stmt":"LIST ROLES"}         -> a cqlResult
//
// Authentication is on iff cassandra.yaml names PasswordAuthenticator.

const cqlServerName = "standin-cassandra"

type cqlRequest struct {
	Op       string `json:"op"`
	User     string `json:"user,omitempty"`
	Password string `json:"password,omitempty"`
	Stmt     string `json:"stmt,omitempty"`
}

// cqlResult is a server answer. Kind is "rows", "void" or "text" when OK;
// otherwise Class/Code/Message describe the error as the driver would.
type cqlResult struct {
	Server  string     `json:"server,omitempty"`
	Version string     `json:"version,omitempty"`
	Auth    bool       `json:"auth,omitempty"`
	OK      bool       `json:"ok"`
	Kind    string     `json:"kind,omitempty"`
	Columns []string   `json:"columns,omitempty"`
	Rows    [][]string `json:"rows,omitempty"`
	Text    string     `json:"text,omitempty"`
	Class   string     `json:"class,omitempty"`
	Code    string     `json:"code,omitempty"`
	Message string     `json:"message,omitempty"`
}

func cqlErr(class, code, msg string) cqlResult {
	return cqlResult{Class: class, Code: code, Message: msg}
}

func invalidReq(format string, a ...any) cqlResult {
	return cqlErr("InvalidRequest", "2200", fmt.Sprintf(format, a...))
}

func unauthorized(format string, a ...any) cqlResult {
	return cqlErr("Unauthorized", "2100", fmt.Sprintf(format, a...))
}

type cqlRole struct {
	Name      string `json:"name"`
	Salt      string `json:"salt,omitempty"`
	Hash      string `json:"hash,omitempty"`
	Superuser bool   `json:"superuser"`
	Login     bool   `json:"login"`
}

func hashPassword(salt, pw string) string {
	h := sha256.Sum256([]byte(salt + "\x00" + pw))
	return hex.EncodeToString(h[:])
}

func (r *cqlRole) setPassword(pw string) {
	var b [8]byte
	rand.Read(b[:])
	r.Salt = hex.EncodeToString(b[:])
	r.Hash = hashPassword(r.Salt, pw)
}

func (r *cqlRole) checkPassword(pw string) bool {
	return r.Hash != "" && hashPassword(r.Salt, pw) == r.Hash
}

var cqlSystemKeyspaces = map[string][]string{
	"system":                {"local", "peers", "peers_v2"},
	"system_auth":           {"role_members", "role_permissions", "roles"},
	"system_distributed":    {},
	"system_schema":         {"keyspaces", "tables"},
	"system_traces":         {},
	"system_views":          {},
	"system_virtual_schema": {},
}

// cqlEngine holds the persistent state: roles and schema names.
type cqlEngine struct {
	mu         sync.Mutex
	dir        string // "" = no persistence
	authOn     bool
	authorizer bool // CassandraAuthorizer configured
	version    string
	roles      map[string]*cqlRole
	schema     map[string][]string // keyspace -> table names
	// replication is each keyspace's replication factor, when altered or created with one.
	replication map[string]int
	// ring is the cluster this node is the seed of, nil for a node alone (cassandracluster.go).
	ring  *cassandraRing
	local map[string]string // system.local
}

// cqlSession is the state of one client connection.
type cqlSession struct {
	user     string // "" when not logged in (auth off)
	keyspace string
}

func newCQLEngine(dir string, authOn, authorizer bool, version string) (*cqlEngine, error) {
	e := &cqlEngine{dir: dir, authOn: authOn, authorizer: authorizer, version: version,
		roles: map[string]*cqlRole{}, schema: map[string][]string{}}
	host, _ := os.Hostname()
	e.local = map[string]string{
		"key":                     "local",
		"release_version":         version,
		"cluster_name":            envOr("CASSANDRA_CLUSTER_NAME", "Test Cluster"),
		"data_center":             envOr("CASSANDRA_DC", "datacenter1"),
		"rack":                    envOr("CASSANDRA_RACK", "rack1"),
		"cql_version":             "3.4.7",
		"native_protocol_version": "5",
		"partitioner":             "org.apache.cassandra.dht.Murmur3Partitioner",
		"bootstrapped":            "COMPLETED",
		"host_id":                 "00000000-0000-4000-8000-" + fmt.Sprintf("%012x", len(host)),
	}
	if dir != "" {
		if err := readJSONFile(filepath.Join(dir, "standin-roles.json"), &e.roles); err != nil {
			return nil, err
		}
		if err := readJSONFile(filepath.Join(dir, "standin-schema.json"), &e.schema); err != nil {
			return nil, err
		}
		if err := readJSONFile(filepath.Join(dir, "standin-replication.json"), &e.replication); err != nil {
			return nil, err
		}
	}
	if authOn && len(e.roles) == 0 {
		r := &cqlRole{Name: "cassandra", Superuser: true, Login: true}
		r.setPassword("cassandra")
		e.roles["cassandra"] = r
		logf("Created default superuser role 'cassandra'")
		if err := e.save(); err != nil {
			return nil, err
		}
	}
	return e, nil
}

func readJSONFile(path string, v any) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("corrupt %s: %v", path, err)
	}
	return nil
}

func (e *cqlEngine) save() error {
	if e.dir == "" {
		return nil
	}
	rb, _ := json.MarshalIndent(e.roles, "", "  ")
	if err := atomicWriteFile(filepath.Join(e.dir, "standin-roles.json"), rb); err != nil {
		return err
	}
	if e.replication != nil {
		b, _ := json.MarshalIndent(e.replication, "", "  ")
		if err := atomicWriteFile(filepath.Join(e.dir, "standin-replication.json"), b); err != nil {
			return err
		}
	}
	sb, _ := json.MarshalIndent(e.schema, "", "  ")
	return atomicWriteFile(filepath.Join(e.dir, "standin-schema.json"), sb)
}

// login checks credentials; it returns "" or the server's message.
func (e *cqlEngine) login(user, pw string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	r, ok := e.roles[user]
	if !ok || !r.checkPassword(pw) {
		return fmt.Sprintf("Provided username %s and/or password are incorrect", user)
	}
	if !r.Login {
		return fmt.Sprintf("%s is not permitted to log in", user)
	}
	return ""
}

func boolText(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

// exec runs one statement for a session.
func (e *cqlEngine) exec(sess *cqlSession, text string) cqlResult {
	st, err := parseCQL(text)
	if err != nil {
		return cqlErr("SyntaxException", "2000", err.Error())
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.authOn && sess.user == "" {
		return unauthorized("You have not logged in")
	}
	switch st.Kind {
	case "SELECT":
		return e.selectStmt(sess, st)
	case "CREATE_ROLE", "ALTER_ROLE", "DROP_ROLE":
		return e.roleStmt(sess, st)
	case "LIST_ROLES":
		return e.listRoles(sess, st)
	case "DESCRIBE_KEYSPACES":
		return cqlResult{OK: true, Kind: "text", Text: "\n" + columnize(e.keyspaceNames(), 80) + "\n"}
	case "DESCRIBE_TABLES":
		var b strings.Builder
		for _, ks := range e.keyspaceNames() {
			tables := e.tablesOf(ks)
			if len(tables) == 0 {
				continue
			}
			title := "Keyspace " + ks
			fmt.Fprintf(&b, "\n%s\n%s\n%s", title, strings.Repeat("-", len(title)), columnize(tables, 80))
		}
		return cqlResult{OK: true, Kind: "text", Text: b.String() + "\n"}
	case "CREATE_KEYSPACE":
		if _, sys := cqlSystemKeyspaces[st.Name]; sys {
			return unauthorized("Cannot CREATE %s", st.Name)
		}
		if _, ok := e.schema[st.Name]; ok {
			if st.IfNotExists {
				return cqlResult{OK: true, Kind: "void"}
			}
			return cqlErr("AlreadyExists", "2400", fmt.Sprintf("Keyspace '%s' already exists", st.Name))
		}
		e.schema[st.Name] = []string{}
		if st.Replication > 0 {
			if e.replication == nil {
				e.replication = map[string]int{}
			}
			e.replication[st.Name] = st.Replication
		}
		return e.saved()
	case "ALTER_KEYSPACE":
		switch st.Name {
		case "system", "system_schema", "system_views", "system_virtual_schema":
			return unauthorized("Cannot ALTER <keyspace %s>", st.Name)
		}
		if _, ok := e.schema[st.Name]; !ok {
			if _, sys := cqlSystemKeyspaces[st.Name]; !sys {
				return invalidReq("Keyspace '%s' does not exist", st.Name)
			}
		}
		if n := e.ringSize(); st.Replication > n {
			// Cassandra takes it, with this warning: the keyspace is unwritable at QUORUM.
			logf("Your replication factor %d for keyspace %s is higher than the number of nodes %d for datacenter %s",
				st.Replication, st.Name, n, envOr("CASSANDRA_DC", "datacenter1"))
		}
		if e.replication == nil {
			e.replication = map[string]int{}
		}
		e.replication[st.Name] = st.Replication
		return e.saved()
	case "DROP_KEYSPACE":
		if _, ok := e.schema[st.Name]; !ok {
			if st.IfExists {
				return cqlResult{OK: true, Kind: "void"}
			}
			return cqlErr("ConfigurationException", "2300", fmt.Sprintf("Cannot drop non existing keyspace '%s'.", st.Name))
		}
		delete(e.schema, st.Name)
		if sess.keyspace == st.Name {
			sess.keyspace = ""
		}
		return e.saved()
	case "CREATE_TABLE", "DROP_TABLE", "DML":
		ks := st.Keyspace
		if ks == "" {
			ks = sess.keyspace
		}
		if ks == "" {
			return invalidReq("No keyspace has been specified. USE a keyspace, or explicitly specify keyspace.tablename")
		}
		tables, ok := e.schema[ks]
		if !ok {
			if _, sys := cqlSystemKeyspaces[ks]; sys {
				return unauthorized("%s keyspace is not user-modifiable.", ks)
			}
			return invalidReq("Keyspace '%s' does not exist", ks)
		}
		i := sort.SearchStrings(tables, st.Name)
		exists := i < len(tables) && tables[i] == st.Name
		switch st.Kind {
		case "CREATE_TABLE":
			if exists {
				if st.IfNotExists {
					return cqlResult{OK: true, Kind: "void"}
				}
				return cqlErr("AlreadyExists", "2400", fmt.Sprintf("Table '%s.%s' already exists", ks, st.Name))
			}
			e.schema[ks] = append(tables[:i:i], append([]string{st.Name}, tables[i:]...)...)
			return e.saved()
		case "DROP_TABLE":
			if !exists {
				if st.IfExists {
					return cqlResult{OK: true, Kind: "void"}
				}
				return invalidReq("Table '%s.%s' doesn't exist", ks, st.Name)
			}
			e.schema[ks] = append(tables[:i:i], tables[i+1:]...)
			return e.saved()
		default:
			if !exists {
				return invalidReq("unconfigured table %s", st.Name)
			}
			return cqlResult{OK: true, Kind: "void"}
		}
	case "USE":
		if _, ok := e.schema[st.Name]; !ok {
			if _, sys := cqlSystemKeyspaces[st.Name]; !sys {
				return invalidReq("Keyspace '%s' does not exist", st.Name)
			}
		}
		sess.keyspace = st.Name
		return cqlResult{OK: true, Kind: "void"}
	case "GRANT", "REVOKE":
		if !e.authorizer {
			return invalidReq("%s operation is not supported by AllowAllAuthorizer", st.Kind)
		}
		if !e.isSuper(sess) {
			return unauthorized("User %s does not have sufficient privileges to perform the requested operation", sess.user)
		}
		return cqlResult{OK: true, Kind: "void"}
	}
	return cqlErr("SyntaxException", "2000", "unsupported statement")
}

// isSuper reports whether the session may manage roles. With auth off
// everybody may (AllowAllAuthenticator).
func (e *cqlEngine) isSuper(sess *cqlSession) bool {
	if !e.authOn {
		return true
	}
	r := e.roles[sess.user]
	return r != nil && r.Superuser
}

func (e *cqlEngine) saved() cqlResult {
	if err := e.save(); err != nil {
		return cqlErr("ServerError", "0000", err.Error())
	}
	return cqlResult{OK: true, Kind: "void"}
}

func (e *cqlEngine) keyspaceNames() []string {
	var names []string
	for ks := range cqlSystemKeyspaces {
		names = append(names, ks)
	}
	for ks := range e.schema {
		names = append(names, ks)
	}
	sort.Strings(names)
	return names
}

func (e *cqlEngine) tablesOf(ks string) []string {
	if t, ok := cqlSystemKeyspaces[ks]; ok {
		return t
	}
	return e.schema[ks]
}

// ringNodes is the cluster, this node first: itself alone when it is no cluster's seed.
func (e *cqlEngine) ringNodes() []ringNode {
	if e.ring == nil {
		return []ringNode{{State: "UN", Addr: localIP(), HostID: e.local["host_id"]}}
	}
	return e.ring.list()
}

// ringSize is how many nodes the cluster has, down ones included.
func (e *cqlEngine) ringSize() int { return len(e.ringNodes()) }

// selectStmt serves the system tables the stand-in knows and returns no
// rows for user tables.
func (e *cqlEngine) selectStmt(sess *cqlSession, st *cqlStmt) cqlResult {
	ks := st.Keyspace
	if ks == "" {
		ks = sess.keyspace
	}
	if ks == "" {
		return invalidReq("No keyspace has been specified. USE a keyspace, or explicitly specify keyspace.tablename")
	}
	var all []string
	var rows []map[string]string
	switch ks + "." + st.Name {
	case "system.local":
		all = []string{"key", "bootstrapped", "cluster_name", "cql_version", "data_center", "host_id", "native_protocol_version", "partitioner", "rack", "release_version"}
		rows = []map[string]string{e.local}
	case "system.peers":
		all = []string{"peer", "data_center", "host_id", "rack", "release_version", "rpc_address"}
		for _, n := range e.ringNodes()[1:] {
			rows = append(rows, map[string]string{"peer": n.Addr, "data_center": e.local["data_center"], "host_id": n.HostID,
				"rack": e.local["rack"], "release_version": e.version, "rpc_address": n.Addr})
		}
	case "system_schema.keyspaces":
		all = []string{"keyspace_name", "durable_writes", "replication"}
		for _, k := range e.keyspaceNames() {
			rf := max(1, e.replication[k])
			rows = append(rows, map[string]string{"keyspace_name": k, "durable_writes": "True", "replication": fmt.Sprintf("{'class': 'org.apache.cassandra.locator.SimpleStrategy', 'replication_factor': '%d'}", rf)})
		}
	case "system_schema.tables":
		all = []string{"keyspace_name", "table_name"}
		for _, k := range e.keyspaceNames() {
			for _, t := range e.tablesOf(k) {
				rows = append(rows, map[string]string{"keyspace_name": k, "table_name": t})
			}
		}
	case "system_auth.roles":
		if !e.isSuper(sess) {
			return unauthorized("User %s has no SELECT permission on <table system_auth.roles> or any of its parents", sess.user)
		}
		all = []string{"role", "can_login", "is_superuser", "member_of", "salted_hash"}
		for _, n := range e.roleNames() {
			r := e.roles[n]
			rows = append(rows, map[string]string{"role": n, "can_login": boolText(r.Login), "is_superuser": boolText(r.Superuser), "member_of": "null", "salted_hash": r.Hash})
		}
	default:
		tables, ok := e.schema[ks]
		if !ok {
			if _, sys := cqlSystemKeyspaces[ks]; !sys {
				return invalidReq("keyspace %s does not exist", ks)
			}
		}
		i := sort.SearchStrings(tables, st.Name)
		if i >= len(tables) || tables[i] != st.Name {
			return invalidReq("table %s does not exist", st.Name)
		}
		cols := st.Columns
		if len(cols) == 1 && cols[0] == "*" {
			cols = nil
		}
		return cqlResult{OK: true, Kind: "rows", Columns: cols}
	}
	cols := st.Columns
	if len(cols) == 1 && cols[0] == "*" {
		cols = all
	}
	known := map[string]bool{}
	for _, c := range all {
		known[c] = true
	}
	for _, c := range cols {
		if !known[c] {
			return invalidReq("Undefined column name %s in table %s.%s", c, ks, st.Name)
		}
	}
	for c := range st.Where {
		if !known[c] {
			return invalidReq("Undefined column name %s in table %s.%s", c, ks, st.Name)
		}
	}
	res := cqlResult{OK: true, Kind: "rows", Columns: cols}
	for _, r := range rows {
		match := true
		for c, v := range st.Where {
			match = match && r[c] == v
		}
		if !match {
			continue
		}
		var out []string
		for _, c := range cols {
			out = append(out, r[c])
		}
		res.Rows = append(res.Rows, out)
	}
	return res
}

func (e *cqlEngine) roleNames() []string {
	var names []string
	for n := range e.roles {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (e *cqlEngine) roleStmt(sess *cqlSession, st *cqlStmt) cqlResult {
	_, hasPW := st.Options["password"]
	if hasPW && !e.authOn {
		return invalidReq("org.apache.cassandra.auth.CassandraRoleManager doesn't support PASSWORD")
	}
	var me *cqlRole
	if e.authOn {
		me = e.roles[sess.user]
	}
	super := e.isSuper(sess)
	target, exists := e.roles[st.Name]
	switch st.Kind {
	case "CREATE_ROLE":
		if !super {
			return unauthorized("User %s does not have sufficient privileges to perform the requested operation", sess.user)
		}
		if exists {
			if st.IfNotExists {
				return cqlResult{OK: true, Kind: "void"}
			}
			return invalidReq("%s already exists", st.Name)
		}
		r := &cqlRole{Name: st.Name, Superuser: st.Options["superuser"] == "true", Login: st.Options["login"] == "true"}
		if hasPW {
			r.setPassword(st.Options["password"])
		}
		e.roles[st.Name] = r
		logf("role %s created (superuser=%v login=%v) by %s", r.Name, r.Superuser, r.Login, sess.user)
	case "ALTER_ROLE":
		if !exists {
			if st.IfExists {
				return cqlResult{OK: true, Kind: "void"}
			}
			return invalidReq("%s doesn't exist", st.Name)
		}
		selfPasswordOnly := me != nil && me.Name == st.Name && len(st.Options) == 1 && hasPW
		if !super && !selfPasswordOnly {
			return unauthorized("User %s does not have sufficient privileges to perform the requested operation", sess.user)
		}
		if v, ok := st.Options["superuser"]; ok {
			if me != nil && me.Name == st.Name {
				return unauthorized("You aren't allowed to alter your own superuser status or that of a role granted to you")
			}
			target.Superuser = v == "true"
		}
		if v, ok := st.Options["login"]; ok {
			target.Login = v == "true"
		}
		if hasPW {
			target.setPassword(st.Options["password"])
		}
		logf("role %s altered by %s", st.Name, sess.user)
	case "DROP_ROLE":
		if !super {
			return unauthorized("User %s does not have sufficient privileges to perform the requested operation", sess.user)
		}
		if !exists {
			if st.IfExists {
				return cqlResult{OK: true, Kind: "void"}
			}
			return invalidReq("%s doesn't exist", st.Name)
		}
		if me != nil && me.Name == st.Name {
			return invalidReq("Cannot DROP primary role for current login")
		}
		delete(e.roles, st.Name)
	}
	return e.saved()
}

func (e *cqlEngine) listRoles(sess *cqlSession, st *cqlStmt) cqlResult {
	res := cqlResult{OK: true, Kind: "rows", Columns: []string{"role", "super", "login", "options", "datacenters"}}
	var me *cqlRole
	if e.authOn {
		me = e.roles[sess.user]
	}
	for _, n := range e.roleNames() {
		if st.Name != "" && n != st.Name {
			continue
		}
		if me != nil && !me.Superuser && n != me.Name {
			continue
		}
		r := e.roles[n]
		res.Rows = append(res.Rows, []string{n, boolText(r.Superuser), boolText(r.Login), "{}", "ALL"})
	}
	return res
}

// columnize lays names out in columns, column-major, like Python's
// cmd.Cmd.columnize that cqlsh uses for DESCRIBE.
func columnize(names []string, width int) string {
	if len(names) == 0 {
		return "<empty>\n"
	}
	for rows := 1; rows <= len(names); rows++ {
		cols := (len(names) + rows - 1) / rows
		var widths []int
		total := 0
		for c := 0; c < cols; c++ {
			w := 0
			for r := 0; r < rows; r++ {
				if i := c*rows + r; i < len(names) && len(names[i]) > w {
					w = len(names[i])
				}
			}
			widths = append(widths, w)
			total += w
		}
		total += 2 * (cols - 1)
		if total > width && rows < len(names) {
			continue
		}
		var b strings.Builder
		for r := 0; r < rows; r++ {
			var line []string
			for c := 0; c < cols; c++ {
				if i := c*rows + r; i < len(names) {
					line = append(line, names[i]+strings.Repeat(" ", widths[c]-len(names[i])))
				}
			}
			b.WriteString(strings.TrimRight(strings.Join(line, "  "), " ") + "\n")
		}
		return b.String()
	}
	return strings.Join(names, "\n") + "\n"
}

// ---------------------------------------------------------------------------
// The server.

func cassandraYAMLPath() string {
	return filepath.Join(envOr("CASSANDRA_CONF", "/etc/cassandra"), "cassandra.yaml")
}

func cassandraMain(args []string) int {
	dataDir := "/var/lib/cassandra"
	return runServer("cassandra", dataDir, func(ctx context.Context) error {
		maxHeap, newHeap := os.Getenv("MAX_HEAP_SIZE"), os.Getenv("HEAP_NEWSIZE")
		if (maxHeap == "") != (newHeap == "") {
			return exitWith(1, "please set or unset MAX_HEAP_SIZE and HEAP_NEWSIZE in pairs (see cassandra-env.sh)")
		}
		yaml, err := os.ReadFile(cassandraYAMLPath())
		if err != nil {
			return exitWith(3, "Cannot read the configuration: %v", err)
		}
		authOn := strings.Contains(string(yaml), "PasswordAuthenticator")
		authorizer := strings.Contains(string(yaml), "CassandraAuthorizer")
		logf("authenticator: %s, authorizer: %s", map[bool]string{true: "PasswordAuthenticator", false: "AllowAllAuthenticator"}[authOn],
			map[bool]string{true: "CassandraAuthorizer", false: "AllowAllAuthorizer"}[authorizer])
		if maxHeap != "" {
			logf("heap: MAX_HEAP_SIZE=%s HEAP_NEWSIZE=%s", maxHeap, newHeap)
		}
		delay, err := envInt("STANDIN_START_DELAY", 0)
		if err != nil {
			return exitWith(1, "%v", err)
		}
		if delay > 0 {
			logf("STANDIN_START_DELAY: not listening for %d s", delay)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(time.Duration(delay) * time.Second):
			}
		}
		port, err := envInt("CASSANDRA_NATIVE_TRANSPORT_PORT", 9042)
		if err != nil {
			return exitWith(1, "%v", err)
		}
		storage, err := envInt("CASSANDRA_STORAGE_PORT", 7000)
		if err != nil {
			return exitWith(1, "%v", err)
		}
		host, _ := os.Hostname()
		self := ringNode{Name: host, Addr: localIP(), Cluster: envOr("CASSANDRA_CLUSTER_NAME", "Test Cluster")}
		if seeds := cassandraSeeds(); !isSeed(seeds) {
			// Not a seed: join the seed's ring (cassandracluster.go), then serve its data.
			var fresh bool
			self.HostID, fresh = hostID(dataDir)
			if err := joinCluster(ctx, seeds, storage, self, fresh); err != nil {
				return err
			}
			logf("Starting listening for CQL clients on /0.0.0.0:%d (unencrypted)...", port)
			return serveTCP(ctx, fmt.Sprintf("0.0.0.0:%d", port), "cql native transport", func(c net.Conn) { relayCQL(c, seeds, port) })
		}
		e, err := newCQLEngine(dataDir, authOn, authorizer, versionPrefix(os.Getenv("STANDIN_VERSION"), "5.0.6"))
		if err != nil {
			return err
		}
		self.HostID = e.local["host_id"]
		e.ring = newCassandraRing(self)
		go serveTCP(ctx, fmt.Sprintf("0.0.0.0:%d", storage), "storage port (gossip)", e.ring.serveJoin)
		logf("Starting listening for CQL clients on /0.0.0.0:%d (unencrypted)...", port)
		return serveTCP(ctx, fmt.Sprintf("0.0.0.0:%d", port), "cql native transport", func(c net.Conn) { e.serveConn(c) })
	})
}

func (e *cqlEngine) serveConn(c net.Conn) {
	defer c.Close()
	logf("cql connection from %s", c.RemoteAddr())
	enc := json.NewEncoder(c)
	enc.Encode(cqlResult{Server: cqlServerName, Version: e.version, Auth: e.authOn, OK: true})
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	sess := &cqlSession{}
	for {
		c.SetReadDeadline(time.Now().Add(5 * time.Minute))
		if !sc.Scan() {
			return
		}
		var req cqlRequest
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			enc.Encode(cqlErr("ProtocolError", "000A", "invalid request: "+err.Error()))
			return
		}
		switch req.Op {
		case "login":
			if !e.authOn {
				enc.Encode(cqlResult{OK: true})
				continue
			}
			if msg := e.login(req.User, req.Password); msg != "" {
				logf("authentication failed for %s from %s: %s", req.User, c.RemoteAddr(), msg)
				enc.Encode(cqlErr("AuthenticationFailed", "0100", msg))
				return
			}
			sess.user = req.User
			enc.Encode(cqlResult{OK: true})
		case "exec":
			res := e.exec(sess, req.Stmt)
			status := "ok"
			if !res.OK {
				status = res.Class + ": " + res.Message
			}
			// Like the real server (no audit log by default), never echo a password.
			logf("%s@%s: %s -> %s", sess.user, c.RemoteAddr(), redactPasswords(req.Stmt), status)
			enc.Encode(res)
		case "ping":
			enc.Encode(cqlResult{OK: true})
		case "ring": // what nodetool reads over JMX, which needs no CQL login
			res := cqlResult{OK: true, Kind: "rows", Columns: []string{"state", "address", "host_id"}}
			for _, n := range e.ringNodes() {
				res.Rows = append(res.Rows, []string{n.State, n.Addr, n.HostID})
			}
			enc.Encode(res)
		default:
			enc.Encode(cqlErr("ProtocolError", "000A", "unknown op "+strconv.Quote(req.Op)))
			return
		}
	}
}

var passwordLiteral = regexp.MustCompile(`(?i)(PASSWORD\s*=\s*)'[^']*'`)

// redactPasswords hides the password literals of CREATE/ALTER ROLE statements.
func redactPasswords(stmt string) string {
	return passwordLiteral.ReplaceAllString(stmt, "$1'***'")
}
