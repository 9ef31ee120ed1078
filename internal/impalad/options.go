package impalad

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Query options, as be/src/service/query-options.cc handles them: a name is
// one of TImpalaQueryOptions (any case), a value is checked and normalized
// the way SetQueryOption parses it (booleans print as 1 or 0, memory sizes
// as bytes, enums by name), an empty value resets the option to its
// default. The table itself is queryOptions (impala_tables.go).

// optLevel is an option's TQueryOptionLevel: SET lists the REGULAR and
// ADVANCED ones, SET ALL every one.
type optLevel int

const (
	levelRegular optLevel = iota
	levelAdvanced
	levelDevelopment
	levelDeprecated
	levelRemoved
)

var levelNames = [...]string{"REGULAR", "ADVANCED", "DEVELOPMENT", "DEPRECATED", "REMOVED"}

func (l optLevel) String() string { return levelNames[l] }

// optKind is how SetQueryOption reads an option's value.
type optKind int

const (
	optString   optKind = iota // any text (or a check the test coordinator does not make)
	optBool                    // IsTrue: "true" or "1" (any case) is 1, anything else 0
	optInt32                   // Parse<int32_t>
	optInt64                   // Parse<int64_t>
	optNonNeg32                // ParseAndCheckNonNegative<int32_t>
	optNonNeg64                // ParseAndCheckNonNegative<int64_t>
	optRange32                 // ParseAndCheckInclusiveRange<int32_t>(lo, hi)
	optRange64                 // ParseAndCheckInclusiveRange<int64_t>(lo, hi)
	optMin32                   // ParseAndCheckInclusiveLowerBound<int32_t>(lo)
	optMin64                   // ParseAndCheckInclusiveLowerBound<int64_t>(lo)
	optMem                     // Parse<MemSpec>: bytes, or a number with K, M, G or T
	optDouble                  // Parse<double>
	optEnum                    // GetThriftEnum(desc, enum)
	optRemoved                 // a removed option: accepted and ignored
)

// enumValue is one value of a Thrift enum.
type enumValue struct {
	n    int
	name string
}

// queryOption is one of Impala's query options.
type queryOption struct {
	name   string // the TImpalaQueryOptions name, upper case
	level  optLevel
	def    string // the default, as SET prints it
	kind   optKind
	lo, hi int64
	desc   string // optEnum: how the error names the option's values
	enum   []enumValue
}

// optionsByName maps lower-case option names to their entry.
var optionsByName = func() map[string]*queryOption {
	m := make(map[string]*queryOption, len(queryOptions))
	for i := range queryOptions {
		m[strings.ToLower(queryOptions[i].name)] = &queryOptions[i]
	}
	return m
}()

// lookupOption returns the option named key (any case), or nil.
func lookupOption(key string) *queryOption {
	return optionsByName[strings.ToLower(strings.TrimSpace(key))]
}

// invalidOption is the error of an unknown option name, as
// impala::SetQueryOption words it.
func invalidOption(key string) *sqlError {
	return &sqlError{msg: "Invalid query option: " + key, sqlState: "HY000"}
}

// checkOption checks value for the option named key and returns the
// option's lower-case name and the value as Impala keeps it (empty: reset
// to the default). A removed option gives ok false and no error: Impala
// accepts it and ignores it.
func checkOption(key, value string) (name, norm string, ok bool, err *sqlError) {
	o := lookupOption(key)
	if o == nil {
		return "", "", false, invalidOption(key)
	}
	if o.kind == optRemoved {
		return "", "", false, nil
	}
	name = strings.ToLower(o.name)
	if value == "" {
		return name, "", true, nil
	}
	norm, err = o.normalize(value)
	if err != nil {
		return "", "", false, err
	}
	return name, norm, true, nil
}

// parseFailed is TErrorCode QUERY_OPTION_PARSE_FAILED (be/src/service/query-option-parser.h).
func (o *queryOption) parseFailed(value string) *sqlError {
	return &sqlError{msg: fmt.Sprintf("Failed to parse query option '%s': %s", o.name, value), sqlState: "HY000"}
}

// invalidValue is QueryOptionValidator's error (query-option-parser.h).
func (o *queryOption) invalidValue(what string) *sqlError {
	return &sqlError{msg: fmt.Sprintf("Invalid value for query option %s: %s", o.name, what), sqlState: "HY000"}
}

// normalize parses value as o takes it and prints it as TQueryOptionsToMap does.
func (o *queryOption) normalize(value string) (string, *sqlError) {
	switch o.kind {
	case optBool:
		v := strings.ToLower(value)
		if v == "true" || v == "1" {
			return "1", nil
		}
		return "0", nil
	case optInt32, optNonNeg32, optRange32, optMin32, optInt64, optNonNeg64, optRange64, optMin64:
		bits := 64
		switch o.kind {
		case optInt32, optNonNeg32, optRange32, optMin32:
			bits = 32
		}
		n, err := strconv.ParseInt(strings.TrimSpace(value), 10, bits)
		if err != nil {
			return "", o.parseFailed(value)
		}
		switch o.kind {
		case optNonNeg32, optNonNeg64:
			if n < 0 {
				return "", o.invalidValue(fmt.Sprintf("Value must be non-negative: %d", n))
			}
		case optRange32, optRange64:
			if n < o.lo || n > o.hi {
				return "", o.invalidValue(fmt.Sprintf("%d is not in range [%d, %d]", n, o.lo, o.hi))
			}
		case optMin32, optMin64:
			if n < o.lo {
				return "", o.invalidValue(fmt.Sprintf("Value must be greater than or equal to %d, actual value: %d", o.lo, n))
			}
		}
		return strconv.FormatInt(n, 10), nil
	case optMem:
		n, ok := parseMemSpec(value)
		if !ok {
			return "", o.parseFailed(value)
		}
		return strconv.FormatInt(n, 10), nil
	case optDouble:
		f, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			return "", o.parseFailed(value)
		}
		return strconv.FormatFloat(f, 'f', 6, 64), nil
	case optEnum:
		for _, e := range o.enum {
			if strings.EqualFold(value, e.name) || value == strconv.Itoa(e.n) {
				return e.name, nil
			}
		}
		vals := make([]string, len(o.enum))
		for i, e := range o.enum {
			vals[i] = fmt.Sprintf("%s(%d)", e.name, e.n)
		}
		return "", &sqlError{msg: fmt.Sprintf("Invalid %s: '%s'. Valid values are %s.", o.desc, value, strings.Join(vals, ", ")), sqlState: "HY000"}
	}
	return value, nil
}

// parseMemSpec reads a memory size as ParseUtil::ParseMemSpec does
// (be/src/util/parse-mem-spec.cc): a byte count, or a number followed by
// K, M, G or T (optionally B), -1 meaning none (0). Percentages, which the
// query options refuse, and anything else give false.
func parseMemSpec(s string) (int64, bool) {
	if s == "" {
		return 0, true
	}
	num := s
	if c := num[len(num)-1]; c == 'b' || c == 'B' {
		num = num[:len(num)-1]
	}
	mult := int64(-1)
	if num != "" {
		switch num[len(num)-1] {
		case 't', 'T':
			mult = 1 << 40
		case 'g', 'G':
			mult = 1 << 30
		case 'm', 'M':
			mult = 1 << 20
		case 'k', 'K':
			mult = 1 << 10
		}
	}
	var n int64
	if mult > 0 {
		f, err := strconv.ParseFloat(strings.TrimSpace(num[:len(num)-1]), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f*float64(mult)) > math.MaxInt64 {
			return 0, false
		}
		n = int64(float64(mult) * f)
	} else {
		v, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
		if err != nil {
			return 0, false
		}
		n = v
	}
	if n == -1 {
		return 0, true
	}
	return n, n >= 0
}

// optionValue returns the option with lower-case name k: its value in
// set, or its default.
func optionValue(set map[string]string, k string) string {
	if v, ok := set[k]; ok {
		return v
	}
	if o := optionsByName[k]; o != nil {
		return o.def
	}
	return ""
}

// optionRows lists the options as SET does (ClientRequestState::
// PopulateResultForSet in be/src/service/client-request-state.cc): name,
// value (set values over defaults) and level, sorted by name; without all,
// only the REGULAR and ADVANCED ones.
func optionRows(set map[string]string, all bool) [][]any {
	names := make([]string, 0, len(queryOptions))
	for _, o := range queryOptions {
		if all || o.level == levelRegular || o.level == levelAdvanced {
			names = append(names, o.name)
		}
	}
	sort.Strings(names)
	rows := make([][]any, 0, len(names))
	for _, n := range names {
		o := optionsByName[strings.ToLower(n)]
		v := o.def
		if sv, ok := set[strings.ToLower(n)]; ok {
			v = sv
		}
		rows = append(rows, []any{n, v, o.level.String()})
	}
	return rows
}

// optionMap is every option by name with its value, as OpenSession's
// configuration carries them (TQueryOptionsToMap).
func optionMap(set map[string]string) map[string]string {
	m := make(map[string]string, len(queryOptions)+1)
	for _, o := range queryOptions {
		v := o.def
		if sv, ok := set[strings.ToLower(o.name)]; ok {
			v = sv
		}
		m[o.name] = v
	}
	return m
}
