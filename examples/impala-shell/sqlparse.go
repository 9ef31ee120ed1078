package main

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// impala-shell splits scripts and reads statements with the Python library
// sqlparse 0.3 (its requirement): sqlparse.split for the statements of -q
// and -f, and its lexer to find a statement's leading comment. This file
// rebuilds the rules of that lexer that decide where statements end and
// what counts as a comment:
//
//   - comments: "--" or "# " to the end of the line, the newline included;
//     "/*" to the first "*/" (an unterminated one is no comment); "--+" and
//     "/*+" are hints, not comments;
//   - quoted text: '...' and "..." with doubled quotes and backslash
//     escapes, `...` with doubled backticks, [...] after a non-word
//     character, $tag$...$tag$ after a blank; an opening quote that never
//     closes is a lone character and hides nothing;
//   - a ';' ends a statement when parentheses and BEGIN/END blocks are
//     closed; the blanks (not newlines) and "--" comments right after it
//     stay with that statement.

// tokKind is the kind of a lexer token, as far as splitting cares.
type tokKind uint8

const (
	tokOther        tokKind = iota
	tokSpace                // one blank that is not a newline
	tokNewline              // \r\n, \r or \n
	tokLineComment          // -- or "# " to the end of the line, newline included
	tokBlockComment         // /* ... */
	tokHint                 // --+ or /*+ ... */
	tokQuoted               // a string, a quoted name or a dollar-quoted literal
	tokWord                 // a word; kw holds its upper-case form when it changes the split level
	tokPunct                // ( ) ;
)

type sqlToken struct {
	kind tokKind
	text string
	kw   string // BEGIN, END, "END IF", DECLARE, IF, FOR, WHILE, CREATE
}

// isPySpace reports whether r is whitespace for Python's str methods and
// \s (which unlike unicode.IsSpace include the separators \x1c-\x1f).
func isPySpace(r rune) bool {
	return unicode.IsSpace(r) || r >= 0x1c && r <= 0x1f
}

// isWordChar is Python's \w: a letter, a digit or '_'.
func isWordChar(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r)
}

// isWordStart is the first character of sqlparse's words: [0-9_A-ZÀ-Ü],
// case-insensitive.
func isWordStart(r rune) bool {
	return r == '_' || r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' ||
		r >= 0xc0 && r <= 0xdc || r >= 0xe0 && r <= 0xfc && r != 0xf7
}

// levelWords are the keywords that open or close a block for splitting.
var levelWords = map[string]bool{"BEGIN": true, "END": true, "DECLARE": true, "IF": true, "FOR": true, "WHILE": true, "CREATE": true}

// lexSQL cuts s into tokens.
//
//nolint:gocognit // one case per rule of sqlparse's lexer, tried in its order: a table that reads best whole
func lexSQL(s string) []sqlToken {
	var toks []sqlToken
	emit := func(k tokKind, from, to int) int {
		toks = append(toks, sqlToken{kind: k, text: s[from:to]})
		return to
	}
	prevChar := func(i int) rune {
		if i == 0 {
			return -1
		}
		r, _ := utf8.DecodeLastRuneInString(s[:i])
		return r
	}
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		rest := s[i:]
		switch {
		case strings.HasPrefix(rest, "--+") || strings.HasPrefix(rest, "# +"):
			i = emit(tokHint, i, lineEnd(s, i))
		case strings.HasPrefix(rest, "/*+") && strings.Contains(rest[3:], "*/"):
			i = emit(tokHint, i, i+3+strings.Index(rest[3:], "*/")+2)
		case strings.HasPrefix(rest, "--") || strings.HasPrefix(rest, "# "):
			i = emit(tokLineComment, i, lineEnd(s, i))
		case strings.HasPrefix(rest, "/*") && strings.Contains(rest[2:], "*/"):
			i = emit(tokBlockComment, i, i+2+strings.Index(rest[2:], "*/")+2)
		case strings.HasPrefix(rest, "\r\n"):
			i = emit(tokNewline, i, i+2)
		case r == '\r' || r == '\n':
			i = emit(tokNewline, i, i+1)
		case isPySpace(r):
			i = emit(tokSpace, i, i+n)
		case r == '`':
			if end, ok := matchQuoted(s, i, '`', false); ok {
				i = emit(tokQuoted, i, end)
			} else {
				i = emit(tokOther, i, i+n)
			}
		case r == '$' && (i == 0 || isPySpace(prevChar(i))):
			if end, ok := dollarQuoted(s, i); ok {
				i = emit(tokQuoted, i, end)
			} else {
				i = emit(tokOther, i, i+n)
			}
		case r == '\'' || r == '"':
			end, ok := matchQuoted(s, i, byte(r), true)
			if !ok && r == '"' {
				end, ok = lazyDoubleQuoted(s, i)
			}
			if ok {
				i = emit(tokQuoted, i, end)
			} else {
				i = emit(tokOther, i, i+n)
			}
		case r == '[' && !isWordChar(prevChar(i)) && prevChar(i) != ']' && prevChar(i) != ')':
			if j := strings.IndexByte(rest[1:], ']'); j > 0 {
				i = emit(tokQuoted, i, i+1+j+1)
			} else {
				i = emit(tokPunct, i, i+1)
			}
		case r == '(' || r == ')' || r == ';':
			i = emit(tokPunct, i, i+1)
		case r == '#' || r == '@':
			// "#name", "@name", "##name": a name; else an operator.
			j := i + 1
			if r == '#' && strings.HasPrefix(s[j:], "#") {
				j++
			}
			k := wordEnd(s, j, false)
			if k > j {
				if c, _ := utf8.DecodeRuneInString(s[j:]); isWordStart(c) && !(c >= '0' && c <= '9') && c != '_' {
					i = emit(tokOther, i, k)
					continue
				}
			}
			i = emit(tokOther, i, i+1)
		case isWordStart(r):
			i = lexWord(s, i, &toks)
		default:
			i = emit(tokOther, i, i+n)
		}
	}
	return toks
}

// lineEnd returns the end of the line comment at i, its newline included.
func lineEnd(s string, i int) int {
	j := strings.IndexAny(s[i:], "\r\n")
	if j < 0 {
		return len(s)
	}
	j += i
	if strings.HasPrefix(s[j:], "\r\n") {
		return j + 2
	}
	return j + 1
}

// wordEnd returns the end of the run of word characters (and '$' and '#'
// when more is set) from i.
func wordEnd(s string, i int, more bool) int {
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !isWordChar(r) && !(more && (r == '$' || r == '#')) {
			break
		}
		i += n
	}
	return i
}

// lexWord reads the word at i as sqlparse does: a name when a '.' or '('
// follows it, END [IF|LOOP|WHILE] and CREATE [OR REPLACE] as one keyword,
// else a word whose upper-case form may be a block keyword.
func lexWord(s string, i int, toks *[]sqlToken) int {
	w := wordEnd(s, i, false) // the \w run
	word := strings.ToUpper(s[i:w])
	next := strings.TrimLeftFunc(s[w:], isPySpace)
	letter := !(s[i] >= '0' && s[i] <= '9') && s[i] != '_'
	if letter && (strings.HasPrefix(next, ".") || strings.HasPrefix(s[w:], "(")) {
		*toks = append(*toks, sqlToken{kind: tokWord, text: s[i:w]})
		return w
	}
	if word == "END" || word == "CREATE" {
		end := w
		follow := []string{"IF", "LOOP", "WHILE"}
		if word == "CREATE" {
			follow = []string{"OR"}
		}
		if sp := len(s[w:]) - len(next); sp > 0 {
			for _, f := range follow {
				if len(next) >= len(f) && strings.EqualFold(next[:len(f)], f) && wordEnd(next, len(f), false) == len(f) {
					end = w + sp + len(f)
					if f == "OR" {
						// CREATE OR REPLACE, else CREATE alone.
						after := strings.TrimLeftFunc(s[end:], isPySpace)
						sp2 := len(s[end:]) - len(after)
						if sp2 > 0 && len(after) >= 7 && strings.EqualFold(after[:7], "REPLACE") && wordEnd(after, 7, false) == 7 {
							end += sp2 + 7
						} else {
							end = w
						}
					}
				}
			}
		}
		kw := strings.ToUpper(s[i:end])
		if word == "CREATE" {
			kw = "CREATE"
		}
		*toks = append(*toks, sqlToken{kind: tokWord, text: s[i:end], kw: kw})
		return end
	}
	w = wordEnd(s, i, true)
	t := sqlToken{kind: tokWord, text: s[i:w]}
	if up := strings.ToUpper(t.text); levelWords[up] {
		t.kw = up
	}
	*toks = append(*toks, t)
	return w
}

// matchQuoted matches the quoted text at s[i] as sqlparse's regular
// expression does: '(”|\\\\|\\'|[^'])*' (with escapes) or `(“|[^`])*`,
// backtracking as the regular expression engine would, so that the match is
// its first in that engine's order. It returns the end of the match.
func matchQuoted(s string, i int, q byte, escapes bool) (int, bool) {
	type frame struct{ p, alt int }
	dead := map[int]bool{}
	stack := []frame{{i + 1, 0}}
	for len(stack) > 0 {
		f := &stack[len(stack)-1]
		p := f.p
		advanced := false
		for f.alt < 5 && !advanced {
			alt := f.alt
			f.alt++
			next := -1
			switch alt {
			case 0: // a doubled quote
				if p+1 < len(s) && s[p] == q && s[p+1] == q {
					next = p + 2
				}
			case 1: // an escaped backslash
				if escapes && p+1 < len(s) && s[p] == '\\' && s[p+1] == '\\' {
					next = p + 2
				}
			case 2: // an escaped quote
				if escapes && p+1 < len(s) && s[p] == '\\' && s[p+1] == q {
					next = p + 2
				}
			case 3: // any other character
				if p < len(s) && s[p] != q {
					_, n := utf8.DecodeRuneInString(s[p:])
					next = p + n
				}
			case 4: // the closing quote
				if p < len(s) && s[p] == q {
					return p + 1, true
				}
			}
			if next >= 0 && !dead[next] {
				stack = append(stack, frame{next, 0})
				advanced = true
			}
		}
		if !advanced {
			dead[p] = true
			stack = stack[:len(stack)-1]
		}
	}
	return 0, false
}

// lazyDoubleQuoted is sqlparse's second chance for a double quote:
// (""|".*?[^\\]") on one line.
func lazyDoubleQuoted(s string, i int) (int, bool) {
	if strings.HasPrefix(s[i:], `""`) {
		return i + 2, true
	}
	for j := i + 2; j < len(s) && s[j] != '\n' && s[j-1] != '\n'; j++ {
		if s[j] == '"' && s[j-1] != '\\' {
			return j + 1, true
		}
	}
	return 0, false
}

// dollarQuoted matches $tag$...$tag$ at s[i].
func dollarQuoted(s string, i int) (int, bool) {
	j := i + 1
	if j < len(s) {
		if r, _ := utf8.DecodeRuneInString(s[j:]); isWordStart(r) && !(r >= '0' && r <= '9') {
			j = wordEnd(s, j, false)
		}
	}
	if j >= len(s) || s[j] != '$' {
		return 0, false
	}
	delim := s[i : j+1]
	k := strings.Index(s[j+1:], delim)
	if k < 0 {
		return 0, false
	}
	return j + 1 + k + len(delim), true
}

// splitLevel is sqlparse's StatementSplitter state for one statement.
type splitLevel struct {
	level      int
	isCreate   bool
	inDeclare  bool
	beginDepth int
}

// change returns how the token moves the nesting level.
func (l *splitLevel) change(t sqlToken) int {
	switch {
	case t.kind == tokPunct && t.text == "(":
		return 1
	case t.kind == tokPunct && t.text == ")":
		return -1
	case t.kw == "":
		return 0
	}
	switch t.kw {
	case "CREATE":
		l.isCreate = true
	case "DECLARE":
		if l.isCreate && l.beginDepth == 0 {
			l.inDeclare = true
			return 1
		}
	case "BEGIN":
		l.beginDepth++
		if l.isCreate {
			return 1
		}
	case "END":
		l.beginDepth = max(0, l.beginDepth-1)
		return -1
	case "IF", "FOR", "WHILE":
		if l.isCreate && l.beginDepth > 0 {
			return 1
		}
	case "END IF", "END WHILE":
		return -1
	}
	return 0
}

// splitSQL is sqlparse.split: the statements of s, each with its ';' and
// trimmed; an empty string for a piece of nothing but blanks.
func splitSQL(s string) []string {
	var out []string
	var cur strings.Builder
	var lv splitLevel
	consume := false
	flush := func() {
		out = append(out, strings.TrimFunc(cur.String(), isPySpace))
		cur.Reset()
		lv = splitLevel{}
		consume = false
	}
	for _, t := range lexSQL(s) {
		if consume && t.kind != tokSpace && t.kind != tokLineComment {
			flush()
		}
		lv.level += lv.change(t)
		cur.WriteString(t.text)
		if lv.level <= 0 && t.kind == tokPunct && t.text == ";" {
			consume = true
		}
	}
	if cur.Len() > 0 {
		flush()
	}
	return out
}

// onlyComments reports whether s holds nothing but comments and blanks.
func onlyComments(s string) bool {
	for _, t := range lexSQL(s) {
		switch t.kind {
		case tokSpace, tokNewline, tokLineComment, tokBlockComment:
		default:
			return false
		}
	}
	return true
}

// parseQueryText is impala-shell's parse_query_text: the statements of a
// -q or -f text, without a last piece that holds only comments.
func parseQueryText(text string) []string {
	stmts := splitSQL(text)
	if n := len(stmts); n > 0 && onlyComments(stmts[n-1]) {
		stmts = stmts[:n-1]
	}
	return stmts
}

// commentsBeforeSet matches the comments before a SET or UNSET that
// impala-shell removes so that the shell handles the command itself.
var commentsBeforeSet = regexp.MustCompile(`(?i)^(?:\s*/\*(?:.|\n)*?\*/|\s*--.*\n)*\s*((?:un)?set)`)

// sanitise is impala-shell's sanitise_input for a non-interactive
// statement: comments before SET/UNSET removed, blanks trimmed, trailing
// ';'s removed.
func sanitise(stmt string) string {
	if m := commentsBeforeSet.FindStringSubmatchIndex(stmt); m != nil {
		stmt = stmt[m[2]:]
	}
	return strings.TrimRight(strings.TrimFunc(stmt, isPySpace), ";")
}

// splitLeadingComment is impala-shell's strip_leading_comment: the comments
// and blanks before the first other token of a trimmed statement, and the
// rest, each line of which has its trailing blanks removed (sqlparse's
// serializer). Hints are not comments.
func splitLeadingComment(stmt string) (comment, rest string) {
	toks := lexSQL(stmt)
	i := 0
	for ; i < len(toks); i++ {
		k := toks[i].kind
		if k != tokSpace && k != tokNewline && k != tokLineComment && k != tokBlockComment {
			break
		}
		comment += toks[i].text
	}
	var sb strings.Builder
	for _, t := range toks[i:] {
		sb.WriteString(t.text)
	}
	return comment, trimLineEnds(sb.String())
}

// trimLineEnds is sqlparse's SerializerUnicode: the text split at newlines
// outside quotes ('...' and "..." with backslash escapes), each line
// right-trimmed, joined with "\n".
func trimLineEnds(s string) string {
	var lines []string
	var cur strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\r' || c == '\n':
			lines = append(lines, cur.String())
			cur.Reset()
			if c == '\r' && i+1 < len(s) && s[i+1] == '\n' {
				i++
			}
			i++
		case c == '\'' || c == '"':
			j := i + 1
			for j < len(s) && s[j] != c {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(s) { // unterminated: a lone character
				cur.WriteByte(c)
				i++
				continue
			}
			cur.WriteString(s[i : j+1])
			i = j + 1
		default:
			cur.WriteByte(c)
			i++
		}
	}
	lines = append(lines, cur.String())
	for k, l := range lines {
		lines[k] = strings.TrimRightFunc(l, isPySpace)
	}
	return strings.Join(lines, "\n")
}

// hasLeadingComment is impala-shell's _has_leading_comment.
func hasLeadingComment(line string) bool {
	l := strings.TrimLeftFunc(line, isPySpace)
	return strings.HasPrefix(l, "--") || strings.HasPrefix(l, "/*")
}

// isIdentChar is Python's cmd.Cmd identchars: ASCII letters, digits, '_'.
func isIdentChar(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// parsedLine is a statement as impala-shell's parseline reads it.
type parsedLine struct {
	comment string // leading comment, "" when none
	cmd     string // the command word as typed ("" when the line starts otherwise)
	arg     string // the rest, trimmed
	line    string // the statement without its leading comment
}

// parseLine is impala-shell's parseline: the leading comment taken off,
// '@n' read as "rerun n", '?' as help and '!' as shell, then the command
// word and its argument.
func parseLine(line string) parsedLine {
	var p parsedLine
	if hasLeadingComment(line) {
		p.comment, line = splitLeadingComment(strings.TrimFunc(line, isPySpace))
	} else {
		line = strings.TrimFunc(line, isPySpace)
	}
	if strings.HasPrefix(line, "@") {
		line = "rerun " + line[1:]
	}
	line = strings.TrimFunc(line, isPySpace)
	switch {
	case line == "":
	case line[0] == '?':
		line = "help " + line[1:]
	case line[0] == '!':
		line = "shell " + line[1:]
	}
	i := 0
	for i < len(line) && isIdentChar(line[i]) {
		i++
	}
	p.cmd, p.arg, p.line = line[:i], strings.TrimFunc(line[i:], isPySpace), line
	return p
}
