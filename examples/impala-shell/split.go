package main

import "strings"

// splitStatements splits input at the semicolons that end statements,
// ignoring those inside quotes ('...', "...", `...`, with backslash escapes)
// and comments (-- to the end of the line, /* ... */). Comments are removed
// from the statements returned; statements are trimmed and empty ones
// dropped. rest is the raw text after the last complete statement, kept as
// typed so that more input can complete it; pending reports whether rest
// holds anything but blanks and comments (an unfinished statement, quote or
// block comment).
func splitStatements(input string) (stmts []string, rest string, pending bool) {
	raw, rest, pending := splitRaw(input)
	for _, r := range raw {
		stmts = append(stmts, stripComments(r))
	}
	return stmts, rest, pending
}

// splitRaw is splitStatements keeping the statements as typed, comments
// included (trimmed, without their ';'), because impala-shell substitutes
// variables in the whole text of a statement, its comments too. Pieces that
// hold nothing but blanks and comments are dropped.
func splitRaw(input string) (raw []string, rest string, pending bool) {
	start := 0 // raw offset where the current statement began
	state := scanSQL(input, true, nil, func(end int, empty bool) {
		if !empty {
			raw = append(raw, strings.TrimSpace(input[start:end]))
		}
		start = end + 1
	})
	rest = input[start:]
	pending = state.open() || strings.TrimSpace(stripComments(rest)) != ""
	return raw, rest, pending
}

// stripComments returns stmt without its comments, trimmed; semicolons are
// ordinary characters here. A block comment becomes a blank, a line comment
// ends at its newline, which is kept.
func stripComments(stmt string) string {
	var sb strings.Builder
	scanSQL(stmt, false, &sb, nil)
	return strings.TrimSpace(sb.String())
}

// scanState is where scanSQL stopped.
type scanState struct {
	mode int // normal, quoted, lineComment or blockComment
}

const (
	normal = iota
	quoted
	lineComment
	blockComment
)

// open reports whether the input ended inside a quote or a block comment.
func (s scanState) open() bool { return s.mode == quoted || s.mode == blockComment }

// scanSQL walks input as Impala's lexer does for quotes and comments. The
// text outside comments is written to out when out is not nil. When split
// is set, each ';' outside quotes and comments calls end with its offset and
// whether the statement it ends has nothing but blanks and comments.
func scanSQL(input string, split bool, out *strings.Builder, end func(at int, empty bool)) scanState {
	state := normal
	var quote byte
	empty := true // nothing but blanks and comments since the last ';'
	write := func(c byte) {
		if out != nil {
			out.WriteByte(c)
		}
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			empty = false
		}
	}
	for i := 0; i < len(input); i++ {
		c := input[i]
		switch state {
		case normal:
			switch {
			case c == '\'' || c == '"' || c == '`':
				state, quote = quoted, c
				write(c)
			case c == '-' && i+1 < len(input) && input[i+1] == '-':
				state = lineComment
				i++
			case c == '/' && i+1 < len(input) && input[i+1] == '*':
				state = blockComment
				i++
			case c == ';' && split:
				end(i, empty)
				empty = true
			default:
				write(c)
			}
		case quoted:
			write(c)
			switch {
			case c == '\\' && quote != '`' && i+1 < len(input):
				i++
				write(input[i])
			case c == quote:
				state = normal
			}
		case lineComment:
			if c == '\n' {
				state = normal
				write('\n')
			}
		case blockComment:
			if c == '*' && i+1 < len(input) && input[i+1] == '/' {
				state = normal
				write(' ')
				i++
			}
		}
	}
	return scanState{mode: state}
}
