package impalad

import (
	"math/big"
	"strings"
	"time"
)

// evalEnv is what a statement's session functions return: fixed for the
// whole statement, as in Impala (now() is the statement's start time).
type evalEnv struct {
	now     time.Time
	user    string
	db      string
	version string
}

// scope is what analyze resolves names against, and what it learns.
type scope struct {
	cols     []Column // the FROM table's columns; nil without FROM
	env      *evalEnv
	allowAgg bool   // aggregates allowed here (select list, ORDER BY)
	clause   string // for errors: "WHERE clause", ...
	inAgg    bool
	// Collected while analyzing.
	aggs     []*expr
	bareCols []string // columns referenced outside an aggregate
	sleep    time.Duration
	failMsg  string
}

// cmpClass is how a comparison compares its operands.
type cmpClass int

const (
	cmpNone cmpClass = iota
	cmpInt
	cmpFloat
	cmpDec
	cmpStr
	cmpTime
	cmpBool
	cmpBytes
)

func isIntKind(k Kind) bool    { return k >= TinyInt && k <= BigInt }
func isFloatKind(k Kind) bool  { return k == Float || k == Double }
func isNumeric(k Kind) bool    { return isIntKind(k) || isFloatKind(k) || k == Decimal }
func isStringKind(k Kind) bool { return k == String || k == Varchar || k == Char }

// typeName is a type as Impala spells it in messages: "TINYINT", "DECIMAL(3,2)".
func typeName(t Type) string { return strings.ToUpper(t.String()) }

// analyze resolves columns, checks and types e and its children in place,
// folds constant subexpressions (as FoldConstantsRule: a node whose
// operands are all values; one whose evaluation fails is left for run
// time, where it fails the statement), and records aggregates, sleep() and
// fail() in sc. The parser bounded the tree's depth.
func analyze(e *expr, sc *scope) *sqlError {
	if err := analyzeNode(e, sc); err != nil {
		return err
	}
	if !e.isValue() && isConst(e) {
		if v, err := safeEval(e, nil); err == nil {
			e.val, e.folded = v, true
		}
	}
	return nil
}

// isConst reports whether e can be folded: no row, aggregate or test
// function in it, every operand a value.
func isConst(e *expr) bool {
	switch e.kind {
	case "col", "agg", "sleep", "fail", "star":
		return false
	}
	for _, c := range e.children() {
		if !c.isValue() {
			return false
		}
	}
	return true
}

//nolint:gocognit // one case per expression kind, as Impala's analyzer types them
func analyzeNode(e *expr, sc *scope) *sqlError {
	switch e.kind {
	case "lit":
		return nil
	case "star":
		return analysisError("'*' expression in select list requires FROM clause.")
	case "sleep":
		sc.sleep += time.Duration(e.millis) * time.Millisecond
		return nil
	case "fail":
		sc.failMsg = e.val.(string)
		return nil
	case "col":
		for i, c := range sc.cols {
			if c.Name == e.name {
				e.col, e.typ = i, c.Type
				if !sc.inAgg {
					sc.bareCols = append(sc.bareCols, e.label)
				}
				return nil
			}
		}
		return analysisError("Could not resolve column/field reference: '%s'", e.name)
	case "cast":
		if err := analyze(e.arg, sc); err != nil {
			return err
		}
		if e.arg.isValue() && !e.arg.null {
			// A cast Impala has no conversion for fails here; a value
			// the cast refuses fails at run time.
			if _, err := safeCast(e.arg.val, e.arg.typ, e.typ); err != nil && !err.runtime {
				return err
			}
		}
		return nil
	case "not":
		if err := analyze(e.arg, sc); err != nil {
			return err
		}
		if e.arg.typ.Kind != Boolean {
			return analysisError("Operand '%s' part of predicate '%s' should return type 'BOOLEAN' but returns type '%s'.",
				e.arg.sql(), e.sql(), typeName(e.arg.typ))
		}
		e.typ = Type{Kind: Boolean}
		return nil
	case "isnull":
		if err := analyze(e.arg, sc); err != nil {
			return err
		}
		e.typ = Type{Kind: Boolean}
		return nil
	case "bin":
		for _, a := range e.args {
			if err := analyze(a, sc); err != nil {
				return err
			}
		}
		return analyzeBinary(e)
	case "func":
		for _, a := range e.args {
			if err := analyze(a, sc); err != nil {
				return err
			}
		}
		return analyzeFunc(e, sc)
	case "agg":
		return analyzeAgg(e, sc)
	case "like":
		for _, a := range e.args {
			if err := analyze(a, sc); err != nil {
				return err
			}
			if !a.null && !isStringKind(a.typ.Kind) {
				return analysisError("left operand of LIKE must be of type STRING: %s", e.sql())
			}
		}
		e.typ = Type{Kind: Boolean}
		if pat, ok := e.args[1].val.(string); ok && e.args[1].isValue() {
			e.val = likeRegexp(pat)
		}
		return nil
	case "in", "between":
		for _, a := range e.args {
			if err := analyze(a, sc); err != nil {
				return err
			}
		}
		l := e.args[0]
		e.cmps = make([]cmpClass, len(e.args)-1)
		for i, a := range e.args[1:] {
			c, ok := compareClass(l, a)
			if !ok {
				return analysisError("operands of type %s and %s are not comparable: %s", typeName(l.typ), typeName(a.typ), e.sql())
			}
			e.cmps[i] = c
		}
		e.typ = Type{Kind: Boolean}
		return nil
	}
	return unsupported("the expression %s", e.sql())
}

func analyzeBinary(e *expr) *sqlError {
	l, r := e.args[0], e.args[1]
	switch e.op {
	case "and", "or":
		for _, a := range e.args {
			if a.typ.Kind != Boolean {
				return analysisError("Operand '%s' part of predicate '%s' should return type 'BOOLEAN' but returns type '%s'.",
					a.sql(), e.sql(), typeName(a.typ))
			}
		}
		e.typ = Type{Kind: Boolean}
		return nil
	case "=", "!=", "<", "<=", ">", ">=":
		c, ok := compareClass(l, r)
		if !ok {
			return analysisError("operands of type %s and %s are not comparable: %s", typeName(l.typ), typeName(r.typ), e.sql())
		}
		e.cmp, e.typ = c, Type{Kind: Boolean}
		return nil
	}
	t, err := arithType(e.op, l, r)
	if err != nil {
		return analysisError("%s: %s", err, e.sql())
	}
	e.typ = t
	return nil
}

// compareClass says how l and r compare, and whether they can.
func compareClass(l, r *expr) (cmpClass, bool) {
	lt, rt := l.typ, r.typ
	if l.null {
		lt = rt
	}
	if r.null {
		rt = lt
	}
	lk, rk := lt.Kind, rt.Kind
	switch {
	case isNumeric(lk) && isNumeric(rk):
		switch {
		case isFloatKind(lk) || isFloatKind(rk):
			return cmpFloat, true
		case lk == Decimal || rk == Decimal:
			return cmpDec, true
		}
		return cmpInt, true
	case isStringKind(lk) && isStringKind(rk):
		return cmpStr, true
	case (lk == Timestamp || lk == Date) && (rk == Timestamp || rk == Date || isStringKind(rk)),
		isStringKind(lk) && (rk == Timestamp || rk == Date):
		return cmpTime, true
	case lk == Boolean && rk == Boolean:
		return cmpBool, true
	case lk == Binary && rk == Binary:
		return cmpBytes, true
	}
	return cmpNone, false
}

// promote is the next wider integer type, as Impala widens the result of
// + - * on integers.
func promote(k Kind) Kind {
	if k < BigInt {
		return k + 1
	}
	return BigInt
}

// decOf is the DECIMAL an operand counts as in DECIMAL arithmetic.
func decOf(e *expr) Type {
	t := e.typ
	switch {
	case t.Kind == Decimal:
		return t
	case e.intLit:
		d := len(strings.TrimPrefix(FormatValue(t, e.val), "-"))
		return Type{Kind: Decimal, Precision: d}
	case t.Kind == TinyInt:
		return Type{Kind: Decimal, Precision: 3}
	case t.Kind == SmallInt:
		return Type{Kind: Decimal, Precision: 5}
	case t.Kind == Int:
		return Type{Kind: Decimal, Precision: 10}
	}
	return Type{Kind: Decimal, Precision: 19}
}

// decimalType caps precision at 38 the way Impala (DECIMAL_V2) does,
// giving up scale but keeping at least 6 digits of it.
func decimalType(p, s int) Type {
	if p > 38 {
		s = max(s-(p-38), min(s, 6))
		p = 38
	}
	return Type{Kind: Decimal, Precision: p, Scale: s}
}

type arithErr string

func (e arithErr) Error() string { return string(e) }

// arithType is the result type of l op r under Impala's rules.
func arithType(op string, l, r *expr) (Type, error) {
	lt, rt := l.typ, r.typ
	switch {
	case l.null && r.null:
		lt, rt = Type{Kind: Double}, Type{Kind: Double}
	case l.null:
		lt = rt
	case r.null:
		rt = lt
	}
	if !isNumeric(lt.Kind) || !isNumeric(rt.Kind) {
		return Type{}, arithErr("Arithmetic operation requires numeric operands")
	}
	lk, rk := lt.Kind, rt.Kind
	if op == "div" {
		if !isIntKind(lk) || !isIntKind(rk) {
			return Type{}, arithErr("Invalid non-integer argument to operation DIV")
		}
		return Type{Kind: max(lk, rk)}, nil
	}
	if isFloatKind(lk) || isFloatKind(rk) {
		return Type{Kind: Double}, nil
	}
	if lk == Decimal || rk == Decimal {
		a, b := lt, rt
		if lk != Decimal {
			a = decOf(l)
		}
		if rk != Decimal {
			b = decOf(r)
		}
		p1, s1, p2, s2 := a.Precision, a.Scale, b.Precision, b.Scale
		switch op {
		case "+", "-":
			s := max(s1, s2)
			return decimalType(max(p1-s1, p2-s2)+s+1, s), nil
		case "*":
			return decimalType(p1+p2+1, s1+s2), nil
		case "/":
			s := max(6, s1+p2+1)
			return decimalType(p1-s1+s2+s, s), nil
		case "%":
			s := max(s1, s2)
			return decimalType(min(p1-s1, p2-s2)+s, s), nil
		}
	}
	switch op {
	case "/":
		return Type{Kind: Double}, nil
	case "%":
		return Type{Kind: max(lk, rk)}, nil
	}
	return Type{Kind: promote(max(lk, rk))}, nil
}

// commonType is the type values of es are converted to by coalesce, if,
// nvl: the wider numeric type, STRING for strings, TIMESTAMP for a
// timestamp and strings. NULL literals take the others' type.
func commonType(fn string, es []*expr) (Type, *sqlError) {
	var t *Type
	for _, e := range es {
		if e.null {
			continue
		}
		if t == nil {
			c := e.typ
			t = &c
			continue
		}
		a, b := *t, e.typ
		switch {
		case a == b:
		case isIntKind(a.Kind) && isIntKind(b.Kind):
			t.Kind = max(a.Kind, b.Kind)
		case isNumeric(a.Kind) && isNumeric(b.Kind) && (isFloatKind(a.Kind) || isFloatKind(b.Kind)):
			*t = Type{Kind: Double}
		case isNumeric(a.Kind) && isNumeric(b.Kind):
			da, db := a, b
			if a.Kind != Decimal {
				da = decOf(&expr{typ: a})
			}
			if b.Kind != Decimal {
				db = decOf(e)
			}
			s := max(da.Scale, db.Scale)
			*t = decimalType(max(da.Precision-da.Scale, db.Precision-db.Scale)+s, s)
		case isStringKind(a.Kind) && isStringKind(b.Kind):
			*t = Type{Kind: String}
		case a.Kind == Timestamp && (isStringKind(b.Kind) || b.Kind == Date),
			b.Kind == Timestamp && (isStringKind(a.Kind) || a.Kind == Date):
			*t = Type{Kind: Timestamp}
		default:
			return Type{}, analysisError("Incompatible return types '%s' and '%s' of exprs in %s().", typeName(a), typeName(b), fn)
		}
	}
	if t == nil {
		return Type{Kind: Boolean}, nil
	}
	return *t, nil
}

// aggState is the running state of one aggregate.
type aggState struct {
	count int64
	sumI  int64
	sumF  float64
	sumD  *big.Rat
	best  any // min / max so far
	// seen holds the values already counted by a DISTINCT aggregate;
	// overflow is set when there were more than maxGroups of them.
	seen     map[string]struct{}
	overflow bool
}

func analyzeAgg(e *expr, sc *scope) *sqlError {
	if e.agg != nil {
		return nil // already analyzed: a BETWEEN or IN operand appears more than once
	}
	if !sc.allowAgg {
		return analysisError("aggregate function not allowed in %s: %s", sc.clause, e.sql())
	}
	if sc.inAgg {
		return analysisError("aggregate function must not contain aggregate parameters: %s", e.sql())
	}
	e.agg = &aggState{}
	sc.aggs = append(sc.aggs, e)
	if len(e.args) == 0 {
		if e.op != "*" {
			if e.name == "count" {
				return analysisError("count() is not allowed.")
			}
			return analysisError("No matching function with signature: %s().", e.name)
		}
		e.typ = Type{Kind: BigInt}
		return nil
	}
	if len(e.args) != 1 {
		return analysisError("No matching function with signature: %s(%s).", e.name, argTypeNames(e.args))
	}
	sc.inAgg = true
	err := analyze(e.args[0], sc)
	sc.inAgg = false
	if err != nil {
		return err
	}
	at := e.args[0].typ
	if e.args[0].null {
		at = Type{Kind: Boolean}
	}
	switch e.name {
	case "count":
		e.typ = Type{Kind: BigInt}
	case "min", "max":
		e.typ = at
	case "sum", "avg":
		switch {
		case isIntKind(at.Kind):
			e.typ = Type{Kind: BigInt}
			if e.name == "avg" {
				e.typ = Type{Kind: Double}
			}
		case isFloatKind(at.Kind):
			e.typ = Type{Kind: Double}
		case at.Kind == Decimal:
			e.typ = Type{Kind: Decimal, Precision: 38, Scale: at.Scale}
			if e.name == "avg" {
				s := max(at.Scale, 6)
				e.typ = decimalType(at.Precision-at.Scale+s, s)
			}
		case e.name == "avg" && isStringKind(at.Kind):
			return analysisError("AVG requires a numeric or timestamp parameter: %s", e.sql())
		default:
			return analysisError("No matching function with signature: %s(%s).", e.name, typeName(at))
		}
	}
	return nil
}

func argTypeNames(args []*expr) string {
	names := make([]string, len(args))
	for i, a := range args {
		names[i] = typeName(a.typ)
		if a.null {
			names[i] = "NULL_TYPE"
		}
	}
	return strings.Join(names, ", ")
}
