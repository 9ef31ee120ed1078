package impalad

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The SQL surface is tiny and hand-parsed; see doc.go for what it accepts.

type tokKind int

const (
	tkEOF tokKind = iota
	tkIdent
	tkNumber
	tkString
	tkPunct
	tkError // the scanner failed here: parser.lexErr
)

type token struct {
	kind tokKind
	text string // identifiers lower-cased unless quoted; strings unescaped
	raw  string // the source text of the token
	pos  int
}

// lexOne reads the token of s that starts at or after byte i, past blanks
// and comments: ok is false at the end of s. The parser lexes as it goes,
// as Impala's scanner feeds its parser: a statement refused early costs no
// more than its start, and a scanner error shows once the parser gets
// there.
//
//nolint:gocognit // one case per token class of Impala's scanner (sql-scanner.flex)
func lexOne(s string, i int) (tok token, next int, ok bool, err *sqlError) {
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
			return token{tkIdent, strings.ToLower(s[i:j]), s[i:j], i}, j, true, nil
		case c == '`':
			j := strings.IndexByte(s[i+1:], '`')
			if j < 0 {
				return token{}, i, false, unmatchedString(s, i)
			}
			return token{tkIdent, strings.ToLower(s[i+1 : i+1+j]), s[i : i+2+j], i}, i + j + 2, true, nil
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
			// The scanner's Identifier ([:digit:]*[:jletter:][:jletterdigit:]*)
			// takes a word that starts with digits ("2g") when it is the
			// longer match; an equal one is a number ("1e3").
			if k := identFrom(s, i); k > j {
				return token{tkIdent, strings.ToLower(s[i:k]), s[i:k], i}, k, true, nil
			}
			return token{tkNumber, s[i:j], s[i:j], i}, j, true, nil
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
				return token{}, i, false, unmatchedString(s, i)
			}
			return token{tkString, b.String(), s[i:j], i}, j, true, nil
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			j := strings.Index(s[i+2:], "*/")
			if j < 0 {
				return token{}, i, false, syntaxError(s, i, "/", "an end of comment */")
			}
			i += j + 4
		case i+1 < len(s) && (s[i:i+2] == "<=" || s[i:i+2] == ">=" || s[i:i+2] == "!=" || s[i:i+2] == "<>"):
			return token{tkPunct, s[i : i+2], s[i : i+2], i}, i + 2, true, nil
		case strings.IndexByte("(),.*=;-+<>!/%", c) >= 0:
			return token{tkPunct, s[i : i+1], s[i : i+1], i}, i + 1, true, nil
		default:
			// As the scanner's UNEXPECTED_CHAR token.
			return token{}, i, false, syntaxError(s, i, "Unexpected character", "")
		}
	}
	return token{}, i, false, nil
}

// trailingSemicolons reports whether s from byte i holds only semicolons,
// blanks and comments: the end of the statement.
func trailingSemicolons(s string, i int) bool {
	for {
		t, next, ok, err := lexOne(s, i)
		if err != nil || !ok {
			return err == nil
		}
		if t.kind != tkPunct || t.text != ";" {
			return false
		}
		i = next
	}
}

// identFrom returns the end of the identifier that starts with digits at
// s[i], or i when there is none.
func identFrom(s string, i int) int {
	j := i
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	if j == len(s) || !isIdentStart(s[j]) {
		return i
	}
	for j < len(s) && isIdentPart(s[j]) {
		j++
	}
	return j
}

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isIdentPart(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }

// sqlError is an error a statement gets, with Impala's text and SQLSTATE.
// msg is the status message alone; the RPC that reports it adds what
// Impala adds (a newline, "Query <id> failed:").
type sqlError struct {
	msg      string
	sqlState string
	code     int32
	runtime  bool // a run-time error of an expression (udfError)
}

func (e *sqlError) Error() string { return e.msg }

func analysisError(format string, args ...any) *sqlError {
	return &sqlError{msg: "AnalysisException: " + fmt.Sprintf(format, args...), sqlState: "HY000"}
}

// unsupported is the error of SQL Impala takes and the test coordinator
// does not: a limit of the test coordinator, never a wrong answer.
func unsupported(format string, args ...any) *sqlError {
	return analysisError("not supported by the test coordinator: "+format, args...)
}

// syntaxError is the ParseException of a statement whose token at byte pos
// the grammar does not allow: SqlParser.getErrorMsg (common/cup/
// sql-parser.cup) names the line, prints it (a window of it when longer
// than 60 characters) with a caret under the token's first character, the
// token met and what was expected; Parser.parse (fe/.../analysis/
// Parser.java) throws it with the parser's exception as its cause, which
// JniUtil.throwableToString appends. The expected tokens are the test
// coordinator's own summary, not CUP's full list.
func syntaxError(stmt string, pos int, encountered, expected string) *sqlError {
	var b strings.Builder
	b.WriteString("ParseException: Syntax error in line ")
	errorLine(&b, stmt, pos)
	b.WriteString("Encountered: ")
	b.WriteString(encountered)
	b.WriteString("\nExpected: ")
	b.WriteString(expected)
	b.WriteString("\n\n\nCAUSED BY: Exception: Syntax error")
	return &sqlError{msg: b.String(), sqlState: "HY000"}
}

// unmatchedString is the ParseException of a string literal or quoted
// identifier without its closing quote (the scanner's
// UNMATCHED_STRING_LITERAL): the position only.
func unmatchedString(stmt string, pos int) *sqlError {
	var b strings.Builder
	b.WriteString("ParseException: Unmatched string literal in line ")
	errorLine(&b, stmt, pos)
	b.WriteString("\nCAUSED BY: Exception: Unmatched string literal")
	return &sqlError{msg: b.String(), sqlState: "HY000"}
}

// errorLine writes "N:\n<line>\n<caret>^\n" for the character at byte
// pos of stmt, as SqlParser.getErrorMsg: lines and columns count from 1,
// a line longer than 60 characters is cut to 27 characters either side of
// the error, with "...".
func errorLine(b *strings.Builder, stmt string, pos int) {
	pos = min(max(pos, 0), len(stmt))
	lineNo := 1 + strings.Count(stmt[:pos], "\n")
	start := strings.LastIndexByte(stmt[:pos], '\n') + 1
	end := strings.IndexByte(stmt[start:], '\n')
	if end < 0 {
		end = len(stmt)
	} else {
		end += start
	}
	line := []rune(stmt[start:end])
	right := utf8.RuneCountInString(stmt[start:pos]) + 1 // the token's 1-based column
	b.WriteString(strconv.Itoa(lineNo))
	b.WriteString(":\n")
	const maxPrint, context = 60, 60/2 - 3
	last := min(len(line), right)
	errorLoc := 0
	if len(line) <= maxPrint {
		b.WriteString(string(line))
		errorLoc = right
	} else {
		var left string
		if right > maxPrint/2 {
			left = "..." + string(line[right-context:last])
		} else {
			left = string(line[:min(right, len(line))])
		}
		errorLoc = utf8.RuneCountInString(left)
		b.WriteString(left)
		if len(line)-right > maxPrint/2 {
			b.WriteString(string(line[right:right+context]) + "...")
		} else {
			b.WriteString(string(line[last:]))
		}
	}
	b.WriteByte('\n')
	b.WriteString(strings.Repeat(" ", max(errorLoc-1, 0)))
	b.WriteString("^\n")
}

// parser walks the tokens of one statement, lexing them as it needs them.
type parser struct {
	src    string
	toks   []token // the tokens lexed so far
	pos    int     // where lexing goes on in src
	end    bool    // every token is lexed
	lexErr *sqlError
	i      int
	depth  int // nesting of the expression being parsed
}

// fill lexes tokens until toks holds n+1 of them or the statement ends.
func (p *parser) fill(n int) {
	for len(p.toks) <= n && !p.end {
		t, next, ok, err := lexOne(p.src, p.pos)
		switch {
		case err != nil:
			p.lexErr, p.end = err, true
		case !ok, t.kind == tkPunct && t.text == ";" && trailingSemicolons(p.src, next):
			p.end = true
		default:
			p.toks = append(p.toks, t)
			p.pos = next
		}
	}
}

func (p *parser) peek() token {
	p.fill(p.i)
	if p.i < len(p.toks) {
		return p.toks[p.i]
	}
	if p.lexErr != nil {
		return token{kind: tkError, pos: len(p.src)}
	}
	return token{kind: tkEOF, pos: len(p.src)}
}

// next returns the next token and moves past it (past the end too, so
// that p.i-- always steps back over it).
func (p *parser) next() token {
	t := p.peek()
	p.i++
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
	return p.unexpected(strings.ToUpper(kw))
}

// tokenName is how Impala's scanner names a token in "Encountered:"
// (SqlScanner.tokenIdMap in fe/src/main/jflex/sql-scanner.flex).
func tokenName(t token) string {
	switch t.kind {
	case tkIdent:
		if impalaKeywords[t.text] && !strings.HasPrefix(t.raw, "`") {
			return strings.ToUpper(t.text)
		}
		return "IDENTIFIER"
	case tkNumber:
		if strings.ContainsAny(t.text, ".eE") {
			return "DECIMAL LITERAL"
		}
		return "INTEGER LITERAL"
	case tkString:
		return "STRING LITERAL"
	case tkPunct:
		return t.text
	}
	return "EOF"
}

// unexpected is the syntax error at the next token; expected says what
// could have come instead.
func (p *parser) unexpected(expected string) *sqlError {
	t := p.peek()
	if t.kind == tkError {
		return p.lexErr
	}
	return syntaxError(p.src, t.pos, tokenName(t), expected)
}

func (p *parser) ident() (string, error) {
	t := p.peek()
	if t.kind != tkIdent {
		return "", p.unexpected("IDENTIFIER")
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
		return p.unexpected("EOF")
	}
	return nil
}

// stringLit parses a string literal.
func (p *parser) stringLit() (string, error) {
	t := p.peek()
	if t.kind != tkString {
		return "", p.unexpected("STRING LITERAL")
	}
	p.i++
	return t.text, nil
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
	stShowCreateTable
	stInsert
	stDescribe
	stDelete
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

// setMode is what a SET statement does (TQueryOptionType).
type setMode int

const (
	setOne   setMode = iota // SET k=v
	setShow                 // SET: the REGULAR and ADVANCED options
	setAll                  // SET ALL
	unsetAll                // UNSET ALL
)

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
	// set
	setKey   string
	setValue string
	setMode  setMode
	// DDL and DML
	db       string
	table    string
	cols     []Column
	ifExists bool // IF EXISTS / IF NOT EXISTS
	cascade  bool
	meta     tableMeta // CREATE TABLE's other clauses
	// insert
	overwrite bool
	insCols   []string   // the column permutation; nil: none
	rows      [][]*expr  // VALUES rows
	query     *statement // INSERT ... SELECT
}

// rawName is a table name as the statement wrote it ("t", "db.t"), as
// Impala quotes it in "Could not resolve ..." errors.
func rawName(db, t string) string {
	if db == "" {
		return t
	}
	return db + "." + t
}

// parse turns one SQL statement into a statement.
func parse(src string) (*statement, *sqlError) {
	p := &parser{src: src}
	if p.peek().kind == tkEOF {
		return nil, p.unexpected(statementStarts)
	}
	st, perr := p.statement()
	if perr != nil {
		var se *sqlError
		if errors.As(perr, &se) {
			return nil, se
		}
		return nil, analysisError("%s", perr.Error())
	}
	return st, nil
}

// statementStarts is what the test coordinator takes as a statement's first word.
const statementStarts = "CREATE, DELETE, DESCRIBE, DROP, INSERT, SELECT, SET, SHOW, UNSET, USE"

// setStmt parses the rest of SET (sql-parser.cup set_stmt): SET, SET ALL,
// or SET key=value where value is a number (with its sign), a string
// literal taken as written between its quotes (no escapes undone, as
// SetStmt gets it) or a word.
func (p *parser) setStmt() (*statement, error) {
	if p.peek().kind == tkEOF {
		return &statement{kind: stSet, setMode: setShow}, nil
	}
	if p.accept("all") {
		return &statement{kind: stSet, setMode: setAll}, p.done()
	}
	key, err := p.ident()
	if err != nil {
		return nil, err
	}
	if err := p.expect("="); err != nil {
		return nil, err
	}
	st := &statement{kind: stSet, setKey: key}
	neg := p.accept("-")
	t := p.next()
	switch {
	case t.kind == tkNumber:
		st.setValue = t.text
		if neg {
			st.setValue = "-" + t.text
		}
	case neg:
		p.i--
		return nil, p.unexpected("INTEGER LITERAL, DECIMAL LITERAL")
	case t.kind == tkString:
		st.setValue = t.raw[1 : len(t.raw)-1]
	case t.kind == tkIdent:
		st.setValue = t.raw
		if strings.HasPrefix(t.raw, "`") {
			st.setValue = t.raw[1 : len(t.raw)-1]
		}
	default:
		p.i--
		return nil, p.unexpected("IDENTIFIER, INTEGER LITERAL, DECIMAL LITERAL, STRING LITERAL")
	}
	// SetStmt.resolveThriftKey: the key deprecated in Impala 2.0.
	if strings.EqualFold(st.setKey, "parquet_compression_codec") {
		st.setKey = "compression_codec"
	}
	return st, p.done()
}

//nolint:gocognit // one case per statement of sql-parser.cup's stmt rule, by its first keyword
func (p *parser) statement() (*statement, error) {
	t := p.next()
	if t.kind != tkIdent {
		p.i--
		return nil, p.unexpected(statementStarts)
	}
	switch t.text {
	case "select":
		return p.selectStmt()
	case "set":
		return p.setStmt()
	case "unset":
		if err := p.expect("all"); err != nil {
			return nil, err
		}
		return &statement{kind: stSet, setMode: unsetAll}, p.done()
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
			return p.createTable(false)
		case p.accept("external"):
			if err := p.expect("table"); err != nil {
				return nil, err
			}
			return p.createTable(true)
		}
		return nil, p.unexpected("DATABASE, EXTERNAL, SCHEMA, TABLE")
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
		return nil, p.unexpected("DATABASE, SCHEMA, TABLE")
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
		case p.accept("create"):
			if err := p.expect("table"); err != nil {
				return nil, err
			}
			db, tbl, err := p.tableName()
			if err != nil {
				return nil, err
			}
			return &statement{kind: stShowCreateTable, db: db, table: tbl}, p.done()
		}
		return nil, p.unexpected("CREATE, DATABASES, SCHEMAS, TABLES")
	case "describe", "desc":
		db, tbl, err := p.tableName()
		if err != nil {
			return nil, err
		}
		return &statement{kind: stDescribe, db: db, table: tbl}, p.done()
	case "insert":
		return p.insert()
	case "delete":
		return p.deleteStmt()
	}
	p.i--
	return nil, p.unexpected(statementStarts)
}

// insert parses INSERT INTO|OVERWRITE [TABLE] [db.]t [(col, ...)]
// VALUES (...), ... | SELECT ...
func (p *parser) insert() (*statement, error) {
	st := &statement{kind: stInsert}
	switch {
	case p.accept("into"):
	case p.accept("overwrite"):
		st.overwrite = true
	default:
		return nil, p.unexpected("INTO, OVERWRITE")
	}
	p.accept("table")
	db, tbl, err := p.tableName()
	if err != nil {
		return nil, err
	}
	st.db, st.table = db, tbl
	if p.accept("(") {
		st.insCols = []string{}
		if !p.accept(")") {
			for {
				c, err := p.ident()
				if err != nil {
					return nil, err
				}
				st.insCols = append(st.insCols, c)
				if !p.accept(",") {
					break
				}
			}
			if err := p.expect(")"); err != nil {
				return nil, err
			}
		}
	}
	if p.isKw("partition") {
		return nil, unsupported("PARTITION clause")
	}
	if p.accept("select") {
		q, err := p.selectStmt()
		if err != nil {
			return nil, err
		}
		st.query = q
		return st, nil
	}
	if !p.accept("values") {
		return nil, p.unexpected("SELECT, VALUES")
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

// tableMeta is what CREATE TABLE says of a table besides its columns, for
// SHOW CREATE TABLE and DESCRIBE.
type tableMeta struct {
	external    bool
	comment     string // the table's COMMENT; empty: none
	colComments []string
	format      string // STORED AS, as HdfsFileFormat.toSql prints it
	location    string // LOCATION; empty: the warehouse's
	fieldsTerm  string // ROW FORMAT DELIMITED FIELDS TERMINATED BY
	linesTerm   string // LINES TERMINATED BY
	escapedBy   string // ESCAPED BY
	props       [][2]string
}

// storedAs maps STORED AS's file formats to how HdfsFileFormat.toSql prints
// them (fe/.../catalog/HdfsFileFormat.java).
var storedAs = map[string]string{
	"textfile": "TEXTFILE", "parquet": "PARQUET", "parquetfile": "PARQUET", "avro": "AVRO",
	"sequencefile": "SEQUENCEFILE", "rcfile": "RCFILE", "orc": "ORC", "jsonfile": "JSONFILE",
	"iceberg": "ICEBERG", // an Iceberg table (THdfsFileFormat.ICEBERG), see iceberg.go
}

func (p *parser) createTable(external bool) (*statement, error) {
	st := &statement{kind: stCreateTable, meta: tableMeta{external: external}}
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
	if p.isKw("like") || p.isKw("as") {
		return nil, unsupported("CREATE TABLE %s", strings.ToUpper(p.peek().text))
	}
	if err := p.expect("("); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for {
		if p.isKw("primary") || p.isKw("foreign") || p.isKw("constraint") {
			return nil, unsupported("PRIMARY KEY and FOREIGN KEY constraints")
		}
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
		comment := ""
		if p.accept("comment") {
			if comment, err = p.stringLit(); err != nil {
				return nil, err
			}
		}
		st.cols = append(st.cols, Column{Name: name, Type: typ})
		st.meta.colComments = append(st.meta.colComments, comment)
		if !p.accept(",") {
			break
		}
	}
	if err := p.expect(")"); err != nil {
		return nil, err
	}
	return st, p.tableClauses(&st.meta)
}

// tableClauses parses CREATE TABLE's clauses after the columns, in the
// grammar's order (sql-parser.cup tbl_def_with_col_defs): the ones the
// test coordinator keeps, and an error for the ones it does not take.
//
//nolint:gocognit // CREATE TABLE's clauses in sql-parser.cup's order
func (p *parser) tableClauses(m *tableMeta) error {
	var err error
	if p.isKw("partitioned") || p.isKw("sort") || p.isKw("clustered") {
		return unsupported("%s BY", strings.ToUpper(p.peek().text))
	}
	if p.accept("comment") {
		if m.comment, err = p.stringLit(); err != nil {
			return err
		}
	}
	if p.accept("row") {
		if err := p.expect("format"); err != nil {
			return err
		}
		if err := p.expect("delimited"); err != nil {
			return err
		}
		if p.accept("fields") {
			if err := p.expectTerminated(); err != nil {
				return err
			}
			if m.fieldsTerm, err = p.stringLit(); err != nil {
				return err
			}
			if p.accept("escaped") {
				if err := p.expect("by"); err != nil {
					return err
				}
				if m.escapedBy, err = p.stringLit(); err != nil {
					return err
				}
			}
		}
		if p.accept("lines") {
			if err := p.expectTerminated(); err != nil {
				return err
			}
			if m.linesTerm, err = p.stringLit(); err != nil {
				return err
			}
		}
	}
	if p.accept("stored") {
		if err := p.expect("as"); err != nil {
			return err
		}
		f, err := p.ident()
		if err != nil {
			return err
		}
		if m.format = storedAs[f]; m.format == "" {
			return unsupported("STORED AS %s", strings.ToUpper(f))
		}
	}
	if p.accept("location") {
		if m.location, err = p.stringLit(); err != nil {
			return err
		}
	}
	if p.isKw("cached") || p.isKw("uncached") {
		return unsupported("%s", strings.ToUpper(p.peek().text))
	}
	if p.accept("tblproperties") {
		if err := p.expect("("); err != nil {
			return err
		}
		for {
			k, err := p.stringLit()
			if err != nil {
				return err
			}
			if err := p.expect("="); err != nil {
				return err
			}
			v, err := p.stringLit()
			if err != nil {
				return err
			}
			m.props = append(m.props, [2]string{k, v})
			if !p.accept(",") {
				break
			}
		}
		if err := p.expect(")"); err != nil {
			return err
		}
	}
	return p.done()
}

func (p *parser) expectTerminated() error {
	if err := p.expect("terminated"); err != nil {
		return err
	}
	return p.expect("by")
}

// typeName parses a type as sql-parser.cup's type rule does: VARCHAR
// without a length is STRING, DECIMAL alone is DECIMAL(9,0).
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
				return Type{}, p.unexpected("INTEGER LITERAL")
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
	if name == "varchar" && params == nil {
		return Type{Kind: String}, nil
	}
	t, terr := parseTypeName(name, params)
	if terr != nil {
		return Type{}, analysisError("%s", terr.Error())
	}
	return t, nil
}

//nolint:gocognit // select_stmt's clauses in sql-parser.cup's order
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
			} else if t := p.peek(); t.kind == tkIdent && (!exprKeywords[t.text] && !impalaKeywords[t.text] || strings.HasPrefix(t.raw, "`")) {
				// An alias without AS; a keyword cannot be one.
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
		} else if t := p.peek(); t.kind == tkIdent && (!exprKeywords[t.text] && !impalaKeywords[t.text] || strings.HasPrefix(t.raw, "`")) {
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
					return nil, p.unexpected("FIRST, LAST")
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
			return nil, p.unexpected("INTEGER LITERAL")
		}
		st.limit = n
	}
	return st, p.done()
}
