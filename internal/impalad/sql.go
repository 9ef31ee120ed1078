package impalad

import (
	"fmt"
	"strconv"
	"strings"
)

// The SQL surface is tiny and hand-parsed; see doc.go for what it accepts.

type tokKind int

const (
	tkEOF tokKind = iota
	tkIdent
	tkNumber
	tkString
	tkPunct
)

type token struct {
	kind tokKind
	text string // identifiers lower-cased unless quoted; strings unescaped
	raw  string // the source text of the token
	pos  int
}

// lex splits a statement into tokens. A trailing semicolon is dropped.
func lex(s string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '-' && i+1 < len(s) && s[i+1] == '-':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case isIdentStart(c):
			j := i
			for j < len(s) && isIdentPart(s[j]) {
				j++
			}
			toks = append(toks, token{tkIdent, strings.ToLower(s[i:j]), s[i:j], i})
			i = j
		case c == '`':
			j := strings.IndexByte(s[i+1:], '`')
			if j < 0 {
				return nil, syntaxError(s, i, "unterminated quoted identifier")
			}
			toks = append(toks, token{tkIdent, strings.ToLower(s[i+1 : i+1+j]), s[i : i+2+j], i})
			i += j + 2
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			j := i
			for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == '.') {
				j++
			}
			if j < len(s) && (s[j] == 'e' || s[j] == 'E') {
				k := j + 1
				if k < len(s) && (s[k] == '+' || s[k] == '-') {
					k++
				}
				if k < len(s) && s[k] >= '0' && s[k] <= '9' {
					j = k
					for j < len(s) && s[j] >= '0' && s[j] <= '9' {
						j++
					}
				}
			}
			toks = append(toks, token{tkNumber, s[i:j], s[i:j], i})
			i = j
		case c == '\'' || c == '"':
			var b strings.Builder
			j := i + 1
			closed := false
			for j < len(s) {
				if s[j] == '\\' && j+1 < len(s) {
					switch s[j+1] {
					case 'n':
						b.WriteByte('\n')
					case 't':
						b.WriteByte('\t')
					default:
						b.WriteByte(s[j+1])
					}
					j += 2
					continue
				}
				if s[j] == c {
					closed = true
					j++
					break
				}
				b.WriteByte(s[j])
				j++
			}
			if !closed {
				return nil, syntaxError(s, i, "unterminated string literal")
			}
			toks = append(toks, token{tkString, b.String(), s[i:j], i})
			i = j
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			j := strings.Index(s[i+2:], "*/")
			if j < 0 {
				return nil, syntaxError(s, i, "unterminated comment")
			}
			i += j + 4
		case i+1 < len(s) && (s[i:i+2] == "<=" || s[i:i+2] == ">=" || s[i:i+2] == "!=" || s[i:i+2] == "<>"):
			toks = append(toks, token{tkPunct, s[i : i+2], s[i : i+2], i})
			i += 2
		case strings.IndexByte("(),.*=;-+<>!/%", c) >= 0:
			toks = append(toks, token{tkPunct, string(c), string(c), i})
			i++
		default:
			return nil, syntaxError(s, i, fmt.Sprintf("unexpected character %q", c))
		}
	}
	for len(toks) > 0 && toks[len(toks)-1].kind == tkPunct && toks[len(toks)-1].text == ";" {
		toks = toks[:len(toks)-1]
	}
	return toks, nil
}

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isIdentPart(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }

// sqlError is an error a statement gets, with Impala's text and SQLSTATE.
type sqlError struct {
	msg      string
	sqlState string
	code     int32
}

func (e *sqlError) Error() string { return e.msg }

func analysisError(format string, args ...any) *sqlError {
	return &sqlError{msg: "AnalysisException: " + fmt.Sprintf(format, args...), sqlState: "HY000"}
}

func syntaxError(stmt string, pos int, what string) *sqlError {
	line := stmt
	if pos > len(line) {
		pos = len(line)
	}
	return &sqlError{
		msg: fmt.Sprintf("ParseException: Syntax error in line 1:\n%s\n%s^\n%s\n",
			line, strings.Repeat(" ", pos), what),
		sqlState: "HY000",
	}
}

// parser walks the tokens of one statement.
type parser struct {
	src   string
	toks  []token
	i     int
	depth int // nesting of the expression being parsed
}

func (p *parser) peek() token {
	if p.i < len(p.toks) {
		return p.toks[p.i]
	}
	return token{kind: tkEOF, pos: len(p.src)}
}

func (p *parser) next() token {
	t := p.peek()
	if p.i < len(p.toks) {
		p.i++
	}
	return t
}

// isKw reports whether the next token is the keyword (or punctuation) kw.
func (p *parser) isKw(kw string) bool {
	t := p.peek()
	return (t.kind == tkIdent || t.kind == tkPunct) && t.text == kw && !strings.HasPrefix(t.raw, "`")
}

func (p *parser) accept(kw string) bool {
	if p.isKw(kw) {
		p.i++
		return true
	}
	return false
}

func (p *parser) expect(kw string) error {
	if p.accept(kw) {
		return nil
	}
	return p.unexpected("expected " + strings.ToUpper(kw))
}

func (p *parser) unexpected(what string) *sqlError {
	t := p.peek()
	enc := "EOF"
	switch t.kind {
	case tkIdent:
		enc = "IDENTIFIER"
	case tkNumber:
		enc = "INTEGER LITERAL"
	case tkString:
		enc = "STRING LITERAL"
	case tkPunct:
		enc = t.text
	}
	return syntaxError(p.src, t.pos, "Encountered: "+enc+"\n"+what)
}

func (p *parser) ident() (string, error) {
	t := p.peek()
	if t.kind != tkIdent {
		return "", p.unexpected("expected an identifier")
	}
	p.i++
	return t.text, nil
}

// tableName parses [db.]name.
func (p *parser) tableName() (db, name string, err error) {
	a, err := p.ident()
	if err != nil {
		return "", "", err
	}
	if p.accept(".") {
		b, err := p.ident()
		if err != nil {
			return "", "", err
		}
		return a, b, nil
	}
	return "", a, nil
}

func (p *parser) done() error {
	if p.peek().kind != tkEOF {
		return p.unexpected("expected end of statement")
	}
	return nil
}

// Statement kinds.
type stmtKind int

const (
	stSelect stmtKind = iota
	stSet
	stUse
	stCreateDB
	stDropDB
	stCreateTable
	stDropTable
	stShowTables
	stShowDBs
	stInsert
	stDescribe
)

type selectItem struct {
	e     *expr
	alias string
}

// orderKey is one ORDER BY key.
type orderKey struct {
	e          *expr
	desc       bool
	nullsFirst bool // Impala's default: NULLS LAST ascending, NULLS FIRST descending
}

type statement struct {
	kind stmtKind
	// select
	items    []selectItem
	fromDB   string
	from     string
	hasFrom  bool
	where    *expr
	groupBy  []*expr
	distinct bool // SELECT DISTINCT
	having   *expr
	order    []orderKey
	limit    int64 // -1: none
	setKey   string
	setValue string
	setAll   bool
	db       string
	table    string
	cols     []Column
	ifExists bool // IF EXISTS / IF NOT EXISTS
	rows     [][]*expr
	cascade  bool
}

// parse turns one SQL statement into a statement.
func parse(src string) (*statement, *sqlError) {
	trimmed := strings.TrimSpace(src)
	if st, ok, err := parseSet(trimmed); ok {
		return st, err
	}
	toks, err := lex(src)
	if err != nil {
		return nil, err.(*sqlError)
	}
	p := &parser{src: src, toks: toks}
	if len(toks) == 0 {
		return nil, syntaxError(src, 0, "Encountered: EOF\nexpected a statement")
	}
	st, perr := p.statement()
	if perr != nil {
		if se, ok := perr.(*sqlError); ok {
			return nil, se
		}
		return nil, analysisError("%s", perr.Error())
	}
	return st, nil
}

// parseSet handles SET, whose value is free text.
func parseSet(s string) (*statement, bool, *sqlError) {
	if len(s) < 3 || !strings.EqualFold(s[:3], "set") || len(s) > 3 && isIdentPart(s[3]) {
		return nil, false, nil
	}
	rest := strings.TrimSuffix(strings.TrimSpace(s[3:]), ";")
	rest = strings.TrimSpace(rest)
	if rest == "" || strings.EqualFold(rest, "all") {
		return &statement{kind: stSet, setAll: true}, true, nil
	}
	k, v, ok := strings.Cut(rest, "=")
	if !ok {
		return nil, true, syntaxError(s, len(s), "Encountered: EOF\nexpected =")
	}
	k = strings.ToLower(strings.TrimSpace(k))
	v = strings.TrimSpace(v)
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		v = v[1 : len(v)-1]
	}
	if k == "" {
		return nil, true, syntaxError(s, 4, "Encountered: =\nexpected an option name")
	}
	return &statement{kind: stSet, setKey: k, setValue: v}, true, nil
}

func (p *parser) statement() (*statement, error) {
	t := p.next()
	if t.kind != tkIdent {
		p.i--
		return nil, p.unexpected("expected a statement")
	}
	switch t.text {
	case "select":
		return p.selectStmt()
	case "use":
		db, err := p.ident()
		if err != nil {
			return nil, err
		}
		return &statement{kind: stUse, db: db}, p.done()
	case "create":
		switch {
		case p.accept("database"), p.accept("schema"):
			st := &statement{kind: stCreateDB}
			if p.accept("if") {
				if err := p.expect("not"); err != nil {
					return nil, err
				}
				if err := p.expect("exists"); err != nil {
					return nil, err
				}
				st.ifExists = true
			}
			db, err := p.ident()
			if err != nil {
				return nil, err
			}
			st.db = db
			return st, p.done()
		case p.accept("table"):
			return p.createTable()
		}
		return nil, p.unexpected("expected DATABASE or TABLE")
	case "drop":
		switch {
		case p.accept("database"), p.accept("schema"):
			st := &statement{kind: stDropDB}
			if p.accept("if") {
				if err := p.expect("exists"); err != nil {
					return nil, err
				}
				st.ifExists = true
			}
			db, err := p.ident()
			if err != nil {
				return nil, err
			}
			st.db = db
			st.cascade = p.accept("cascade")
			if !st.cascade {
				p.accept("restrict")
			}
			return st, p.done()
		case p.accept("table"):
			st := &statement{kind: stDropTable}
			if p.accept("if") {
				if err := p.expect("exists"); err != nil {
					return nil, err
				}
				st.ifExists = true
			}
			db, tbl, err := p.tableName()
			if err != nil {
				return nil, err
			}
			st.db, st.table = db, tbl
			p.accept("purge")
			return st, p.done()
		}
		return nil, p.unexpected("expected DATABASE or TABLE")
	case "show":
		switch {
		case p.accept("tables"):
			st := &statement{kind: stShowTables}
			if p.accept("in") {
				db, err := p.ident()
				if err != nil {
					return nil, err
				}
				st.db = db
			}
			return st, p.done()
		case p.accept("databases"), p.accept("schemas"):
			return &statement{kind: stShowDBs}, p.done()
		}
		return nil, p.unexpected("expected TABLES or DATABASES")
	case "describe", "desc":
		db, tbl, err := p.tableName()
		if err != nil {
			return nil, err
		}
		return &statement{kind: stDescribe, db: db, table: tbl}, p.done()
	case "insert":
		if !p.accept("into") {
			if err := p.expect("overwrite"); err != nil {
				return nil, err
			}
		}
		p.accept("table")
		db, tbl, err := p.tableName()
		if err != nil {
			return nil, err
		}
		st := &statement{kind: stInsert, db: db, table: tbl}
		if err := p.expect("values"); err != nil {
			return nil, err
		}
		for {
			if err := p.expect("("); err != nil {
				return nil, err
			}
			var row []*expr
			for {
				e, err := p.expr()
				if err != nil {
					return nil, err
				}
				row = append(row, e)
				if !p.accept(",") {
					break
				}
			}
			if err := p.expect(")"); err != nil {
				return nil, err
			}
			st.rows = append(st.rows, row)
			if !p.accept(",") {
				break
			}
		}
		return st, p.done()
	}
	p.i--
	return nil, p.unexpected("expected a statement")
}

func (p *parser) createTable() (*statement, error) {
	st := &statement{kind: stCreateTable}
	if p.accept("if") {
		if err := p.expect("not"); err != nil {
			return nil, err
		}
		if err := p.expect("exists"); err != nil {
			return nil, err
		}
		st.ifExists = true
	}
	db, tbl, err := p.tableName()
	if err != nil {
		return nil, err
	}
	st.db, st.table = db, tbl
	if err := p.expect("("); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for {
		name, err := p.ident()
		if err != nil {
			return nil, err
		}
		typ, err := p.typeName()
		if err != nil {
			return nil, err
		}
		if seen[name] {
			return nil, analysisError("Duplicate column name: %s", name)
		}
		seen[name] = true
		st.cols = append(st.cols, Column{Name: name, Type: typ})
		if p.accept("comment") {
			if p.next().kind != tkString {
				p.i--
				return nil, p.unexpected("expected a string")
			}
		}
		if !p.accept(",") {
			break
		}
	}
	if err := p.expect(")"); err != nil {
		return nil, err
	}
	// Storage clauses (STORED AS ..., TBLPROPERTIES ...) are accepted and ignored.
	p.i = len(p.toks)
	return st, nil
}

func (p *parser) typeName() (Type, error) {
	name, err := p.ident()
	if err != nil {
		return Type{}, err
	}
	var params []int
	if p.accept("(") {
		for {
			t := p.next()
			if t.kind != tkNumber {
				p.i--
				return Type{}, p.unexpected("expected an integer")
			}
			n, err := strconv.Atoi(t.text)
			if err != nil {
				return Type{}, analysisError("invalid type parameter %s", t.text)
			}
			params = append(params, n)
			if !p.accept(",") {
				break
			}
		}
		if err := p.expect(")"); err != nil {
			return Type{}, err
		}
	}
	t, terr := parseTypeName(name, params)
	if terr != nil {
		return Type{}, analysisError("%s", terr.Error())
	}
	return t, nil
}

func (p *parser) selectStmt() (*statement, error) {
	st := &statement{kind: stSelect, limit: -1}
	if !p.accept("all") {
		st.distinct = p.accept("distinct")
	}
	for {
		if p.accept("*") {
			st.items = append(st.items, selectItem{e: &expr{kind: "star", label: "*"}})
		} else {
			e, err := p.expr()
			if err != nil {
				return nil, err
			}
			item := selectItem{e: e}
			if p.accept("as") {
				a, err := p.ident()
				if err != nil {
					return nil, err
				}
				item.alias = a
			} else if t := p.peek(); t.kind == tkIdent && (!exprKeywords[t.text] || strings.HasPrefix(t.raw, "`")) {
				item.alias = t.text
				p.i++
			}
			st.items = append(st.items, item)
		}
		if !p.accept(",") {
			break
		}
	}
	if p.accept("from") {
		db, tbl, err := p.tableName()
		if err != nil {
			return nil, err
		}
		st.hasFrom, st.fromDB, st.from = true, db, tbl
		// A table alias is accepted and ignored.
		if p.accept("as") {
			if _, err := p.ident(); err != nil {
				return nil, err
			}
		} else if t := p.peek(); t.kind == tkIdent && !exprKeywords[t.text] {
			p.i++
		}
	}
	if p.accept("where") {
		w, err := p.expr()
		if err != nil {
			return nil, err
		}
		st.where = w
	}
	if p.accept("group") {
		if err := p.expect("by"); err != nil {
			return nil, err
		}
		for {
			e, err := p.expr()
			if err != nil {
				return nil, err
			}
			st.groupBy = append(st.groupBy, e)
			if !p.accept(",") {
				break
			}
		}
	}
	if p.accept("having") {
		h, err := p.expr()
		if err != nil {
			return nil, err
		}
		st.having = h
	}
	if p.accept("order") {
		if err := p.expect("by"); err != nil {
			return nil, err
		}
		for {
			e, err := p.expr()
			if err != nil {
				return nil, err
			}
			k := orderKey{e: e}
			if p.accept("desc") {
				k.desc = true
			} else {
				p.accept("asc")
			}
			k.nullsFirst = k.desc
			if p.accept("nulls") {
				switch {
				case p.accept("first"):
					k.nullsFirst = true
				case p.accept("last"):
					k.nullsFirst = false
				default:
					return nil, p.unexpected("expected FIRST or LAST")
				}
			}
			st.order = append(st.order, k)
			if !p.accept(",") {
				break
			}
		}
	}
	if p.accept("limit") {
		t := p.next()
		n, err := strconv.ParseInt(t.text, 10, 64)
		if t.kind != tkNumber || err != nil || n < 0 {
			p.i--
			return nil, p.unexpected("expected a non-negative integer")
		}
		st.limit = n
	}
	return st, p.done()
}
