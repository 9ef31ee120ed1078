package impalad

import (
	"bytes"
	"math"
	"math/big"
	"regexp"
	"strings"
	"time"
)

// udfError is a run-time error of an expression, as a builtin reports it
// through FunctionContext::SetError (be/src/udf/udf.cc): it fails the
// statement with "UDF ERROR: <msg>". eval raises it with raise; safeEval
// and safeValue turn it into the statement's error.
type udfError struct{ msg string }

func (u udfError) status() string { return "UDF ERROR: " + u.msg }

func raise(msg string) { panic(udfError{msg}) }

// recoverUDF turns a raised udfError into *err; any other panic goes on.
func recoverUDF(err **sqlError) {
	if r := recover(); r != nil {
		u, ok := r.(udfError)
		if !ok {
			panic(r)
		}
		*err = &sqlError{msg: u.status(), sqlState: "HY000", runtime: true}
	}
}

// safeEval is e.eval(row) with a run-time error returned.
func safeEval(e *expr, row func(col int) any) (v any, err *sqlError) {
	defer recoverUDF(&err)
	return e.eval(row), nil
}

// safeValue is r.value(col, row) with a run-time error returned.
func safeValue(r result, col int, row int64) (v any, err *sqlError) {
	defer recoverUDF(&err)
	return r.value(col, row), nil
}

// eval computes e for one row; row returns the value of a table column
// (nil without FROM). Values have the Go types of the package doc's Values
// section for e.typ; NULL is nil. eval only reads e, so evaluations may run
// concurrently once the aggregates are final. A run-time error raises a
// udfError.
func (e *expr) eval(row func(col int) any) any {
	if e.folded {
		return e.val
	}
	switch e.kind {
	case "lit", "agg":
		return e.val
	case "col":
		if row == nil {
			return nil // not reached: analysis rejects columns where there is no row
		}
		return row(e.col)
	case "sleep":
		return true
	case "fail", "star":
		return nil
	case "cast":
		out, err := castValue(e.arg.eval(row), e.arg.typ, e.typ)
		if err != nil {
			return nil
		}
		return out
	case "not":
		if b, ok := e.arg.eval(row).(bool); ok {
			return !b
		}
		return nil
	case "isnull":
		isNull := e.arg.eval(row) == nil
		if e.op == "is null" {
			return isNull
		}
		return !isNull
	case "func":
		args := make([]any, len(e.args))
		for i, a := range e.args {
			v := a.eval(row)
			if e.argTypes != nil && v != nil && a.typ != e.argTypes[i] {
				v, _ = castValue(v, a.typ, e.argTypes[i])
			}
			args[i] = v
		}
		return e.fn(args)
	case "bin":
		return e.evalBinary(row)
	case "in":
		// x IN (a, b, ...): true when x equals one; else NULL when x or one
		// of them is NULL; else false.
		x := e.args[0].eval(row)
		if x == nil {
			return nil
		}
		sawNull := false
		for i, a := range e.args[1:] {
			y := a.eval(row)
			if y == nil {
				sawNull = true
				continue
			}
			if c, ok := compareValues(e.cmps[i], x, y); ok && c == 0 {
				return true
			}
		}
		if sawNull {
			return nil
		}
		return false
	case "between":
		x := e.args[0].eval(row)
		lo, hi := e.args[1].eval(row), e.args[2].eval(row)
		ge, le := compareTo(e.cmps[0], x, lo, 1), compareTo(e.cmps[1], x, hi, -1)
		return and3(ge, le)
	case "like":
		x, _ := e.args[0].eval(row).(string)
		re, _ := e.val.(*regexp.Regexp)
		if re == nil {
			pat, ok := e.args[1].eval(row).(string)
			if !ok {
				return nil
			}
			re = likeRegexp(pat)
		}
		if e.args[0].eval(row) == nil {
			return nil
		}
		return re.MatchString(x)
	}
	return nil
}

// compareTo is x >= y (sign 1) or x <= y (sign -1) with NULL for a NULL.
func compareTo(c cmpClass, x, y any, sign int) any {
	if x == nil || y == nil {
		return nil
	}
	r, ok := compareValues(c, x, y)
	if !ok {
		return nil
	}
	return r*sign >= 0
}

// and3 is SQL's AND of two BOOLEAN values (nil: NULL).
func and3(a, b any) any {
	if a == false || b == false {
		return false
	}
	if a == nil || b == nil {
		return nil
	}
	return true
}

// likeRegexp turns a LIKE pattern (% any run, _ one character, \\
// escapes) into an anchored regular expression. Invalid UTF-8 matches as
// U+FFFD, on both sides.
func likeRegexp(pat string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("(?s)^")
	escaped := false
	for _, r := range pat {
		switch {
		case escaped:
			escaped = false
			b.WriteString(regexp.QuoteMeta(string(r)))
		case r == '\\':
			escaped = true
		case r == '%':
			b.WriteString(".*")
		case r == '_':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	if escaped {
		b.WriteString(regexp.QuoteMeta("\\"))
	}
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	if err != nil {
		return regexp.MustCompile("^$.")
	}
	return re
}

func (e *expr) evalBinary(row func(col int) any) any {
	l, r := e.args[0], e.args[1]
	switch e.op {
	case "and":
		return and3(l.eval(row), r.eval(row))
	case "or":
		a, b := l.eval(row), r.eval(row)
		if a == true || b == true {
			return true
		}
		if a == nil || b == nil {
			return nil
		}
		return false
	}
	a, b := l.eval(row), r.eval(row)
	if a == nil || b == nil {
		return nil
	}
	switch e.op {
	case "=", "!=", "<", "<=", ">", ">=":
		c, ok := compareValues(e.cmp, a, b)
		if !ok {
			return nil
		}
		switch e.op {
		case "=":
			return c == 0
		case "!=":
			return c != 0
		case "<":
			return c < 0
		case "<=":
			return c <= 0
		case ">":
			return c > 0
		}
		return c >= 0
	}
	return arith(e.op, e.typ, a, b)
}

// arith computes a op b in type t (the operands are numeric).
func arith(op string, t Type, a, b any) any {
	switch {
	case isIntKind(t.Kind):
		x, _ := toInt64(a)
		y, _ := toInt64(b)
		var z int64
		switch op {
		case "+":
			z = x + y
		case "-":
			z = x - y
		case "*":
			z = x * y
		case "%", "div":
			if y == 0 {
				return nil
			}
			if op == "%" {
				z = x % y
			} else {
				z = x / y
			}
		}
		return narrowInt(z, t.Kind)
	case isFloatKind(t.Kind):
		x, _ := toFloat(a)
		y, _ := toFloat(b)
		switch op {
		case "+":
			return x + y
		case "-":
			return x - y
		case "*":
			return x * y
		case "/":
			// Operators::Divide_DoubleVal_DoubleVal: IEEE division.
			return x / y
		case "%":
			if y == 0 {
				return nil
			}
			return math.Mod(x, y)
		}
	case t.Kind == Decimal:
		x, ok1 := toRat(a)
		y, ok2 := toRat(b)
		if !ok1 || !ok2 {
			return nil
		}
		z := new(big.Rat)
		switch op {
		case "+":
			z.Add(x, y)
		case "-":
			z.Sub(x, y)
		case "*":
			z.Mul(x, y)
		case "/", "%":
			if y.Sign() == 0 {
				// DECIMAL_V2 (be/src/exprs/decimal-operators-ir.cc).
				raise("Cannot divide decimal by zero")
			}
			z.Quo(x, y)
			if op == "%" {
				q := new(big.Int).Quo(z.Num(), z.Denom()) // truncated quotient
				z.Sub(x, new(big.Rat).Mul(y, new(big.Rat).SetInt(q)))
			}
		}
		out := decimalFromRat(z, t)
		if out == nil {
			raise("Decimal expression overflowed")
		}
		return out
	}
	return nil
}

// narrowInt converts n to the Go type of the integer kind k, wrapping.
func narrowInt(n int64, k Kind) any {
	switch k {
	case TinyInt:
		return int8(n)
	case SmallInt:
		return int16(n)
	case Int:
		return int32(n)
	}
	return n
}

func toInt64(v any) (int64, bool) {
	switch x := v.(type) {
	case int8:
		return int64(x), true
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	}
	return 0, false
}

// decimalFromRat rounds r half away from zero to t's scale, as a DECIMAL
// value (its text); NULL when it does not fit t's precision.
func decimalFromRat(r *big.Rat, t Type) any {
	scaled := new(big.Rat).Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(t.Scale)), nil)))
	num, den := scaled.Num(), scaled.Denom()
	q, m := new(big.Int).QuoRem(num, den, new(big.Int))
	if new(big.Int).Mul(new(big.Int).Abs(m), big.NewInt(2)).Cmp(den) >= 0 {
		if num.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	limit := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(t.Precision)), nil)
	if new(big.Int).Abs(q).Cmp(limit) >= 0 {
		return nil
	}
	if q.IsInt64() {
		return formatDecimal(q.Int64(), t.Scale)
	}
	s := new(big.Int).Abs(q).String()
	if t.Scale > 0 {
		if len(s) <= t.Scale {
			s = strings.Repeat("0", t.Scale-len(s)+1) + s
		}
		s = s[:len(s)-t.Scale] + "." + s[len(s)-t.Scale:]
	}
	if q.Sign() < 0 {
		s = "-" + s
	}
	return s
}

// compareValues compares two non-NULL values of the class c: negative,
// zero or positive. false when they cannot be compared (a string that is
// no timestamp).
func compareValues(c cmpClass, a, b any) (int, bool) {
	switch c {
	case cmpInt:
		x, _ := toInt64(a)
		y, _ := toInt64(b)
		return cmp3(x < y, x > y), true
	case cmpFloat:
		x, _ := toFloat(a)
		y, _ := toFloat(b)
		return cmp3(x < y, x > y), true
	case cmpDec:
		x, ok1 := toRat(a)
		y, ok2 := toRat(b)
		if !ok1 || !ok2 {
			return 0, false
		}
		return x.Cmp(y), true
	case cmpStr:
		x, _ := a.(string)
		y, _ := b.(string)
		return strings.Compare(x, y), true
	case cmpTime:
		x, ok1 := asTime(a)
		y, ok2 := asTime(b)
		if !ok1 || !ok2 {
			return 0, false
		}
		return x.Compare(y), true
	case cmpBool:
		x, _ := a.(bool)
		y, _ := b.(bool)
		return cmp3(!x && y, x && !y), true
	case cmpBytes:
		x, _ := a.([]byte)
		y, _ := b.([]byte)
		return bytes.Compare(x, y), true
	}
	return 0, false
}

func cmp3(less, greater bool) int {
	switch {
	case less:
		return -1
	case greater:
		return 1
	}
	return 0
}

func asTime(v any) (time.Time, bool) {
	switch x := v.(type) {
	case time.Time:
		return x, true
	case string:
		return parseTimestamp(strings.TrimSpace(x))
	}
	return time.Time{}, false
}

// classOf is the comparison class of values of type t (ORDER BY, min, max).
func classOf(t Type) cmpClass {
	c, _ := compareClass(&expr{typ: t}, &expr{typ: t})
	return c
}

// accumulate adds one row to the state st of the aggregate e.
func (e *expr) accumulate(st *aggState, row func(col int) any) {
	if len(e.args) == 0 { // count(*)
		st.count++
		return
	}
	v := e.args[0].eval(row)
	if v == nil {
		return
	}
	if e.op == "distinct" {
		k := keyString(e.args[0].typ, v)
		if _, dup := st.seen[k]; dup {
			return
		}
		if st.seen == nil {
			st.seen = map[string]struct{}{}
		}
		if len(st.seen) >= maxGroups {
			st.overflow = true
			return
		}
		st.seen[k] = struct{}{}
	}
	st.count++
	switch e.name {
	case "sum", "avg":
		at := e.args[0].typ
		switch {
		case isIntKind(at.Kind):
			x, _ := toInt64(v)
			st.sumI += x
		case isFloatKind(at.Kind):
			x, _ := toFloat(v)
			st.sumF += x
		case at.Kind == Decimal:
			if x, ok := toRat(v); ok {
				if st.sumD == nil {
					st.sumD = new(big.Rat)
				}
				st.sumD.Add(st.sumD, x)
			}
		}
	case "min", "max":
		if st.best == nil {
			st.best = v
			return
		}
		c, ok := compareValues(classOf(e.args[0].typ), v, st.best)
		if ok && (e.name == "min" && c < 0 || e.name == "max" && c > 0) {
			st.best = v
		}
	}
}

// result is the aggregate's value for the state st: NULL for sum, avg,
// min and max of no non-NULL values, as in SQL.
func (e *expr) result(st *aggState) any {
	switch e.name {
	case "count":
		return st.count
	case "min", "max":
		return st.best
	}
	if st.count == 0 {
		return nil
	}
	at := e.args[0].typ
	switch {
	case isIntKind(at.Kind):
		if e.name == "sum" {
			return st.sumI
		}
		return float64(st.sumI) / float64(st.count)
	case isFloatKind(at.Kind):
		if e.name == "sum" {
			return st.sumF
		}
		return st.sumF / float64(st.count)
	case at.Kind == Decimal:
		s := st.sumD
		if s == nil {
			s = new(big.Rat)
		}
		if e.name == "avg" {
			s = new(big.Rat).Quo(s, new(big.Rat).SetInt64(st.count))
		}
		return decimalFromRat(s, e.typ)
	}
	return nil
}
