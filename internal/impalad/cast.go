package impalad

import (
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// castValue converts v (of type from) to type to, as CAST does in Impala
// for the cases the tests need. A value that does not convert becomes NULL,
// as Impala's CAST of a malformed string does.
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
			i, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
			if err != nil {
				return nil, nil
			}
			n = i
		case float32, float64:
			f, _ := toFloat(v)
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, nil
			}
			n = int64(f)
		default:
			r, ok := toRat(v)
			if !ok {
				return nil, analysisError("Invalid type cast of %s from %s to %s", FormatValue(from, v), from, to)
			}
			q := new(big.Int).Quo(r.Num(), r.Denom())
			n = q.Int64()
		}
		switch to.Kind {
		case TinyInt:
			return int8(n), nil
		case SmallInt:
			return int16(n), nil
		case Int:
			return int32(n), nil
		}
		return n, nil
	case Float, Double:
		f, ok := toFloat(v)
		if !ok {
			if s, isStr := v.(string); isStr {
				var err error
				f, err = strconv.ParseFloat(strings.TrimSpace(s), 64)
				if err != nil {
					return nil, nil
				}
			} else {
				return nil, analysisError("Invalid type cast of %s from %s to %s", FormatValue(from, v), from, to)
			}
		}
		if to.Kind == Float {
			return float32(f), nil
		}
		return f, nil
	case Decimal:
		var r *big.Rat
		if s, ok := v.(string); ok && from.Kind != Decimal {
			var good bool
			r, good = ratFromString(strings.TrimSpace(s))
			if !good {
				return nil, nil
			}
		} else {
			var good bool
			r, good = toRat(v)
			if !good {
				return nil, analysisError("Invalid type cast of %s from %s to %s", FormatValue(from, v), from, to)
			}
		}
		// Rounded half away from zero to the scale; overflow is NULL, as
		// Impala's.
		return decimalFromRat(r, to), nil
	case String:
		return FormatValue(from, v), nil
	case Varchar, Char:
		s := FormatValue(from, v)
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
				return nil, nil
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
