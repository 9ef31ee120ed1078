package impalad

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Kind is an Impala scalar type.
type Kind int

// The Impala scalar types the coordinator serves.
const (
	Boolean Kind = iota
	TinyInt
	SmallInt
	Int
	BigInt
	Float
	Double
	Decimal
	String
	Varchar
	Char
	Timestamp
	Date
	Binary
)

var kindNames = [...]string{"boolean", "tinyint", "smallint", "int", "bigint", "float", "double",
	"decimal", "string", "varchar", "char", "timestamp", "date", "binary"}

// String returns the lower-case Impala name of the kind ("bigint").
func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Type is a column type: a Kind with its parameters.
type Type struct {
	Kind Kind
	// Precision and Scale are set for Decimal.
	Precision, Scale int
	// Length is set for Varchar and Char.
	Length int
}

// String returns the type as Impala prints it in result metadata and
// DESCRIBE: "int", "decimal(10,2)", "varchar(10)", "char(5)".
func (t Type) String() string {
	switch t.Kind {
	case Decimal:
		return fmt.Sprintf("decimal(%d,%d)", t.Precision, t.Scale)
	case Varchar, Char:
		return fmt.Sprintf("%s(%d)", t.Kind, t.Length)
	}
	return t.Kind.String()
}

// Column is one column of a result schema or a table.
type Column struct {
	Name string
	Type Type
}

// FormatValue returns v as Impala prints it in text: beeswax rows and the
// HS2 string columns (TIMESTAMP, DATE, DECIMAL, CHAR, VARCHAR, STRING,
// BINARY). NULL is "NULL"; FLOAT and DOUBLE print as RawValue::PrintValue
// prints them (be/src/runtime/raw-value.cc, at the ASCII_PRECISION of 16
// significant digits that beeswax results use, query-result-set.cc):
// 1000000, 0.1000000014901161 for the FLOAT 0.1, Infinity, -Infinity, NaN.
func FormatValue(t Type, v any) string {
	if v == nil {
		return "NULL"
	}
	switch x := v.(type) {
	case bool:
		if x {
			return "true"
		}
		return "false"
	case int8:
		return strconv.FormatInt(int64(x), 10)
	case int16:
		return strconv.FormatInt(int64(x), 10)
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case int64:
		return strconv.FormatInt(x, 10)
	case float32:
		return printDouble(float64(x))
	case float64:
		return printDouble(x)
	case string:
		return x
	case []byte:
		return string(x)
	case time.Time:
		if t.Kind == Date {
			return x.Format("2006-01-02")
		}
		return formatTimestamp(x)
	}
	return fmt.Sprint(v)
}

// printDouble is a stream's output of a double at precision 16 (printf's
// %.16g), with Java's names for the values that are not finite.
func printDouble(f float64) string { return formatG(f, 16, &javaNonFinite) }

// printDoubleFixed is printDouble for a column with a print scale: that
// many decimals (a stream in std::fixed at that precision).
func printDoubleFixed(f float64, scale int) string {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return printDouble(f)
	}
	return strconv.FormatFloat(f, 'f', scale, 64)
}

// formatTimestamp prints a timestamp as Impala does: no fraction when the
// nanoseconds are zero, nine digits otherwise.
func formatTimestamp(t time.Time) string {
	if t.Nanosecond() == 0 {
		return t.Format("2006-01-02 15:04:05")
	}
	return t.Format("2006-01-02 15:04:05.000000000")
}

// formatDecimal prints an unscaled value with scale digits after the point.
func formatDecimal(unscaled int64, scale int) string {
	neg := unscaled < 0
	u := uint64(unscaled)
	if neg {
		u = -u
	}
	s := strconv.FormatUint(u, 10)
	if scale > 0 {
		if len(s) <= scale {
			s = strings.Repeat("0", scale-len(s)+1) + s
		}
		s = s[:len(s)-scale] + "." + s[len(s)-scale:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// parseType parses an Impala type name as written in SQL: "INT",
// "decimal(10, 2)", "varchar(5)". DECIMAL alone is decimal(9,0), as in Impala.
func parseTypeName(name string, params []int) (Type, error) {
	switch strings.ToLower(name) {
	case "boolean":
		return Type{Kind: Boolean}, nil
	case "tinyint":
		return Type{Kind: TinyInt}, nil
	case "smallint":
		return Type{Kind: SmallInt}, nil
	case "int", "integer":
		return Type{Kind: Int}, nil
	case "bigint":
		return Type{Kind: BigInt}, nil
	case "float", "real":
		return Type{Kind: Float}, nil
	case "double":
		return Type{Kind: Double}, nil
	case "string":
		return Type{Kind: String}, nil
	case "timestamp":
		return Type{Kind: Timestamp}, nil
	case "date":
		return Type{Kind: Date}, nil
	case "binary":
		return Type{Kind: Binary}, nil
	case "decimal":
		t := Type{Kind: Decimal, Precision: 9, Scale: 0}
		if len(params) >= 1 {
			t.Precision = params[0]
		}
		if len(params) >= 2 {
			t.Scale = params[1]
		}
		// As TypeDef.analyzeScalarType (fe/.../analysis/TypeDef.java);
		// more than two parameters are a syntax error there.
		switch {
		case len(params) > 2:
			return Type{}, fmt.Errorf("not supported by the test coordinator: DECIMAL with %d parameters (a syntax error in Impala)", len(params))
		case t.Precision > 38:
			//lint:ignore ST1005 Impala's text, verbatim
			return Type{}, fmt.Errorf("Decimal precision must be <= 38: %d", t.Precision)
		case t.Precision < 1:
			//lint:ignore ST1005 Impala's text, verbatim
			return Type{}, fmt.Errorf("Decimal precision must be > 0: %d", t.Precision)
		case t.Scale > t.Precision:
			//lint:ignore ST1005 Impala's text, verbatim
			return Type{}, fmt.Errorf("Decimal scale (%d) must be <= precision (%d)", t.Scale, t.Precision)
		}
		if t.Precision > 18 {
			// Values are held in an int64; enough for tests.
			return Type{}, fmt.Errorf("not supported by the test coordinator: DECIMAL precision above 18")
		}
		return t, nil
	case "varchar", "char":
		// As TypeDef.analyzeScalarType; a CHAR or VARCHAR(n) without
		// exactly one length is a syntax error there.
		k, what, max := Varchar, "Varchar", 65535
		if strings.EqualFold(name, "char") {
			k, what, max = Char, "Char", 255
		}
		switch {
		case len(params) != 1:
			return Type{}, fmt.Errorf("not supported by the test coordinator: %s with %d parameters (a syntax error in Impala)", strings.ToUpper(name), len(params))
		case params[0] < 1:
			return Type{}, fmt.Errorf("%s size must be > 0: %d", what, params[0])
		case params[0] > max:
			return Type{}, fmt.Errorf("%s size must be <= %d: %d", what, max, params[0])
		}
		return Type{Kind: k, Length: params[0]}, nil
	}
	//lint:ignore ST1005 Impala's text, verbatim (TypeDef.java)
	return Type{}, fmt.Errorf("Unsupported data type: %s", strings.ToUpper(name))
}
