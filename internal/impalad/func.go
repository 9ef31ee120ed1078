package impalad

import (
	"math"
	"math/big"
	"strings"
	"time"
)

// The scalar built-in functions: name -> analysis, which types the call
// and sets its fn (or folds it into a literal for the session functions).

func noMatch(e *expr) *sqlError {
	return analysisError("No matching function with signature: %s(%s).", e.name, argTypeNames(e.args))
}

// argsAre checks the argument count (lo..hi, hi < 0: any) and that each
// argument passes ok (a NULL literal always does).
func argsAre(e *expr, lo, hi int, ok func(i int, t Type) bool) *sqlError {
	if len(e.args) < lo || hi >= 0 && len(e.args) > hi {
		return noMatch(e)
	}
	for i, a := range e.args {
		if !a.null && !ok(i, a.typ) {
			return noMatch(e)
		}
	}
	return nil
}

func anyNil(args []any) bool {
	for _, a := range args {
		if a == nil {
			return true
		}
	}
	return false
}

// strict wraps f so that a NULL argument gives NULL.
func strict(f func(args []any) any) func(args []any) any {
	return func(args []any) any {
		if anyNil(args) {
			return nil
		}
		return f(args)
	}
}

func strArg(i int, t Type) bool { return isStringKind(t.Kind) }

//nolint:gocognit // one case per builtin function: Impala's function catalog as a table
func analyzeFunc(e *expr, sc *scope) *sqlError {
	env := sc.env
	constant := func(t Type, v any) *sqlError {
		if len(e.args) != 0 {
			return noMatch(e)
		}
		e.typ, e.val, e.folded = t, v, true
		return nil
	}
	str := Type{Kind: String}
	switch e.name {
	case "now", "current_timestamp", "localtimestamp":
		return constant(Type{Kind: Timestamp}, env.now)
	case "utc_timestamp":
		return constant(Type{Kind: Timestamp}, env.now.UTC())
	case "current_date":
		n := env.now
		return constant(Type{Kind: Date}, time.Date(n.Year(), n.Month(), n.Day(), 0, 0, 0, 0, time.UTC))
	case "version":
		// UtilityFunctions::Version: GetVersionString() in full.
		return constant(str, versionString(env.version, false))
	case "current_database":
		return constant(str, env.db)
	case "user", "effective_user", "logged_in_user", "current_user":
		return constant(str, env.user)
	case "pi":
		return constant(Type{Kind: Double}, math.Pi)
	case "concat":
		if err := argsAre(e, 1, -1, strArg); err != nil {
			return err
		}
		e.typ = str
		e.fn = strict(func(args []any) any {
			var b strings.Builder
			for _, a := range args {
				b.WriteString(a.(string))
			}
			return b.String()
		})
	case "upper", "ucase", "lower", "lcase", "trim", "ltrim", "rtrim", "reverse":
		if err := argsAre(e, 1, 1, strArg); err != nil {
			return err
		}
		e.typ = str
		var f func(string) string
		switch e.name {
		case "upper", "ucase":
			f = func(s string) string { return asciiCase(s, 'a', 'z', -32) }
		case "lower", "lcase":
			f = func(s string) string { return asciiCase(s, 'A', 'Z', 32) }
		case "trim":
			f = func(s string) string { return strings.Trim(s, " ") }
		case "ltrim":
			f = func(s string) string { return strings.TrimLeft(s, " ") }
		case "rtrim":
			f = func(s string) string { return strings.TrimRight(s, " ") }
		case "reverse":
			f = func(s string) string {
				b := []byte(s)
				for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
					b[i], b[j] = b[j], b[i]
				}
				return string(b)
			}
		}
		e.fn = strict(func(args []any) any { return f(args[0].(string)) })
	case "length", "char_length", "character_length":
		if err := argsAre(e, 1, 1, strArg); err != nil {
			return err
		}
		e.typ = Type{Kind: Int}
		e.fn = strict(func(args []any) any {
			s := args[0].(string)
			if e.args[0].typ.Kind == Char {
				s = strings.TrimRight(s, " ")
			}
			return int32(len(s)) // Impala's length() counts bytes
		})
	case "substr", "substring":
		if err := argsAre(e, 2, 3, func(i int, t Type) bool {
			if i == 0 {
				return isStringKind(t.Kind)
			}
			return isIntKind(t.Kind)
		}); err != nil {
			return err
		}
		e.typ = str
		e.fn = strict(func(args []any) any {
			s := args[0].(string)
			pos, _ := toInt64(args[1])
			n := int64(len(s))
			switch {
			case pos > 0:
				pos--
			case pos < 0:
				pos += n
			default:
				return ""
			}
			if pos < 0 || pos >= n {
				return ""
			}
			end := n
			if len(args) == 3 {
				l, _ := toInt64(args[2])
				if l <= 0 {
					return ""
				}
				end = min(n, pos+l)
			}
			return s[pos:end]
		})
	case "abs":
		if err := argsAre(e, 1, 1, func(_ int, t Type) bool { return isNumeric(t.Kind) }); err != nil {
			return err
		}
		// Impala widens abs() of an integer by one size, so abs(-128) fits.
		e.typ = e.args[0].typ
		if isIntKind(e.typ.Kind) {
			e.typ.Kind = promote(e.typ.Kind)
		}
		e.fn = strict(func(args []any) any {
			switch x := args[0].(type) {
			case int8:
				return int16(absInt(int64(x)))
			case int16:
				return int32(absInt(int64(x)))
			case int32:
				return absInt(int64(x))
			case int64:
				return absInt(x)
			case float32:
				return float32(math.Abs(float64(x)))
			case float64:
				return math.Abs(x)
			case string:
				return strings.TrimPrefix(x, "-")
			}
			return nil
		})
	case "floor", "ceil", "ceiling", "dfloor", "dceil":
		if err := argsAre(e, 1, 1, func(_ int, t Type) bool { return isNumeric(t.Kind) }); err != nil {
			return err
		}
		up := strings.Contains(e.name, "ceil")
		at := e.args[0].typ
		if at.Kind == Decimal {
			e.typ = decimalType(at.Precision-at.Scale+1, 0)
			e.fn = strict(func(args []any) any {
				r, ok := toRat(args[0])
				if !ok {
					return nil
				}
				q := new(big.Int).Quo(r.Num(), r.Denom())
				if rem := new(big.Rat).Sub(r, new(big.Rat).SetInt(q)); rem.Sign() != 0 {
					if up && rem.Sign() > 0 {
						q.Add(q, big.NewInt(1))
					} else if !up && rem.Sign() < 0 {
						q.Sub(q, big.NewInt(1))
					}
				}
				return decimalFromRat(new(big.Rat).SetInt(q), e.typ)
			})
			return nil
		}
		e.typ = Type{Kind: Double}
		e.fn = strict(func(args []any) any {
			f, _ := toFloat(args[0])
			if up {
				return math.Ceil(f)
			}
			return math.Floor(f)
		})
	case "round", "dround":
		if err := argsAre(e, 1, 2, func(i int, t Type) bool {
			if i == 1 {
				return isIntKind(t.Kind)
			}
			return isNumeric(t.Kind)
		}); err != nil {
			return err
		}
		at := e.args[0].typ
		digits := int64(0)
		if len(e.args) == 2 {
			if !e.args[1].isValue() {
				return unsupported("round() with digits that are not a constant: %s", e.sql())
			}
			digits, _ = toInt64(e.args[1].val)
			digits = max(-38, min(digits, 38))
		}
		switch {
		case at.Kind == Decimal:
			// As Impala: the scale is min(scale, digits) (0 for negative
			// digits), one more digit before the point when rounding drops
			// some after it.
			d := int(max(0, min(digits, int64(at.Scale))))
			before := at.Precision - at.Scale
			if d < at.Scale {
				before++
			}
			if before+d > 38 {
				return noMatch(e)
			}
			e.typ = Type{Kind: Decimal, Precision: before + d, Scale: d}
			e.fn = strict(func(args []any) any {
				r, ok := toRat(args[0])
				if !ok {
					return nil
				}
				if digits < 0 {
					p := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(-digits), nil))
					q, ok := toRat(decimalFromRat(new(big.Rat).Quo(r, p), Type{Kind: Decimal, Precision: 38}))
					if !ok {
						return nil
					}
					r = q.Mul(q, p)
				}
				return decimalFromRat(r, e.typ)
			})
		default:
			e.typ = Type{Kind: Double}
			e.fn = strict(func(args []any) any {
				f, _ := toFloat(args[0])
				p := math.Pow(10, float64(digits))
				return math.Round(f*p) / p
			})
		}
	case "coalesce", "isnull", "ifnull", "nvl":
		if e.name == "coalesce" && len(e.args) == 0 || e.name != "coalesce" && len(e.args) != 2 {
			return noMatch(e)
		}
		t, err := commonType(e.name, e.args)
		if err != nil {
			return err
		}
		e.typ = t
		e.argTypes = typesOf(t, len(e.args))
		e.fn = func(args []any) any {
			for _, a := range args {
				if a != nil {
					return a
				}
			}
			return nil
		}
	case "if":
		if len(e.args) != 3 || !e.args[0].null && e.args[0].typ.Kind != Boolean {
			return noMatch(e)
		}
		t, err := commonType(e.name, e.args[1:])
		if err != nil {
			return err
		}
		e.typ = t
		e.argTypes = append([]Type{{Kind: Boolean}}, typesOf(t, 2)...)
		e.fn = func(args []any) any {
			if args[0] == true {
				return args[1]
			}
			return args[2]
		}
	default:
		if impalaBuiltins[e.name] {
			return unsupported("the builtin function %s()", e.name)
		}
		// FunctionCallExpr.analyze (fe/.../analysis/FunctionCallExpr.java):
		// a name that is no builtin is looked up in the current database.
		return analysisError("%s.%s() unknown for database %s. Currently this db has 0 functions.", env.db, e.name, env.db)
	}
	return nil
}

func typesOf(t Type, n int) []Type {
	ts := make([]Type, n)
	for i := range ts {
		ts[i] = t
	}
	return ts
}

func absInt(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// asciiCase shifts the ASCII letters from..to by delta: Impala's upper()
// and lower() leave other bytes alone (outside UTF-8 mode).
func asciiCase(s string, from, to byte, delta int) string {
	b := []byte(s)
	for i, c := range b {
		if c >= from && c <= to {
			b[i] = byte(int(c) + delta)
		}
	}
	return string(b)
}
