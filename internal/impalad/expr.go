package impalad

import (
	"strconv"
	"strings"
)

// Expressions: parsed by the parser below into an expr tree, typed and
// resolved against a FROM table by analyze (expr_analyze.go), evaluated per
// row by eval (expr_eval.go).

// expr is a scalar expression of a select list, a WHERE clause, an ORDER BY
// key or a VALUES row.
type expr struct {
	// kind is one of "lit", "col", "star", "sleep", "fail", "bin" (op: + - *
	// / % = != < <= > >= and or), "not", "isnull" (op: "is null" or "is not
	// null"), "cast", "func" (name, args), "agg" (name; args empty for
	// count(*)).
	kind   string
	typ    Type
	val    any
	arg    *expr
	args   []*expr
	op     string
	name   string // column name for "col", function name for "func" and "agg"
	label  string // Impala's column label: the expression text, lower-cased
	millis int64
	// intLit marks an integer literal: in DECIMAL arithmetic it counts as
	// DECIMAL(digits,0), as in Impala.
	intLit bool
	// null marks the NULL literal (typed BOOLEAN until its context gives it a type).
	null bool
	// col is the index of a "col" in its table, set by analyze.
	col int
	// cmp is the comparison class of a comparison "bin", set by analyze.
	cmp cmpClass
	// fn evaluates a "func" over its argument values, set by analyze.
	fn func(args []any) any
	// argTypes are the types the arguments of a "func" are converted to
	// before fn sees them (nil: as they are).
	argTypes []Type
	// agg is the running state of an "agg" over the rows of the statement.
	agg *aggState
}

// exprKeywords end an expression: an identifier among them is never taken
// as a select-list alias.
var exprKeywords = map[string]bool{
	"from": true, "where": true, "limit": true, "order": true, "group": true, "having": true,
	"and": true, "or": true, "not": true, "is": true, "as": true, "asc": true, "desc": true,
	"nulls": true, "offset": true, "union": true, "by": true, "div": true, "in": true,
	"like": true, "between": true, "join": true, "on": true,
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

// maxDepth bounds the nesting of an expression (parentheses, function
// calls, NOT, unary minus) and of its tree, so that no statement can make
// the recursive parser, analyzer or evaluator run deep.
const maxDepth = 200

func (p *parser) nest() error {
	p.depth++
	if p.depth > maxDepth {
		return p.unexpected("expression nested too deeply for the test coordinator")
	}
	return nil
}

func (p *parser) unnest() { p.depth-- }

func binExpr(op string, l, r *expr) *expr {
	return &expr{kind: "bin", op: op, args: []*expr{l, r}, label: l.label + " " + op + " " + r.label}
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
		l = binExpr("or", l, r)
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
		l = binExpr("and", l, r)
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
		return &expr{kind: "not", arg: a, label: "not " + a.label}, nil
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
			l = binExpr(op, l, r)
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
			l = &expr{kind: "isnull", op: op, arg: l, label: l.label + " " + op}
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
		switch {
		case p.accept("+"):
			r, err := p.mulExpr()
			if err != nil {
				return nil, err
			}
			l = binExpr("+", l, r)
		case p.accept("-"):
			r, err := p.mulExpr()
			if err != nil {
				return nil, err
			}
			l = binExpr("-", l, r)
		default:
			return l, nil
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
		l = binExpr(op, l, r)
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
		return binExpr("*", minusOne, a), nil
	}
	return p.primary()
}

// primary parses a literal, a parenthesized expression, CAST, a function
// call or a column reference.
func (p *parser) primary() (*expr, error) {
	t := p.next()
	switch t.kind {
	case tkNumber:
		return numberLiteral(t.text, false)
	case tkString:
		// Impala labels a string literal in single quotes, whatever the source used.
		label := "'" + strings.ReplaceAll(strings.ToLower(t.text), "'", "\\'") + "'"
		return &expr{kind: "lit", typ: Type{Kind: String}, val: t.text, label: label}, nil
	case tkPunct:
		if t.text == "(" {
			e, err := p.expr()
			if err != nil {
				return nil, err
			}
			if err := p.expect(")"); err != nil {
				return nil, err
			}
			c := *e
			c.label = "(" + e.label + ")"
			return &c, nil
		}
	case tkIdent:
		quoted := strings.HasPrefix(t.raw, "`")
		switch {
		case quoted:
		case t.text == "true" || t.text == "false":
			return &expr{kind: "lit", typ: Type{Kind: Boolean}, val: t.text == "true", label: t.text}, nil
		case t.text == "null":
			return &expr{kind: "lit", typ: Type{Kind: Boolean}, val: nil, null: true, label: "null"}, nil
		case t.text == "cast":
			return p.castExpr()
		case t.text == "sleep" || t.text == "fail":
			if !p.isKw("(") {
				break
			}
			p.i++
			a := p.next()
			if t.text == "sleep" && a.kind != tkNumber || t.text == "fail" && a.kind != tkString {
				p.i--
				return nil, p.unexpected("expected a literal argument")
			}
			if err := p.expect(")"); err != nil {
				return nil, err
			}
			e := &expr{kind: t.text, typ: Type{Kind: Boolean}, label: t.text + "(" + strings.ToLower(a.raw) + ")"}
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
			return nil, p.unexpected("expected an expression")
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
			return &expr{kind: "col", name: c, label: t.text + "." + c}, nil
		}
		return &expr{kind: "col", name: t.text, label: t.text}, nil
	}
	p.i--
	return nil, p.unexpected("expected an expression")
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
	return &expr{kind: "cast", typ: typ, arg: arg, label: "cast(" + arg.label + " as " + typ.String() + ")"}, nil
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
		e.label, e.op = "count(*)", "*"
		return e, nil
	}
	distinct := e.kind == "agg" && p.accept("distinct")
	if !p.accept(")") {
		for {
			a, err := p.expr()
			if err != nil {
				return nil, err
			}
			e.args = append(e.args, a)
			if !p.accept(",") {
				break
			}
		}
		if err := p.expect(")"); err != nil {
			return nil, err
		}
	}
	labels := make([]string, len(e.args))
	for i, a := range e.args {
		labels[i] = a.label
	}
	e.label = name + "(" + strings.Join(labels, ", ") + ")"
	if distinct {
		if len(e.args) != 1 {
			return nil, analysisError("%s(DISTINCT) takes one argument in the test coordinator", name)
		}
		e.op = "distinct"
		e.label = name + "(distinct " + labels[0] + ")"
	}
	return e, nil
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
		return &expr{kind: "lit", typ: Type{Kind: Double}, val: f, label: strings.ToLower(label)}, nil
	}
	if !strings.Contains(text, ".") {
		n, err := strconv.ParseInt(label, 10, 64)
		if err == nil {
			e := &expr{kind: "lit", label: label, intLit: true}
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
		return nil, analysisError("numeric literal %s is out of the test coordinator's range", label)
	}
	t := Type{Kind: Decimal, Precision: prec, Scale: scale}
	v, cerr := castValue(label, Type{Kind: String}, t)
	if cerr != nil {
		return nil, cerr
	}
	return &expr{kind: "lit", typ: t, val: v, label: label}, nil
}

// predicate parses [NOT] BETWEEN, [NOT] IN (list) and [NOT] LIKE after l.
// BETWEEN and IN become comparisons joined by AND / OR (labelled as
// written), which gives them SQL's NULL semantics.
func (p *parser) predicate(l *expr) (*expr, bool, error) {
	save := p.i
	neg := p.accept("not")
	var e *expr
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
		e = binExpr("and", binExpr(">=", l, lo), binExpr("<=", l, hi))
		e.label = l.label + " between " + lo.label + " and " + hi.label
	case p.accept("in"):
		if err := p.expect("("); err != nil {
			return nil, true, err
		}
		var labels []string
		for {
			a, err := p.expr()
			if err != nil {
				return nil, true, err
			}
			labels = append(labels, a.label)
			eq := binExpr("=", l, a)
			if e == nil {
				e = eq
			} else {
				e = binExpr("or", e, eq)
			}
			if !p.accept(",") {
				break
			}
		}
		if err := p.expect(")"); err != nil {
			return nil, true, err
		}
		e.label = l.label + " in (" + strings.Join(labels, ", ") + ")"
	case p.accept("like"):
		pat, err := p.addExpr()
		if err != nil {
			return nil, true, err
		}
		e = &expr{kind: "like", args: []*expr{l, pat}, label: l.label + " like " + pat.label}
	default:
		p.i = save
		return nil, false, nil
	}
	if neg {
		// Impala prints the negation inside: "x NOT IN (...)".
		label := strings.Replace(e.label, " between ", " not between ", 1)
		if label == e.label {
			label = strings.Replace(e.label, " in (", " not in (", 1)
		}
		if label == e.label {
			label = strings.Replace(e.label, " like ", " not like ", 1)
		}
		e = &expr{kind: "not", arg: e, label: label}
	}
	return e, true, nil
}
