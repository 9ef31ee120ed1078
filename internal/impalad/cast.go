package impalad

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// castValue converts v (of type from) to type to, as CAST does in Impala
// (be/src/exprs/cast-functions-ir.cc, decimal-operators-ir.cc). A string
// that is no number, timestamp or boolean becomes NULL; the conversions
// Impala fails at run time raise a udfError (see raise): a DECIMAL or a
// floating-point value out of the target's range, a string that is no
// DECIMAL or DATE. The *sqlError is for a cast between types Impala has no
// cast for.
//
//nolint:gocognit // Impala's CAST rules, one case per source type: a table read best whole
func castValue(v any, from, to Type) (any, *sqlError) {
	if v == nil {
		return nil, nil
	}
	switch to.Kind {
	case Boolean:
		switch x := v.(type) {
		case bool:
			return x, nil
		case string:
			switch strings.ToLower(strings.TrimSpace(x)) {
			case "true", "1":
				return true, nil
			case "false", "0":
				return false, nil
			}
			return nil, nil
		}
		if r, ok := toRat(v); ok {
			return r.Sign() != 0, nil
		}
	case TinyInt, SmallInt, Int, BigInt:
		var n int64
		switch x := v.(type) {
		case bool:
			if x {
				n = 1
			}
		case string:
			if from.Kind == Decimal {
				n = decimalToInt(x, to)
				break
			}
			i, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
			if err != nil {
				return nil, nil
			}
			n = i
		case float32:
			n = floatToInt(float64(x), "FLOAT", to)
		case float64:
			n = floatToInt(x, "DOUBLE", to)
		default:
			i, ok := toInt64(v)
			if !ok {
				return nil, analysisError("Invalid type cast of %s from %s to %s", FormatValue(from, v), from, to)
			}
			n = i
		}
		// Between integer types, C's conversion: the value wraps.
		return narrowInt(n, to.Kind), nil
	case Float, Double:
		f, ok := toFloat(v)
		if !ok {
			if s, isStr := v.(string); isStr {
				var err error
				f, err = strconv.ParseFloat(strings.TrimSpace(s), 64)
				if err != nil && !errors.Is(err, strconv.ErrRange) {
					return nil, nil
				}
			} else {
				return nil, analysisError("Invalid type cast of %s from %s to %s", FormatValue(from, v), from, to)
			}
		}
		if to.Kind == Float {
			if from.Kind == Double && !math.IsNaN(f) && !math.IsInf(f, 0) && math.Abs(f) > math.MaxFloat32 {
				raise(fmt.Sprintf("Converting value %s of type DOUBLE to FLOAT failed, value out of range for destination type.", doubleToString(f)))
			}
			return float32(f), nil
		}
		return f, nil
	case Decimal:
		var r *big.Rat
		if s, ok := v.(string); ok && from.Kind != Decimal {
			var good bool
			r, good = ratFromString(strings.TrimSpace(s))
			if !good {
				raise("String to Decimal parse failed")
			}
			out := decimalFromRat(r, to)
			if out == nil {
				raise("String to Decimal cast overflowed")
			}
			return out, nil
		}
		var good bool
		r, good = toRat(v)
		if !good {
			if f, isFloat := toFloat(v); isFloat && (math.IsNaN(f) || math.IsInf(f, 0)) {
				raise("Decimal expression overflowed")
			}
			return nil, analysisError("Invalid type cast of %s from %s to %s", FormatValue(from, v), from, to)
		}
		// Rounded half away from zero to the scale (DECIMAL_V2).
		out := decimalFromRat(r, to)
		if out == nil {
			raise("Decimal expression overflowed")
		}
		return out, nil
	case String:
		return castToString(from, v), nil
	case Varchar, Char:
		s := castToString(from, v)
		if utf8.RuneCountInString(s) > to.Length {
			rs := []rune(s)
			s = string(rs[:to.Length])
		}
		if to.Kind == Char {
			for n := utf8.RuneCountInString(s); n < to.Length; n++ {
				s += " "
			}
		}
		return s, nil
	case Timestamp:
		switch x := v.(type) {
		case time.Time:
			return x, nil
		case string:
			t, ok := parseTimestamp(strings.TrimSpace(x))
			if !ok {
				return nil, nil
			}
			return t, nil
		}
	case Date:
		switch x := v.(type) {
		case time.Time:
			return time.Date(x.Year(), x.Month(), x.Day(), 0, 0, 0, 0, time.UTC), nil
		case string:
			t, err := time.Parse("2006-01-02", strings.TrimSpace(x))
			if err != nil {
				raise(fmt.Sprintf("String to Date parse failed. Invalid string val: '%s'", x))
			}
			return t, nil
		}
	case Binary:
		switch x := v.(type) {
		case string:
			return []byte(x), nil
		case []byte:
			return x, nil
		}
	}
	return nil, analysisError("Invalid type cast of %s from %s to %s", FormatValue(from, v), from, to)
}

// safeCast is castValue with a run-time error returned as the statement's
// error.
func safeCast(v any, from, to Type) (out any, err *sqlError) {
	defer recoverUDF(&err)
	return castValue(v, from, to)
}

// decimalToInt is CAST(decimal AS integer) with DECIMAL_V2: rounded half
// away from zero (DecimalValue::ToInt, be/src/runtime/decimal-value.inline.h),
// an error when out of the target's range.
func decimalToInt(s string, to Type) int64 {
	r, ok := ratFromString(s)
	if !ok {
		return 0
	}
	num, den := r.Num(), r.Denom()
	q, m := new(big.Int).QuoRem(num, den, new(big.Int))
	if new(big.Int).Mul(new(big.Int).Abs(m), big.NewInt(2)).Cmp(den) >= 0 {
		q.Add(q, big.NewInt(int64(num.Sign())))
	}
	lo, hi := intRange(to.Kind)
	if !q.IsInt64() || q.Int64() < lo || q.Int64() > hi {
		raise("Decimal expression overflowed")
	}
	return q.Int64()
}

// floatToInt is CAST(float or double AS integer): the fraction dropped, an
// error for a value out of the target's range (Validate in
// cast-functions-ir.cc; bounds exclusive for 64-bit targets, and for 32-bit
// ones from FLOAT, whose bounds are not exact).
func floatToInt(f float64, fromName string, to Type) int64 {
	toName := strings.ToUpper(to.Kind.String())
	switch {
	case math.IsNaN(f):
		raise(fmt.Sprintf("NaN value of type %s cannot be converted to %s.", fromName, toName))
	case math.IsInf(f, 0):
		raise(fmt.Sprintf("Non-finite value of type %s cannot be converted to %s.", fromName, toName))
	}
	lo, hi := intRange(to.Kind)
	flo, fhi := float64(lo), float64(hi)
	if fromName == "FLOAT" {
		flo, fhi = float64(float32(lo)), float64(float32(hi))
	}
	exact := to.Kind == TinyInt || to.Kind == SmallInt || to.Kind == Int && fromName == "DOUBLE"
	if exact && (f < flo || f > fhi) || !exact && (f <= flo || f >= fhi) {
		num := doubleToString(f)
		if fromName == "FLOAT" {
			num = floatToString(float32(f))
		}
		raise(fmt.Sprintf("Converting value %s of type %s to %s failed, value out of range for destination type.", num, fromName, toName))
	}
	return int64(f)
}

// intRange is the range of an integer kind.
func intRange(k Kind) (int64, int64) {
	switch k {
	case TinyInt:
		return math.MinInt8, math.MaxInt8
	case SmallInt:
		return math.MinInt16, math.MaxInt16
	case Int:
		return math.MinInt32, math.MaxInt32
	}
	return math.MinInt64, math.MaxInt64
}

// castToString is CAST(v AS STRING): floating-point values as
// CastToStringVal prints them (FloatToBuffer, DoubleToBuffer), the rest as
// text.
func castToString(from Type, v any) string {
	switch x := v.(type) {
	case float32:
		if math.IsNaN(float64(x)) {
			return "nan"
		}
		return floatToString(x)
	case float64:
		if math.IsNaN(x) {
			return "nan"
		}
		return doubleToString(x)
	}
	return FormatValue(from, v)
}

// cNonFinite are C's names of infinities and NaN (printf), javaNonFinite
// Java's, which RawValue::PrintValue uses.
var (
	cNonFinite    = [3]string{"inf", "-inf", "nan"}
	javaNonFinite = [3]string{"Infinity", "-Infinity", "NaN"}
)

// formatG is printf's "%.*g" of f, its values that are not finite (+Inf,
// -Inf, NaN) spelled as names says.
func formatG(f float64, prec int, names *[3]string) string {
	switch {
	case math.IsInf(f, 1):
		return names[0]
	case math.IsInf(f, -1):
		return names[1]
	case math.IsNaN(f):
		return names[2]
	}
	return strconv.FormatFloat(f, 'g', prec, 64)
}

// cFormatG is C's printf("%.*g", prec, f).
func cFormatG(f float64, prec int) string { return formatG(f, prec, &cNonFinite) }

// doubleToString is DoubleToBuffer (be/src/gutil/strings/numbers.cc):
// 15 significant digits, or 17 when 15 do not read back as the value.
func doubleToString(f float64) string {
	s := cFormatG(f, 15)
	if back, err := strconv.ParseFloat(s, 64); err == nil && back == f || math.IsInf(f, 0) {
		return s
	}
	return cFormatG(f, 17)
}

// floatToString is FloatToBuffer: 6 significant digits, or 8.
func floatToString(f float32) string {
	s := cFormatG(float64(f), 6)
	if back, err := strconv.ParseFloat(s, 32); err == nil && float32(back) == f || math.IsInf(float64(f), 0) {
		return s
	}
	return cFormatG(float64(f), 8)
}

func parseTimestamp(s string) (time.Time, bool) {
	for _, layout := range []string{"2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float32:
		return float64(x), true
	case float64:
		return x, true
	case int8:
		return float64(x), true
	case int16:
		return float64(x), true
	case int32:
		return float64(x), true
	case int64:
		return float64(x), true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	}
	if r, ok := toRat(v); ok {
		f, _ := r.Float64()
		return f, true
	}
	return 0, false
}

// toRat converts a numeric value (a decimal is its string) to a big.Rat.
func toRat(v any) (*big.Rat, bool) {
	switch x := v.(type) {
	case int8:
		return new(big.Rat).SetInt64(int64(x)), true
	case int16:
		return new(big.Rat).SetInt64(int64(x)), true
	case int32:
		return new(big.Rat).SetInt64(int64(x)), true
	case int64:
		return new(big.Rat).SetInt64(x), true
	case float32:
		r := new(big.Rat)
		if r.SetFloat64(float64(x)) == nil {
			return nil, false
		}
		return r, true
	case float64:
		r := new(big.Rat)
		if r.SetFloat64(x) == nil {
			return nil, false
		}
		return r, true
	case string:
		return ratFromString(x)
	}
	return nil, false
}

// ratFromString parses a decimal number. Exponents go through float64, so
// a hostile "1e999999999" cannot make big.Rat build a huge power of ten.
func ratFromString(s string) (*big.Rat, bool) {
	if len(s) > 100 {
		return nil, false
	}
	if strings.ContainsAny(s, "eE") {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, false
		}
		r := new(big.Rat)
		if r.SetFloat64(f) == nil {
			return nil, false
		}
		return r, true
	}
	return new(big.Rat).SetString(s)
}
