package conn

import (
	"strconv"
	"strings"

	"github.com/impalalb/impalalb/internal/thrift/gen/tcli"
)

// Type is the Impala type of a result column.
type Type uint8

// The Impala column types. TypeOther covers whatever a coordinator may send
// that is not a scalar (ARRAY, MAP, STRUCT rendered as text) or is unknown;
// its values are strings.
const (
	TypeOther Type = iota
	TypeBoolean
	TypeTinyInt
	TypeSmallInt
	TypeInt
	TypeBigInt
	TypeFloat
	TypeDouble
	TypeDecimal
	TypeString
	TypeVarchar
	TypeChar
	TypeTimestamp
	TypeDate
	TypeBinary
	TypeNull
)

var typeNames = [...]string{
	TypeOther:     "OTHER",
	TypeBoolean:   "BOOLEAN",
	TypeTinyInt:   "TINYINT",
	TypeSmallInt:  "SMALLINT",
	TypeInt:       "INT",
	TypeBigInt:    "BIGINT",
	TypeFloat:     "FLOAT",
	TypeDouble:    "DOUBLE",
	TypeDecimal:   "DECIMAL",
	TypeString:    "STRING",
	TypeVarchar:   "VARCHAR",
	TypeChar:      "CHAR",
	TypeTimestamp: "TIMESTAMP",
	TypeDate:      "DATE",
	TypeBinary:    "BINARY",
	TypeNull:      "NULL",
}

// String returns the type's name as Impala prints it, upper case ("INT",
// "DECIMAL").
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "Type(" + strconv.Itoa(int(t)) + ")"
}

// Column describes one result column.
type Column struct {
	// Name is the column label the coordinator gave.
	Name string
	// Type is the column's Impala type.
	Type Type
	// TypeName is the upper-case type name without parameters ("DECIMAL",
	// "VARCHAR"); for TypeOther it is what the coordinator sent ("ARRAY").
	TypeName string
	// Precision and Scale are a DECIMAL's, zero for other types, and
	// UnknownSize when the coordinator did not say: beeswax names the type
	// "decimal" without them (ColumnTypeToBeeswaxTypeString in Impala's
	// be/src/service/impala-beeswax-server.cc).
	Precision, Scale int
	// Length is the declared length of a CHAR or VARCHAR, zero for other
	// types, and UnknownSize when the coordinator did not say: beeswax
	// names the type "char" without it (and a VARCHAR "string").
	Length int
	// Nullable is always true: Impala does not say whether a result column
	// can hold NULL, so every column may.
	Nullable bool
}

// UnknownSize is a [Column]'s Precision, Scale or Length that the
// coordinator did not report.
const UnknownSize = -1

// typeFromHS2 maps an HS2 type id to a Type.
func typeFromHS2(id tcli.TTypeId) (Type, string) {
	switch id {
	case tcli.TTypeId_BOOLEAN_TYPE:
		return TypeBoolean, ""
	case tcli.TTypeId_TINYINT_TYPE:
		return TypeTinyInt, ""
	case tcli.TTypeId_SMALLINT_TYPE:
		return TypeSmallInt, ""
	case tcli.TTypeId_INT_TYPE:
		return TypeInt, ""
	case tcli.TTypeId_BIGINT_TYPE:
		return TypeBigInt, ""
	case tcli.TTypeId_FLOAT_TYPE:
		return TypeFloat, ""
	case tcli.TTypeId_DOUBLE_TYPE:
		return TypeDouble, ""
	case tcli.TTypeId_DECIMAL_TYPE:
		return TypeDecimal, ""
	case tcli.TTypeId_STRING_TYPE:
		return TypeString, ""
	case tcli.TTypeId_VARCHAR_TYPE:
		return TypeVarchar, ""
	case tcli.TTypeId_CHAR_TYPE:
		return TypeChar, ""
	case tcli.TTypeId_TIMESTAMP_TYPE:
		return TypeTimestamp, ""
	case tcli.TTypeId_DATE_TYPE:
		return TypeDate, ""
	case tcli.TTypeId_BINARY_TYPE:
		return TypeBinary, ""
	case tcli.TTypeId_NULL_TYPE:
		return TypeNull, ""
	}
	name := strings.TrimSuffix(id.String(), "_TYPE")
	if name == "<UNSET>" || name == "" {
		name = "OTHER"
	}
	return TypeOther, name
}

// columnsFromSchema converts an HS2 result schema.
func columnsFromSchema(s *tcli.TTableSchema) []Column {
	if s == nil {
		return nil
	}
	cols := make([]Column, len(s.Columns))
	for i, cd := range s.Columns {
		c := Column{Nullable: true, Type: TypeOther, TypeName: "OTHER"}
		if cd != nil {
			c.Name = cd.ColumnName
			if td := cd.TypeDesc; td != nil && len(td.Types) > 0 && td.Types[0] != nil {
				te := td.Types[0]
				switch {
				case te.PrimitiveEntry != nil:
					t, other := typeFromHS2(te.PrimitiveEntry.Type)
					c.Type = t
					c.TypeName = t.String()
					if t == TypeOther {
						c.TypeName = other
					}
					q := te.PrimitiveEntry.TypeQualifiers
					switch t {
					case TypeDecimal:
						c.Precision = qualifier(q, tcli.PRECISION)
						c.Scale = qualifier(q, tcli.SCALE)
					case TypeChar, TypeVarchar:
						c.Length = qualifier(q, tcli.CHARACTER_MAXIMUM_LENGTH)
					}
				case te.ArrayEntry != nil:
					c.TypeName = "ARRAY"
				case te.MapEntry != nil:
					c.TypeName = "MAP"
				case te.StructEntry != nil:
					c.TypeName = "STRUCT"
				}
			}
		}
		cols[i] = c
	}
	return cols
}

// qualifier returns a type qualifier (a DECIMAL's precision or scale, a
// CHAR's or VARCHAR's length), UnknownSize when q lacks it.
func qualifier(q *tcli.TTypeQualifiers, key string) int {
	if q == nil {
		return UnknownSize
	}
	v, ok := q.Qualifiers[key]
	if !ok || v == nil || v.I32Value == nil || *v.I32Value < 0 {
		return UnknownSize
	}
	return int(*v.I32Value)
}

// typeParam parses one type parameter of a beeswax type name,
// UnknownSize when there is none or it is not a number.
func typeParam(s string) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 {
		return UnknownSize
	}
	return n
}

// columnFromTypeName parses a beeswax column type. Impala prints it
// without parameters ("int", "decimal", "char", "string" for a VARCHAR,
// "string" for ARRAY, MAP and STRUCT: TypeToOdbcString in
// be/src/runtime/types.cc), so a DECIMAL's precision and scale and a CHAR's
// length are UnknownSize; parameters, when a server gives them
// ("decimal(10,2)", "char(3)"), are taken.
func columnFromTypeName(name, typ string) Column {
	c := Column{Name: name, Nullable: true}
	base, params, _ := strings.Cut(strings.TrimSpace(typ), "(")
	base = strings.ToUpper(strings.TrimSpace(base))
	params = strings.TrimSuffix(strings.TrimSpace(params), ")")
	switch base {
	case "BOOLEAN":
		c.Type = TypeBoolean
	case "TINYINT":
		c.Type = TypeTinyInt
	case "SMALLINT":
		c.Type = TypeSmallInt
	case "INT", "INTEGER":
		c.Type = TypeInt
	case "BIGINT":
		c.Type = TypeBigInt
	case "FLOAT", "REAL":
		c.Type = TypeFloat
	case "DOUBLE":
		c.Type = TypeDouble
	case "DECIMAL":
		c.Type = TypeDecimal
		p, s, _ := strings.Cut(params, ",")
		c.Precision, c.Scale = typeParam(p), typeParam(s)
	case "STRING":
		c.Type = TypeString
	case "VARCHAR":
		c.Type = TypeVarchar
		c.Length = typeParam(params)
	case "CHAR":
		c.Type = TypeChar
		c.Length = typeParam(params)
	case "TIMESTAMP":
		c.Type = TypeTimestamp
	case "DATE":
		c.Type = TypeDate
	case "BINARY":
		c.Type = TypeBinary
	case "NULL":
		c.Type = TypeNull
	default:
		c.Type = TypeOther
		if i := strings.IndexAny(base, "<"); i >= 0 {
			base = base[:i]
		}
		if base == "" {
			base = "OTHER"
		}
		c.TypeName = base
		return c
	}
	c.TypeName = c.Type.String()
	return c
}
