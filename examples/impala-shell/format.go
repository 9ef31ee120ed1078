package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/impalalb/impalalb/conn"
)

// nullText is how impala-shell prints NULL.
const nullText = "NULL"

// formatCell returns the cell as impala-shell prints it.
func formatCell(b *conn.Batch, col, row int) string {
	if b.IsNull(col, row) {
		return nullText
	}
	switch c := b.Column(col); c.Type {
	case conn.TypeNull:
		return nullText
	case conn.TypeBoolean:
		return strconv.FormatBool(b.Bool(col, row))
	case conn.TypeTinyInt, conn.TypeSmallInt, conn.TypeInt, conn.TypeBigInt:
		return strconv.FormatInt(b.Int64(col, row), 10)
	case conn.TypeFloat:
		return strconv.FormatFloat(b.Float64(col, row), 'g', -1, 32)
	case conn.TypeDouble:
		return strconv.FormatFloat(b.Float64(col, row), 'g', -1, 64)
	case conn.TypeBinary:
		return printableBinary(b.Bytes(col, row))
	default:
		return b.String(col, row)
	}
}

// printableBinary returns a BINARY value as text when it is printable UTF-8,
// else with Go escapes (\x00), so that raw bytes cannot upset the terminal.
func printableBinary(v []byte) string {
	s := string(v)
	if utf8.ValidString(s) && strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) < 0 {
		return s
	}
	q := strconv.QuoteToGraphic(s)
	return q[1 : len(q)-1]
}

// tableWriter prints rows as impala-shell does interactively: a box of
// left-aligned columns. It needs every row before it can print.
type tableWriter struct {
	header []string
	rows   [][]string
}

func (t *tableWriter) add(row []string) { t.rows = append(t.rows, row) }

func (t *tableWriter) write(w io.Writer) error {
	widths := make([]int, len(t.header))
	for i, h := range t.header {
		widths[i] = utf8.RuneCountInString(h)
	}
	for _, r := range t.rows {
		for i, c := range r {
			if n := utf8.RuneCountInString(c); n > widths[i] {
				widths[i] = n
			}
		}
	}
	var sb strings.Builder
	sep := func() {
		sb.WriteByte('+')
		for _, n := range widths {
			sb.WriteString(strings.Repeat("-", n+2))
			sb.WriteByte('+')
		}
		sb.WriteByte('\n')
	}
	line := func(cells []string) {
		sb.WriteByte('|')
		for i, c := range cells {
			sb.WriteByte(' ')
			sb.WriteString(c)
			sb.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)+1))
			sb.WriteByte('|')
		}
		sb.WriteByte('\n')
	}
	sep()
	line(t.header)
	sep()
	for _, r := range t.rows {
		line(r)
	}
	sep()
	_, err := io.WriteString(w, sb.String())
	return err
}

// writeDelimited prints one row as -B does: fields joined by delim.
func writeDelimited(w io.Writer, row []string, delim string) error {
	_, err := io.WriteString(w, strings.Join(row, delim)+"\n")
	return err
}

// fetchedLine is impala-shell's closing line of a statement.
func fetchedLine(rows int64, modified bool, d time.Duration) string {
	verb := "Fetched"
	if modified {
		verb = "Modified"
	}
	return fmt.Sprintf("%s %d row(s) in %.2fs", verb, rows, d.Seconds())
}

// oneLine flattens a message to one line.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	s = strings.ReplaceAll(s, "\r", "")
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " \n ")), " ")
}
