package main

import (
	"fmt"
	"strings"
)

// A small CQL front end: a tokenizer and a parser for the statements the
// stand-in Cassandra understands.

type cqlTokKind int

const (
	tokIdent  cqlTokKind = iota // bare identifier or keyword
	tokQIdent                   // "double quoted" identifier
	tokString                   // 'single quoted' string
	tokNumber
	tokSymbol
)

type cqlTok struct {
	kind cqlTokKind
	text string // for strings and quoted identifiers: the unquoted value
}

func (t cqlTok) String() string {
	switch t.kind {
	case tokString:
		return "'" + strings.ReplaceAll(t.text, "'", "''") + "'"
	case tokQIdent:
		return `"` + t.text + `"`
	}
	return t.text
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdentChar(c byte) bool { return isIdentStart(c) || (c >= '0' && c <= '9') }

func tokenizeCQL(s string) ([]cqlTok, error) {
	var toks []cqlTok
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '-' && i+1 < len(s) && s[i+1] == '-', c == '/' && i+1 < len(s) && s[i+1] == '/':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '\'' || c == '"':
			var b strings.Builder
			j := i + 1
			closed := false
			for j < len(s) {
				if s[j] == c {
					if j+1 < len(s) && s[j+1] == c {
						b.WriteByte(c)
						j += 2
						continue
					}
					closed = true
					j++
					break
				}
				b.WriteByte(s[j])
				j++
			}
			if !closed {
				return nil, fmt.Errorf("unterminated quoted text starting at character %d", i)
			}
			kind := tokString
			if c == '"' {
				kind = tokQIdent
			}
			toks = append(toks, cqlTok{kind, b.String()})
			i = j
		case isIdentStart(c):
			j := i
			for j < len(s) && isIdentChar(s[j]) {
				j++
			}
			toks = append(toks, cqlTok{tokIdent, s[i:j]})
			i = j
		case c >= '0' && c <= '9':
			j := i
			for j < len(s) && (isIdentChar(s[j]) || s[j] == '.') {
				j++
			}
			toks = append(toks, cqlTok{tokNumber, s[i:j]})
			i = j
		default:
			toks = append(toks, cqlTok{tokSymbol, string(c)})
			i++
		}
	}
	return toks, nil
}

// splitCQLStatements splits a script at semicolons outside quotes and
// comments, dropping empty statements.
func splitCQLStatements(s string) []string {
	var out []string
	var cur strings.Builder
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case (c == '-' && i+1 < len(s) && s[i+1] == '-') || (c == '/' && i+1 < len(s) && s[i+1] == '/'):
			for i < len(s) && s[i] != '\n' {
				i++
			}
			cur.WriteByte('\n')
			continue
		case c == ';':
			if t := strings.TrimSpace(cur.String()); t != "" {
				out = append(out, t)
			}
			cur.Reset()
			continue
		}
		cur.WriteByte(c)
	}
	if t := strings.TrimSpace(cur.String()); t != "" {
		out = append(out, t)
	}
	return out
}

// cqlStmt is a parsed statement.
type cqlStmt struct {
	Kind        string // SELECT, CREATE_ROLE, ALTER_ROLE, DROP_ROLE, LIST_ROLES, DESCRIBE_KEYSPACES, DESCRIBE_TABLES, CREATE_KEYSPACE, ALTER_KEYSPACE, CREATE_TABLE, DROP_KEYSPACE, DROP_TABLE, USE, GRANT, REVOKE, DML
	IfNotExists bool
	IfExists    bool
	Name        string            // role, keyspace or table name
	Keyspace    string            // for tables; "" if unqualified
	Options     map[string]string // role options: password, superuser, login (lower-case keys)
	Columns     []string          // SELECT list; ["*"] for all
	Where       map[string]string // SELECT ... WHERE col = 'value' [AND ...]
	// Replication is a keyspace's replication_factor (CREATE/ALTER KEYSPACE), 0 when not given.
	Replication int
}

type cqlSyntaxError struct{ msg string }

func (e *cqlSyntaxError) Error() string { return e.msg }

type cqlParser struct {
	toks []cqlTok
	pos  int
}

func (p *cqlParser) peek() (cqlTok, bool) {
	if p.pos < len(p.toks) {
		return p.toks[p.pos], true
	}
	return cqlTok{}, false
}

func (p *cqlParser) errf(format string, a ...any) error {
	near := "<EOF>"
	if t, ok := p.peek(); ok {
		near = t.String()
	}
	return &cqlSyntaxError{fmt.Sprintf("line 1:%d %s (near %s)", p.pos, fmt.Sprintf(format, a...), near)}
}

// isKw reports whether the next token is the keyword kw.
func (p *cqlParser) isKw(kw string) bool {
	t, ok := p.peek()
	return ok && t.kind == tokIdent && strings.EqualFold(t.text, kw)
}

func (p *cqlParser) acceptKw(kws ...string) bool {
	save := p.pos
	for _, kw := range kws {
		if !p.isKw(kw) {
			p.pos = save
			return false
		}
		p.pos++
	}
	return true
}

func (p *cqlParser) expectKw(kws ...string) error {
	if !p.acceptKw(kws...) {
		return p.errf("expecting %s", strings.Join(kws, " "))
	}
	return nil
}

func (p *cqlParser) acceptSym(s string) bool {
	if t, ok := p.peek(); ok && t.kind == tokSymbol && t.text == s {
		p.pos++
		return true
	}
	return false
}

// ident reads an identifier: bare ones are case-insensitive (lower-cased),
// quoted ones keep their case. Role names may also be string literals.
func (p *cqlParser) ident(allowString bool) (string, error) {
	t, ok := p.peek()
	if !ok {
		return "", p.errf("expecting a name")
	}
	switch {
	case t.kind == tokIdent:
		p.pos++
		return strings.ToLower(t.text), nil
	case t.kind == tokQIdent, t.kind == tokString && allowString:
		p.pos++
		return t.text, nil
	}
	return "", p.errf("expecting a name")
}

// qualifiedName reads [keyspace.]name.
func (p *cqlParser) qualifiedName() (ks, name string, err error) {
	if name, err = p.ident(false); err != nil {
		return
	}
	if p.acceptSym(".") {
		ks = name
		name, err = p.ident(false)
	}
	return
}

// value reads an option value: a string, number, boolean or a {...} map,
// returned as text.
func (p *cqlParser) value() (string, error) {
	t, ok := p.peek()
	if !ok {
		return "", p.errf("expecting a value")
	}
	if t.kind == tokSymbol && t.text == "{" {
		start := p.pos
		depth := 0
		for ; p.pos < len(p.toks); p.pos++ {
			if p.toks[p.pos].kind == tokSymbol {
				switch p.toks[p.pos].text {
				case "{":
					depth++
				case "}":
					depth--
				}
			}
			if depth == 0 {
				p.pos++
				var parts []string
				for _, t := range p.toks[start:p.pos] {
					parts = append(parts, t.String())
				}
				return strings.Join(parts, ""), nil
			}
		}
		return "", p.errf("unbalanced {")
	}
	if t.kind == tokQIdent || t.kind == tokSymbol {
		return "", p.errf("expecting a value")
	}
	p.pos++
	return t.text, nil
}

func (p *cqlParser) atEnd() bool {
	p.acceptSym(";")
	return p.pos >= len(p.toks)
}

func (p *cqlParser) end() error {
	if !p.atEnd() {
		return p.errf("unexpected input")
	}
	return nil
}

// roleOptions reads WITH opt = value [AND opt = value ...].
func (p *cqlParser) roleOptions(st *cqlStmt) error {
	if !p.acceptKw("WITH") {
		return nil
	}
	for {
		switch {
		case p.acceptKw("HASHED", "PASSWORD"):
			return p.errf("HASHED PASSWORD is not supported by the stand-in")
		case p.acceptKw("ACCESS", "TO", "ALL", "DATACENTERS"):
		case p.acceptKw("ACCESS", "TO", "DATACENTERS"):
			if _, err := p.value(); err != nil {
				return err
			}
		default:
			name, err := p.ident(false)
			if err != nil {
				return err
			}
			if !p.acceptSym("=") {
				return p.errf("expecting =")
			}
			v, err := p.value()
			if err != nil {
				return err
			}
			switch name {
			case "password":
				if p.toks[p.pos-1].kind != tokString {
					return p.errf("PASSWORD must be a string")
				}
			case "superuser", "login":
				lv := strings.ToLower(v)
				if lv != "true" && lv != "false" {
					return p.errf("%s must be true or false", strings.ToUpper(name))
				}
				v = lv
			case "options":
			default:
				return &cqlSyntaxError{fmt.Sprintf("line 1:%d no viable alternative at input '%s'", p.pos, name)}
			}
			if _, dup := st.Options[name]; dup {
				return p.errf("multiple definitions of %s", strings.ToUpper(name))
			}
			st.Options[name] = v
		}
		if !p.acceptKw("AND") {
			return nil
		}
	}
}

// parseCQL parses one statement (without or with a trailing semicolon).
func parseCQL(s string) (*cqlStmt, error) {
	toks, err := tokenizeCQL(s)
	if err != nil {
		return nil, &cqlSyntaxError{err.Error()}
	}
	p := &cqlParser{toks: toks}
	st := &cqlStmt{Options: map[string]string{}, Where: map[string]string{}}
	switch {
	case p.acceptKw("SELECT"):
		st.Kind = "SELECT"
		if p.acceptSym("*") {
			st.Columns = []string{"*"}
		} else {
			for {
				c, err := p.ident(false)
				if err != nil {
					return nil, err
				}
				st.Columns = append(st.Columns, c)
				if !p.acceptSym(",") {
					break
				}
			}
		}
		if err := p.expectKw("FROM"); err != nil {
			return nil, err
		}
		if st.Keyspace, st.Name, err = p.qualifiedName(); err != nil {
			return nil, err
		}
		if p.acceptKw("WHERE") {
			for {
				col, err := p.ident(false)
				if err != nil {
					return nil, err
				}
				if !p.acceptSym("=") {
					return nil, p.errf("the stand-in supports only col = value conditions")
				}
				v, err := p.value()
				if err != nil {
					return nil, err
				}
				st.Where[col] = v
				if !p.acceptKw("AND") {
					break
				}
			}
		}
		if p.acceptKw("LIMIT") {
			if _, err := p.value(); err != nil {
				return nil, err
			}
		}
		p.acceptKw("ALLOW", "FILTERING")
		return st, p.end()

	case p.acceptKw("CREATE", "ROLE"), p.acceptKw("ALTER", "ROLE"):
		st.Kind = strings.ToUpper(toks[0].text) + "_ROLE"
		if st.Kind == "CREATE_ROLE" && p.acceptKw("IF", "NOT", "EXISTS") {
			st.IfNotExists = true
		}
		if st.Kind == "ALTER_ROLE" && p.acceptKw("IF", "EXISTS") {
			st.IfExists = true
		}
		if st.Name, err = p.ident(true); err != nil {
			return nil, err
		}
		if err := p.roleOptions(st); err != nil {
			return nil, err
		}
		return st, p.end()

	case p.acceptKw("CREATE", "USER"), p.acceptKw("ALTER", "USER"):
		st.Kind = strings.ToUpper(toks[0].text) + "_ROLE"
		if st.Kind == "CREATE_ROLE" {
			st.IfNotExists = p.acceptKw("IF", "NOT", "EXISTS")
			st.Options["login"] = "true"
		}
		if st.Name, err = p.ident(true); err != nil {
			return nil, err
		}
		if p.acceptKw("WITH", "PASSWORD") {
			t, ok := p.peek()
			if !ok || t.kind != tokString {
				return nil, p.errf("PASSWORD must be a string")
			}
			p.pos++
			st.Options["password"] = t.text
		}
		switch {
		case p.acceptKw("SUPERUSER"):
			st.Options["superuser"] = "true"
		case p.acceptKw("NOSUPERUSER"):
			st.Options["superuser"] = "false"
		}
		return st, p.end()

	case p.acceptKw("DROP", "ROLE"), p.acceptKw("DROP", "USER"):
		st.Kind = "DROP_ROLE"
		st.IfExists = p.acceptKw("IF", "EXISTS")
		if st.Name, err = p.ident(true); err != nil {
			return nil, err
		}
		return st, p.end()

	case p.acceptKw("LIST", "ROLES"), p.acceptKw("LIST", "USERS"):
		st.Kind = "LIST_ROLES"
		if p.acceptKw("OF") {
			if st.Name, err = p.ident(true); err != nil {
				return nil, err
			}
		}
		p.acceptKw("NORECURSIVE")
		return st, p.end()

	case p.acceptKw("DESCRIBE"), p.acceptKw("DESC"):
		switch {
		case p.acceptKw("KEYSPACES"):
			st.Kind = "DESCRIBE_KEYSPACES"
		case p.acceptKw("TABLES"):
			st.Kind = "DESCRIBE_TABLES"
		default:
			return nil, p.errf("the stand-in can DESCRIBE only KEYSPACES and TABLES")
		}
		return st, p.end()

	case p.acceptKw("CREATE", "KEYSPACE"), p.acceptKw("ALTER", "KEYSPACE"):
		st.Kind = "CREATE_KEYSPACE"
		if strings.EqualFold(p.toks[0].text, "ALTER") {
			st.Kind = "ALTER_KEYSPACE"
		} else {
			st.IfNotExists = p.acceptKw("IF", "NOT", "EXISTS")
		}
		if st.Name, err = p.ident(false); err != nil {
			return nil, err
		}
		if err := p.expectKw("WITH"); err != nil {
			return nil, err
		}
		sawReplication := false
		for !p.atEnd() {
			sawReplication = sawReplication || p.isKw("replication")
			// 'replication_factor': N
			if t := p.toks[p.pos]; t.kind == tokString && t.text == "replication_factor" && p.pos+2 < len(p.toks) {
				fmt.Sscan(strings.Trim(p.toks[p.pos+2].text, "'"), &st.Replication)
			}
			p.pos++
		}
		if !sawReplication {
			return nil, &cqlSyntaxError{"line 1:0 missing mandatory replication strategy class"}
		}
		return st, nil

	case p.acceptKw("CREATE", "TABLE"), p.acceptKw("CREATE", "COLUMNFAMILY"):
		st.Kind = "CREATE_TABLE"
		st.IfNotExists = p.acceptKw("IF", "NOT", "EXISTS")
		if st.Keyspace, st.Name, err = p.qualifiedName(); err != nil {
			return nil, err
		}
		if !p.acceptSym("(") {
			return nil, p.errf("expecting (")
		}
		depth := 1
		for ; p.pos < len(p.toks) && depth > 0; p.pos++ {
			if t := p.toks[p.pos]; t.kind == tokSymbol {
				switch t.text {
				case "(":
					depth++
				case ")":
					depth--
				}
			}
		}
		if depth != 0 {
			return nil, p.errf("unbalanced (")
		}
		for !p.atEnd() { // WITH options
			p.pos++
		}
		return st, nil

	case p.acceptKw("DROP", "KEYSPACE"):
		st.Kind = "DROP_KEYSPACE"
		st.IfExists = p.acceptKw("IF", "EXISTS")
		if st.Name, err = p.ident(false); err != nil {
			return nil, err
		}
		return st, p.end()

	case p.acceptKw("DROP", "TABLE"):
		st.Kind = "DROP_TABLE"
		st.IfExists = p.acceptKw("IF", "EXISTS")
		if st.Keyspace, st.Name, err = p.qualifiedName(); err != nil {
			return nil, err
		}
		return st, p.end()

	case p.acceptKw("USE"):
		st.Kind = "USE"
		if st.Name, err = p.ident(false); err != nil {
			return nil, err
		}
		return st, p.end()

	case p.acceptKw("GRANT"), p.acceptKw("REVOKE"):
		st.Kind = strings.ToUpper(toks[0].text)
		return st, nil

	case p.acceptKw("INSERT", "INTO"), p.acceptKw("UPDATE"), p.acceptKw("TRUNCATE"):
		st.Kind = "DML"
		p.acceptKw("TABLE")
		if st.Keyspace, st.Name, err = p.qualifiedName(); err != nil {
			return nil, err
		}
		return st, nil

	case p.acceptKw("DELETE"):
		st.Kind = "DML"
		for p.pos < len(p.toks) && !p.isKw("FROM") {
			p.pos++
		}
		if err := p.expectKw("FROM"); err != nil {
			return nil, err
		}
		if st.Keyspace, st.Name, err = p.qualifiedName(); err != nil {
			return nil, err
		}
		return st, nil
	}
	if t, ok := p.peek(); ok {
		return nil, &cqlSyntaxError{fmt.Sprintf("line 1:0 no viable alternative at input '%s' ([%s]...)", t.text, t.text)}
	}
	return nil, &cqlSyntaxError{"line 0:-1 mismatched input '<EOF>' expecting K_SELECT"}
}
