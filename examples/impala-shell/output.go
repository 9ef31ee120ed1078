package main

import (
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/rivo/uniseg"
)

// The output formats of impala-shell 4.6 (shell/impala_shell/shell_output.py
// and value_converter.py in apache/impala), rebuilt from their rules:
//
//   - a pretty table is Python's prettytable 2.5 with every column
//     left-aligned, one table per fetched batch: a cell is split at '\n'
//     into lines, a column is as wide as its widest line as wcwidth's
//     wcswidth measures it, and each line is padded to that width;
//   - -B is Python's csv.writer with the delimiter, lineterminator "\n" and
//     QUOTE_MINIMAL: a field holding the delimiter, a '"' or a '\n' is
//     quoted, its '"' doubled, and a row of one empty field is written "";
//   - -E (vertical) is the same writer with "\n" as the delimiter;
//   - HS2 values are str() of the Python value: booleans "true"/"false",
//     FLOAT and DOUBLE as Python's repr of a double, BINARY decoded as UTF-8
//     with U+FFFD for bad bytes; beeswax rows are the coordinator's text
//     split at tabs.

// pyFloat formats a double as Python's str(float) does (repr): the
// shortest digits that read back to the same value, in positional form
// with at least one decimal ("1000000.0", "0.0001") when the decimal
// exponent is from -4 to 15, else in exponent form with at least two
// exponent digits ("1e+16", "1e-05"); "inf", "-inf", "nan".
func pyFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	e := strconv.FormatFloat(f, 'e', -1, 64) // d[.ddd]e±XX, at least two exponent digits
	i := strings.IndexByte(e, 'e')
	exp, _ := strconv.Atoi(e[i+1:])
	if exp < -4 || exp >= 16 {
		return e
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsRune(s, '.') {
		s += ".0"
	}
	return s
}

// pyUTF8 decodes bytes as Python's bytes.decode(errors='replace') does:
// each maximal invalid subsequence becomes one U+FFFD (the Unicode
// standard's "substitution of maximal subparts").
func pyUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var sb strings.Builder
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r != utf8.RuneError || n > 1 {
			sb.Write(b[:n])
			b = b[n:]
			continue
		}
		sb.WriteRune(utf8.RuneError)
		b = b[maximalSubpart(b):]
	}
	return sb.String()
}

// maximalSubpart returns the length of the invalid sequence at the start of
// b: the longest prefix that starts a well-formed sequence, at least 1.
func maximalSubpart(b []byte) int {
	c := b[0]
	var need int
	lo, hi := byte(0x80), byte(0xBF) // bounds of the second byte
	switch {
	case c >= 0xC2 && c <= 0xDF:
		need = 1
	case c == 0xE0:
		need, lo = 2, 0xA0
	case c >= 0xE1 && c <= 0xEC, c == 0xEE, c == 0xEF:
		need = 2
	case c == 0xED:
		need, hi = 2, 0x9F
	case c == 0xF0:
		need, lo = 3, 0x90
	case c >= 0xF1 && c <= 0xF3:
		need = 3
	case c == 0xF4:
		need, hi = 3, 0x8F
	default:
		return 1
	}
	n := 1
	for n <= need && n < len(b) {
		x := b[n]
		if n == 1 && (x < lo || x > hi) || n > 1 && (x < 0x80 || x > 0xBF) {
			break
		}
		n++
	}
	return n
}

// zeroWidth are the general categories a terminal draws in no cell:
// combining marks, format characters and the line and paragraph
// separators.
var zeroWidth = []*unicode.RangeTable{unicode.Mn, unicode.Me, unicode.Mc, unicode.Cf, unicode.Zl, unicode.Zp}

// runeWidth is wcwidth's width of one character: -1 for a C0 or C1 control
// character, 0 for NUL, a combining mark, a format character (but SOFT
// HYPHEN, 1), a Hangul medial vowel or final consonant and an emoji skin
// tone modifier, 2 for East Asian Wide and Fullwidth characters (as uniseg
// knows them, Unicode 15.0), 1 for the rest.
func runeWidth(r rune) int {
	switch {
	case r == 0:
		return 0
	case r < 0x20 || r >= 0x7f && r < 0xa0:
		return -1
	case r < 0x7f:
		return 1
	case r == 0xad:
		return 1
	case unicode.In(r, zeroWidth...),
		r >= 0x1160 && r <= 0x11ff, r >= 0xd7b0 && r <= 0xd7ff, // Hangul Jungseong and Jongseong
		r >= 0x1f3fb && r <= 0x1f3ff: // emoji modifiers
		return 0
	case r >= 0x1f1e6 && r <= 0x1f1ff:
		// Regional indicators are East Asian Width "N": a flag, two of
		// them, takes two cells.
		return 1
	}
	if uniseg.StringWidth(string(r)) == 2 {
		return 2
	}
	return 1
}

// widensWithVS16 reports whether a narrow character followed by VARIATION
// SELECTOR-16 (emoji presentation) takes two cells: the keycap bases and the
// pictographs uniseg draws wide in emoji presentation.
func widensWithVS16(r rune) bool {
	if r == '#' || r == '*' || r >= '0' && r <= '9' {
		return true
	}
	return r >= 0x80 && runeWidth(r) == 1 && uniseg.StringWidth(string(r)+"\ufe0f") == 2
}

// displayWidth is wcwidth.wcswidth: the cells a line takes on a terminal,
// -1 when it holds a control character (prettytable then pads it as if it
// were one cell narrower than nothing). A ZERO WIDTH JOINER and the
// character after it count for nothing; VARIATION SELECTOR-16 adds a cell
// to the narrow character before it that it turns into an emoji.
func displayWidth(s string) int {
	w := 0
	var last rune = -1 // the last character that took cells, for VS16
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		switch {
		case r == 0x200d:
			if i < len(s) {
				_, n = utf8.DecodeRuneInString(s[i:])
				i += n
			}
			continue
		case r == 0xfe0f && last >= 0:
			if widensWithVS16(last) {
				w++
			}
			last = -1
			continue
		}
		rw := runeWidth(r)
		if rw < 0 {
			return -1
		}
		if rw > 0 {
			last = r
		}
		w += rw
	}
	return w
}

// blockWidth is prettytable's width of a cell: the widest of its lines.
func blockWidth(s string) int {
	w := math.MinInt
	for _, line := range strings.Split(s, "\n") {
		w = max(w, displayWidth(line))
	}
	return w
}

// spaces returns n blanks, none for n < 1 (as Python's n * " ").
func spaces(n int) string {
	if n < 1 {
		return ""
	}
	return strings.Repeat(" ", n)
}

// prettyTable renders rows under header as impala-shell's pretty output
// does (prettytable, every column left-aligned), without a final newline.
// An empty rows gives the header with the frame closed under it.
func prettyTable(header []string, rows [][]string) string {
	widths := make([]int, len(header))
	for i, h := range header {
		widths[i] = blockWidth(h)
	}
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], blockWidth(c))
		}
	}
	var sb strings.Builder
	rule := func() {
		sb.WriteByte('+')
		for _, w := range widths {
			sb.WriteString(strings.Repeat("-", max(w+2, 0)))
			sb.WriteByte('+')
		}
	}
	line := func(cells []string) {
		height := 1
		split := make([][]string, len(cells))
		for i, c := range cells {
			split[i] = strings.Split(c, "\n")
			height = max(height, len(split[i]))
		}
		for y := 0; y < height; y++ {
			if y > 0 {
				sb.WriteByte('\n')
			}
			sb.WriteByte('|')
			for i, lines := range split {
				text := ""
				if y < len(lines) {
					text = lines[y]
				}
				sb.WriteByte(' ')
				sb.WriteString(text)
				sb.WriteString(spaces(widths[i] - displayWidth(text)))
				sb.WriteString(" |")
			}
		}
	}
	rule()
	sb.WriteByte('\n')
	line(header)
	sb.WriteByte('\n')
	rule()
	for _, r := range rows {
		sb.WriteByte('\n')
		line(r)
	}
	sb.WriteByte('\n')
	rule()
	return sb.String()
}

// csvWriter writes rows as Python's csv.writer with lineterminator "\n" and
// QUOTE_MINIMAL (the dialect impala-shell's delimited output uses).
type csvWriter struct {
	delim rune
	sb    strings.Builder
}

// row appends one record.
func (c *csvWriter) row(fields []string) {
	if len(fields) == 1 && fields[0] == "" {
		c.sb.WriteString(`""` + "\n") // a lone empty field must be quoted
		return
	}
	for i, f := range fields {
		if i > 0 {
			c.sb.WriteRune(c.delim)
		}
		if strings.ContainsRune(f, c.delim) || strings.ContainsAny(f, "\"\n") {
			c.sb.WriteByte('"')
			c.sb.WriteString(strings.ReplaceAll(f, `"`, `""`))
			c.sb.WriteByte('"')
			continue
		}
		c.sb.WriteString(f)
	}
	c.sb.WriteByte('\n')
}

// String returns the records without the final line terminators, as
// impala-shell strips them before printing.
func (c *csvWriter) String() string { return strings.TrimRight(c.sb.String(), "\n") }

// delimited renders rows as -B does, without a final newline.
func delimited(rows [][]string, delim rune) string {
	c := csvWriter{delim: delim}
	for _, r := range rows {
		c.row(r)
	}
	return c.String()
}

// verticalRowRule frames each row of -E output: the row number between
// these.
const verticalRowRule = "************************************** "

// vertical renders rows as -E does: each row a numbered rule, then its
// fields one a line as "name: value", names right-aligned; rows of a batch
// are numbered from 1.
func vertical(header []string, rows [][]string) string {
	width := 0
	for _, h := range header {
		width = max(width, utf8.RuneCountInString(h))
	}
	c := csvWriter{delim: '\n'}
	for i, r := range rows {
		c.row([]string{verticalRowRule + strconv.Itoa(i+1) + ".row " + strings.TrimSpace(verticalRowRule)})
		fields := make([]string, len(r))
		for j, v := range r {
			fields[j] = spaces(width-utf8.RuneCountInString(header[j])) + header[j] + ": " + v
		}
		c.row(fields)
	}
	return c.String()
}

// pyEscapes are the one-character escapes of Python's string literals; -1
// for a backslash-newline, which stands for nothing.
var pyEscapes = map[byte]rune{'\n': -1, '\\': '\\', '\'': '\'', '"': '"', 'a': 7, 'b': 8, 'f': 12, 'n': 10, 'r': 13, 't': 9, 'v': 11}

// unescapeDelimiter reads --output_delimiter as impala-shell does: its
// UTF-8 bytes decoded with Python's 'unicode_escape' (backslash escapes,
// every other byte one Latin-1 character). The result must be one
// character; ok is false otherwise.
func unescapeDelimiter(s string) (string, bool) {
	var out []rune
	b := []byte(s)
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '\\' || i+1 >= len(b) {
			out = append(out, rune(c))
			continue
		}
		i++
		e := b[i]
		if r, simple := pyEscapes[e]; simple {
			if r >= 0 {
				out = append(out, r)
			}
			continue
		}
		switch e {
		case '0', '1', '2', '3', '4', '5', '6', '7':
			v, j := 0, i
			for ; j < len(b) && j < i+3 && b[j] >= '0' && b[j] <= '7'; j++ {
				v = v*8 + int(b[j]-'0')
			}
			out = append(out, rune(v))
			i = j - 1
		case 'x', 'u', 'U':
			n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[e]
			if i+n >= len(b) {
				return "", false
			}
			v, err := strconv.ParseUint(string(b[i+1:i+1+n]), 16, 32)
			if err != nil || v > unicode.MaxRune {
				return "", false
			}
			out = append(out, rune(v))
			i += n
		default:
			out = append(out, '\\', rune(e))
		}
	}
	if len(out) != 1 {
		return string(out), false
	}
	return string(out), true
}
