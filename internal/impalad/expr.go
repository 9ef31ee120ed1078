package impalad

import (
	"strconv"
	"strings"
)

// Expressions: parsed by the parser below into an expr tree, typed and
// resolved against a FROM table by analyze (expr_analyze.go), evaluated per
// row by eval (expr_eval.go).
//
// A statement's memory stays proportional to its text: the parser refuses
// a tree deeper than Impala allows as soon as it is built that deep, an IN
// list is one node with its values, and an expression's label (Impala's
// column label, the lower-cased SQL) is rendered only when it is needed
// (sql), never stored per node.

// expr is a scalar expression of a select list, a WHERE clause, an ORDER BY
// key or a VALUES row.
type expr struct {
	// kind is one of "lit", "col", "star", "sleep", "fail", "bin" (op: + - *
	// / % div = != < <= > >= and or), "not", "isnull" (op: "is null" or "is
	// not null"), "cast", "func" (name, args), "agg" (name; args empty for
	// count(*)), "like" (args: value, pattern), "in" (args: value, list...),
	// "between" (args: value, low, high).
	kind   string
	typ    Type
	val    any
	arg    *expr
	args   []*expr
	op     string
	name   string // column name for "col", function name for "func" and "agg"
	label  string // the label of a leaf: "lit", "col", "sleep", "fail"
	parens bool   // written in parentheses
	depth  int    // levels of the tree below and with this node
	millis int64
	// intLit marks an integer literal: in DECIMAL arithmetic it counts as
	// DECIMAL(digits,0), as in Impala.
	intLit bool
	// null marks the NULL literal (typed BOOLEAN until its context gives it a type).
	null bool
	// folded marks a constant expression analyze evaluated: val is its
	// value, its children stay for its label.
	folded bool
	// col is the index of a "col" in its table, set by analyze.
	col int
	// cmp is the comparison class of a comparison "bin", cmps those of the
	// value of an "in" or "between" with each other operand; set by
	// analyze.
	cmp  cmpClass
	cmps []cmpClass
	// fn evaluates a "func" over its argument values, set by analyze.
	fn func(args []any) any
	// argTypes are the types the arguments of a "func" are converted to
	// before fn sees them (nil: as they are).
	argTypes []Type
	// agg is the running state of an "agg" over the rows of the statement.
	agg *aggState
}

// isValue reports whether e's value is known without a row: a literal or a
// folded constant.
func (e *expr) isValue() bool { return e.kind == "lit" || e.folded }

// children returns e's operands.
func (e *expr) children() []*expr {
	if e.arg != nil {
		return []*expr{e.arg}
	}
	return e.args
}

// sql returns e's label: its SQL as Impala prints it (Expr.toSql), lower
// case, as Impala labels a select-list column.
func (e *expr) sql() string {
	var b strings.Builder
	e.writeSQL(&b)
	return b.String()
}

func (e *expr) writeSQL(b *strings.Builder) {
	if e.parens {
		b.WriteByte('(')
		defer b.WriteByte(')')
	}
	list := func(es []*expr) {
		for i, a := range es {
			if i > 0 {
				b.WriteString(", ")
			}
			a.writeSQL(b)
		}
	}
	switch e.kind {
	case "bin":
		e.args[0].writeSQL(b)
		b.WriteString(" " + e.op + " ")
		e.args[1].writeSQL(b)
	case "not":
		// Impala prints the negation inside: "x NOT IN (...)".
		switch a := e.arg; {
		case !a.parens && (a.kind == "in" || a.kind == "between" || a.kind == "like"):
			a.writePredicate(b, "not ")
		default:
			b.WriteString("not ")
			a.writeSQL(b)
		}
	case "isnull":
		e.arg.writeSQL(b)
		b.WriteString(" " + e.op)
	case "cast":
		b.WriteString("cast(")
		e.arg.writeSQL(b)
		b.WriteString(" as " + e.typ.String() + ")")
	case "func", "agg":
		b.WriteString(e.name + "(")
		switch e.op {
		case "*":
			b.WriteByte('*')
		case "distinct":
			b.WriteString("distinct ")
			list(e.args)
		default:
			list(e.args)
		}
		b.WriteByte(')')
	case "like", "in", "between":
		e.writePredicate(b, "")
	default:
		b.WriteString(e.label)
	}
}

// writePredicate writes LIKE, IN or BETWEEN, with not ("not " or "")
// before the keyword.
func (e *expr) writePredicate(b *strings.Builder, not string) {
	e.args[0].writeSQL(b)
	switch e.kind {
	case "like":
		b.WriteString(" " + not + "like ")
		e.args[1].writeSQL(b)
	case "between":
		b.WriteString(" " + not + "between ")
		e.args[1].writeSQL(b)
		b.WriteString(" and ")
		e.args[2].writeSQL(b)
	case "in":
		b.WriteString(" " + not + "in (")
		for i, a := range e.args[1:] {
			if i > 0 {
				b.WriteString(", ")
			}
			a.writeSQL(b)
		}
		b.WriteByte(')')
	}
}

// exprKeywords end an expression: an identifier among them is never taken
// as a select-list alias.
var exprKeywords = map[string]bool{
	"from": true, "where": true, "limit": true, "order": true, "group": true, "having": true,
	"and": true, "or": true, "not": true, "is": true, "as": true, "asc": true, "desc": true,
	"nulls": true, "offset": true, "union": true, "by": true, "div": true, "in": true,
	"like": true, "between": true, "join": true, "on": true,
}

// Impala's bounds on an expression tree (Expr.java): its depth, and the
// operands of one node.
const (
	maxTreeDepth = 1000
	maxChildren  = 10000
)

// depthError is Expr.analyze's error for a tree deeper than maxTreeDepth.
func depthError() *sqlError {
	return analysisError("Exceeded the maximum depth of an expression tree (%d).", maxTreeDepth)
}

// node finishes a composite expression: its depth, checked against
// Impala's limit while the statement is parsed, so that no statement can
// build a deeper tree (or make the analyzer and evaluator recurse deeper).
func node(e *expr) (*expr, error) {
	d := 0
	for _, c := range e.children() {
		d = max(d, c.depth)
	}
	e.depth = d + 1
	if e.depth > maxTreeDepth {
		return nil, depthError()
	}
	return e, nil
}

// childrenLimit is Expr.analyze's error for a node with more than
// maxChildren operands, quoting the start of its SQL.
func childrenLimit(e *expr) *sqlError {
	var b strings.Builder
	e.writeSQL(&b)
	s := b.String()
	if len(s) > 80 {
		s = s[:80]
	}
	return analysisError("Exceeded the maximum number of child expressions (%d).\nExpression has %d children:\n%s...",
		maxChildren, len(e.children()), s)
}

// expr parses an expression: OR binds loosest, then AND, NOT, comparisons
// and IS [NOT] NULL, + and -, * / % and DIV, unary minus.
func (p *parser) expr() (*expr, error) {
	if err := p.nest(); err != nil {
		return nil, err
	}
	defer p.unnest()
	return p.orExpr()
}

// nest bounds the recursion of the parser: every level of it makes a tree
// level too, except redundant parentheses, which Impala's parser takes
// deeper than the test coordinator's does.
func (p *parser) nest() error {
	p.depth++
	if p.depth > maxTreeDepth {
		return depthError()
	}
	return nil
}

func (p *parser) unnest() { p.depth-- }

func binExpr(op string, l, r *expr) (*expr, error) {
	return node(&expr{kind: "bin", op: op, args: []*expr{l, r}})
}

func (p *parser) orExpr() (*expr, error) {
	l, err := p.andExpr()
	if err != nil {
		return nil, err
	}
	for p.accept("or") {
		r, err := p.andExpr()
		if err != nil {
			return nil, err
		}
		if l, err = binExpr("or", l, r); err != nil {
			return nil, err
		}
	}
	return l, nil
}

func (p *parser) andExpr() (*expr, error) {
	l, err := p.notExpr()
	if err != nil {
		return nil, err
	}
	for p.accept("and") {
		r, err := p.notExpr()
		if err != nil {
			return nil, err
		}
		if l, err = binExpr("and", l, r); err != nil {
			return nil, err
		}
	}
	return l, nil
}

func (p *parser) notExpr() (*expr, error) {
	if p.accept("not") || p.accept("!") {
		if err := p.nest(); err != nil {
			return nil, err
		}
		defer p.unnest()
		a, err := p.notExpr()
		if err != nil {
			return nil, err
		}
		return node(&expr{kind: "not", arg: a})
	}
	return p.cmpExpr()
}

var cmpOps = map[string]string{"=": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}

func (p *parser) cmpExpr() (*expr, error) {
	l, err := p.addExpr()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if op, ok := cmpOps[t.text]; ok && t.kind == tkPunct {
			p.i++
			r, err := p.addExpr()
			if err != nil {
				return nil, err
			}
			if l, err = binExpr(op, l, r); err != nil {
				return nil, err
			}
			continue
		}
		if e, ok, err := p.predicate(l); ok || err != nil {
			if err != nil {
				return nil, err
			}
			l = e
			continue
		}
		if p.accept("is") {
			op := "is null"
			if p.accept("not") {
				op = "is not null"
			}
			if err := p.expect("null"); err != nil {
				return nil, err
			}
			if l, err = node(&expr{kind: "isnull", op: op, arg: l}); err != nil {
				return nil, err
			}
			continue
		}
		return l, nil
	}
}

func (p *parser) addExpr() (*expr, error) {
	l, err := p.mulExpr()
	if err != nil {
		return nil, err
	}
	for {
		op := ""
		switch {
		case p.accept("+"):
			op = "+"
		case p.accept("-"):
			op = "-"
		default:
			return l, nil
		}
		r, err := p.mulExpr()
		if err != nil {
			return nil, err
		}
		if l, err = binExpr(op, l, r); err != nil {
			return nil, err
		}
	}
}

func (p *parser) mulExpr() (*expr, error) {
	l, err := p.unaryExpr()
	if err != nil {
		return nil, err
	}
	for {
		op := ""
		for _, o := range []string{"*", "/", "%", "div"} {
			if p.accept(o) {
				op = o
				break
			}
		}
		if op == "" {
			return l, nil
		}
		r, err := p.unaryExpr()
		if err != nil {
			return nil, err
		}
		if l, err = binExpr(op, l, r); err != nil {
			return nil, err
		}
	}
}

// unaryExpr parses a signed operand. A sign before a numeric literal is
// part of the literal; before anything else, unary minus is -1 * operand,
// as Impala's parser rewrites it (and labels it).
func (p *parser) unaryExpr() (*expr, error) {
	t := p.peek()
	if t.kind == tkPunct && (t.text == "-" || t.text == "+") {
		p.i++
		if n := p.peek(); n.kind == tkNumber {
			p.i++
			return numberLiteral(n.text, t.text == "-")
		}
		if err := p.nest(); err != nil {
			return nil, err
		}
		defer p.unnest()
		a, err := p.unaryExpr()
		if err != nil {
			return nil, err
		}
		if t.text == "+" {
			return a, nil
		}
		minusOne, _ := numberLiteral("1", true)
		return binExpr("*", minusOne, a)
	}
	return p.primary()
}

// primary parses a literal, a parenthesized expression, CAST, a function
// call or a column reference.
//
//nolint:gocognit // one case per primary expression of sql-parser.cup's grammar
func (p *parser) primary() (*expr, error) {
	t := p.next()
	switch t.kind {
	case tkNumber:
		return numberLiteral(t.text, false)
	case tkString:
		// Impala labels a string literal in single quotes, whatever the source used.
		label := "'" + strings.ReplaceAll(strings.ToLower(t.text), "'", "\\'") + "'"
		return &expr{kind: "lit", typ: Type{Kind: String}, val: t.text, label: label, depth: 1}, nil
	case tkPunct:
		if t.text == "(" {
			e, err := p.expr()
			if err != nil {
				return nil, err
			}
			if err := p.expect(")"); err != nil {
				return nil, err
			}
			e.parens = true
			return e, nil
		}
	case tkIdent:
		quoted := strings.HasPrefix(t.raw, "`")
		switch {
		case quoted:
		case t.text == "true" || t.text == "false":
			return &expr{kind: "lit", typ: Type{Kind: Boolean}, val: t.text == "true", label: t.text, depth: 1}, nil
		case t.text == "null":
			return &expr{kind: "lit", typ: Type{Kind: Boolean}, val: nil, null: true, label: "null", depth: 1}, nil
		case t.text == "cast":
			return p.castExpr()
		case t.text == "sleep" || t.text == "fail":
			if !p.isKw("(") {
				break
			}
			p.i++
			a := p.next()
			if t.text == "sleep" && a.kind != tkNumber || t.text == "fail" && a.kind != tkString {
				return nil, unsupported("%s() of anything but a literal", t.text)
			}
			if err := p.expect(")"); err != nil {
				return nil, err
			}
			e := &expr{kind: t.text, typ: Type{Kind: Boolean}, label: t.text + "(" + strings.ToLower(a.raw) + ")", depth: 1}
			if t.text == "sleep" {
				ms, err := strconv.ParseInt(a.text, 10, 64)
				if err != nil || ms < 0 {
					return nil, analysisError("sleep() needs a non-negative integer, got %s", a.text)
				}
				e.millis = ms
			} else {
				e.val = a.text
			}
			return e, nil
		case exprKeywords[t.text] && t.text != "in" && t.text != "like":
			p.i--
			return nil, p.unexpected("an expression")
		}
		if p.isKw("(") {
			return p.call(t.text)
		}
		if p.isKw(".") {
			// A qualified column: table.col; the qualifier is not checked.
			p.i++
			c, err := p.ident()
			if err != nil {
				return nil, err
			}
			return &expr{kind: "col", name: c, label: t.text + "." + c, depth: 1}, nil
		}
		return &expr{kind: "col", name: t.text, label: t.text, depth: 1}, nil
	}
	p.i--
	return nil, p.unexpected("an expression")
}

func (p *parser) castExpr() (*expr, error) {
	if err := p.expect("("); err != nil {
		return nil, err
	}
	arg, err := p.expr()
	if err != nil {
		return nil, err
	}
	if err := p.expect("as"); err != nil {
		return nil, err
	}
	typ, err := p.typeName()
	if err != nil {
		return nil, err
	}
	if err := p.expect(")"); err != nil {
		return nil, err
	}
	return node(&expr{kind: "cast", typ: typ, arg: arg})
}

// aggNames are the aggregate functions.
var aggNames = map[string]bool{"count": true, "sum": true, "min": true, "max": true, "avg": true}

// call parses name(args): an aggregate or a scalar function.
func (p *parser) call(name string) (*expr, error) {
	p.i++ // (
	e := &expr{kind: "func", name: name}
	if aggNames[name] {
		e.kind = "agg"
	}
	if e.kind == "agg" && name == "count" && p.accept("*") {
		if err := p.expect(")"); err != nil {
			return nil, err
		}
		e.op = "*"
		return node(e)
	}
	distinct := e.kind == "agg" && p.accept("distinct")
	if !p.accept(")") {
		args, err := p.exprList(e)
		if err != nil {
			return nil, err
		}
		e.args = args
		if err := p.expect(")"); err != nil {
			return nil, err
		}
	}
	if distinct {
		if len(e.args) != 1 {
			return nil, unsupported("%s(DISTINCT) of more than one argument", name)
		}
		e.op = "distinct"
	}
	return node(e)
}

// exprList parses expressions separated by commas, the operands of e after
// the ones it has, bounded by Impala's limit on a node's operands.
func (p *parser) exprList(e *expr) ([]*expr, error) {
	args := e.args
	for {
		a, err := p.expr()
		if err != nil {
			return nil, err
		}
		args = append(args, a)
		if len(args) > maxChildren {
			e.args = args
			return nil, childrenLimit(e)
		}
		if !p.accept(",") {
			return args, nil
		}
	}
}

// numberLiteral types a numeric literal as Impala does: the smallest
// integer type that holds it, DECIMAL for a fixed-point literal, DOUBLE with
// an exponent.
func numberLiteral(text string, neg bool) (*expr, error) {
	label := text
	if neg {
		label = "-" + text
	}
	if strings.ContainsAny(text, "eE") {
		f, err := strconv.ParseFloat(label, 64)
		if err != nil {
			return nil, analysisError("invalid number %s", label)
		}
		return &expr{kind: "lit", typ: Type{Kind: Double}, val: f, label: strings.ToLower(label), depth: 1}, nil
	}
	if !strings.Contains(text, ".") {
		n, err := strconv.ParseInt(label, 10, 64)
		if err == nil {
			e := &expr{kind: "lit", label: label, intLit: true, depth: 1}
			switch {
			case n >= -128 && n <= 127:
				e.typ, e.val = Type{Kind: TinyInt}, int8(n)
			case n >= -32768 && n <= 32767:
				e.typ, e.val = Type{Kind: SmallInt}, int16(n)
			case n >= -1<<31 && n <= 1<<31-1:
				e.typ, e.val = Type{Kind: Int}, int32(n)
			default:
				e.typ, e.val = Type{Kind: BigInt}, n
			}
			return e, nil
		}
	}
	intPart, frac, _ := strings.Cut(text, ".")
	if strings.Contains(frac, ".") {
		return nil, analysisError("invalid number %s", label)
	}
	intPart = strings.TrimLeft(intPart, "0")
	scale := len(frac)
	prec := len(intPart) + scale
	if prec == 0 {
		prec = 1
	}
	if prec < scale {
		prec = scale
	}
	if prec > 18 {
		return nil, unsupported("numeric literal %s (more than 18 digits)", label)
	}
	t := Type{Kind: Decimal, Precision: prec, Scale: scale}
	v, cerr := safeCast(label, Type{Kind: String}, t)
	if cerr != nil {
		return nil, cerr
	}
	return &expr{kind: "lit", typ: t, val: v, label: label, depth: 1}, nil
}

// predicate parses [NOT] BETWEEN, [NOT] IN (list) and [NOT] LIKE after l.
func (p *parser) predicate(l *expr) (*expr, bool, error) {
	save := p.i
	neg := p.accept("not")
	var e *expr
	var err error
	switch {
	case p.accept("between"):
		lo, err := p.addExpr()
		if err != nil {
			return nil, true, err
		}
		if err := p.expect("and"); err != nil {
			return nil, true, err
		}
		hi, err := p.addExpr()
		if err != nil {
			return nil, true, err
		}
		e = &expr{kind: "between", args: []*expr{l, lo, hi}}
	case p.accept("in"):
		if err := p.expect("("); err != nil {
			return nil, true, err
		}
		e = &expr{kind: "in", args: []*expr{l}}
		if e.args, err = p.exprList(e); err != nil {
			return nil, true, err
		}
		if err := p.expect(")"); err != nil {
			return nil, true, err
		}
	case p.accept("like"):
		pat, err := p.addExpr()
		if err != nil {
			return nil, true, err
		}
		e = &expr{kind: "like", args: []*expr{l, pat}}
	default:
		p.i = save
		return nil, false, nil
	}
	if e, err = node(e); err != nil {
		return nil, true, err
	}
	if neg {
		if e, err = node(&expr{kind: "not", arg: e}); err != nil {
			return nil, true, err
		}
	}
	return e, true, nil
}
