package impalad

// Implicit type compatibility, as Impala's frontend decides it for INSERT
// and for the rows of VALUES: ScalarType.getAssignmentCompatibleType
// (fe/src/main/java/org/apache/impala/catalog/ScalarType.java) over the
// matrix of DefaultCompatibility and BinaryCompatibility (same package),
// with DECIMAL widened by TypesUtil.getDecimalAssignmentCompatibleType.

// compatRank is a kind's position in Impala's PrimitiveType enum, which
// orders the lookups of the compatibility matrix (smaller first).
var compatRank = [...]int{
	Boolean: 2, TinyInt: 3, SmallInt: 4, Int: 5, BigInt: 6, Float: 7, Double: 8,
	Timestamp: 10, Date: 11, String: 12, Varchar: 13, Binary: 14, Decimal: 15, Char: 16,
}

// compatKind is the matrix entry for kinds a and b, a ranked before b (or
// equal): the kind both are assignable to, or false for INVALID_TYPE.
func compatKind(a, b Kind) (Kind, bool) {
	if a == b {
		return a, true
	}
	if a == Binary || b == Binary {
		return 0, false
	}
	switch a {
	case Boolean:
		if isIntKind(b) || isFloatKind(b) {
			return b, true
		}
	case TinyInt, SmallInt, Int, BigInt:
		if isIntKind(b) || isFloatKind(b) || b == Decimal {
			return b, true
		}
	case Float, Double:
		switch b {
		case Double:
			return Double, true
		case Decimal:
			return a, true
		}
	case Timestamp:
		if b == Date || b == String {
			return Timestamp, true
		}
	case Date:
		if b == String {
			return Date, true
		}
	case String:
		if b == Varchar || b == Char {
			return String, true
		}
	case Varchar:
		if b == Char {
			return Varchar, true
		}
	}
	return 0, false
}

// minResolutionDecimal is ScalarType.getMinResolutionDecimal for the kinds
// that reach the DECIMAL rule.
func minResolutionDecimal(t Type) Type {
	switch t.Kind {
	case TinyInt:
		return Type{Kind: Decimal, Precision: 3}
	case SmallInt:
		return Type{Kind: Decimal, Precision: 5}
	case Int:
		return Type{Kind: Decimal, Precision: 10}
	case BigInt:
		return Type{Kind: Decimal, Precision: 19}
	}
	return t
}

// decimalSupertype is ScalarType.isSupertypeOf: a holds every value of b.
func decimalSupertype(a, b Type) bool {
	return a.Scale >= b.Scale && a.Precision-a.Scale >= b.Precision-b.Scale
}

// assignCompatible is the type values of t1 and t2 can both be assigned to;
// false when there is none. A NULL literal takes the other's type.
func assignCompatible(t1 Type, null1 bool, t2 Type, null2 bool) (Type, bool) {
	switch {
	case t1 == t2:
		return t1, true
	case null1:
		return t2, true
	case null2:
		return t1, true
	}
	a, b := t1, t2
	if compatRank[a.Kind] > compatRank[b.Kind] {
		a, b = b, a
	}
	k, ok := compatKind(a.Kind, b.Kind)
	if !ok {
		return Type{}, false
	}
	switch k {
	case Varchar, Char:
		return Type{Kind: k, Length: max(t1.Length, t2.Length)}, true
	case Decimal:
		d1, d2 := minResolutionDecimal(t1), minResolutionDecimal(t2)
		switch {
		case d1 == d2:
			return d1, true
		case decimalSupertype(d1, d2):
			return t1, true
		case decimalSupertype(d2, d1):
			return t2, true
		}
		s := max(d1.Scale, d2.Scale)
		return decimalType(max(d1.Precision-d1.Scale, d2.Precision-d2.Scale)+s, s), true
	}
	return Type{Kind: k}, true
}
