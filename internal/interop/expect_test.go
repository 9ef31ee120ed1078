package interop

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/impalalb/impalalb/internal/impalad"
)

// Expected renderings of gen.rows_N, computed from impalad.GenValue.

// shellStyle says how impala-shell prints a value in delimited output (-B).
type shellStyle int

const (
	// styleBeeswax: the server's text rows, printed as they come.
	styleBeeswax shellStyle = iota
	// styleHS2: the shell formats typed columns itself (Python's float
	// repr for FLOAT and DOUBLE).
	styleHS2
)

// pyFloat is Python's repr of a float of moderate size: shortest digits,
// always with a point.
func pyFloat(f float64) string {
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsAny(s, ".eEn") {
		s += ".0"
	}
	return s
}

// shellRows is gen.rows_n as impala-shell -B prints it, one line per row.
func shellRows(n int, style shellStyle) []string {
	schema := impalad.GenSchema()
	lines := make([]string, n)
	for r := range n {
		f := make([]string, len(schema))
		for c, col := range schema {
			v := impalad.GenValue(c, int64(r))
			switch x := v.(type) {
			case float32:
				if style == styleHS2 {
					f[c] = pyFloat(float64(x))
					continue
				}
			case float64:
				if style == styleHS2 {
					f[c] = pyFloat(x)
					continue
				}
			}
			f[c] = impalad.FormatValue(col.Type, v)
		}
		lines[r] = strings.Join(f, "\t")
	}
	return lines
}

// pyValue is how impyla hands a value of gen.rows_N to Python, rendered
// by impyla_check.py: NULL, bool, int, float repr, Decimal, str,
// datetime (microseconds, truncated), date, and bytes as 0x hex.
func pyValue(t impalad.Type, v any) string {
	if v == nil {
		return "None"
	}
	switch x := v.(type) {
	case bool:
		if x {
			return "True"
		}
		return "False"
	case float32:
		return "float:" + pyFloat(float64(x))
	case float64:
		return "float:" + pyFloat(x)
	case int8, int16, int32, int64:
		return fmt.Sprintf("int:%d", x)
	case []byte:
		return fmt.Sprintf("bytes:0x%x", x)
	case time.Time:
		if t.Kind == impalad.Date {
			return "date:" + x.Format("2006-01-02")
		}
		s := x.Format("2006-01-02 15:04:05")
		if us := x.Nanosecond() / 1000; us != 0 {
			s += fmt.Sprintf(".%06d", us)
		}
		return "datetime:" + s
	case string:
		if t.Kind == impalad.Decimal {
			return "Decimal:" + x
		}
		return "str:" + x
	}
	return fmt.Sprintf("?%T", v)
}
