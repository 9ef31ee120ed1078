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
	const (
		normal = iota
		quoted
		lineComment
		blockComment
	)
	state := normal
	var quote byte
	var cur strings.Builder
	start := 0 // raw offset where the current statement began
	for i := 0; i < len(input); i++ {
		c := input[i]
		switch state {
		case normal:
			switch {
			case c == '\'' || c == '"' || c == '`':
				state, quote = quoted, c
				cur.WriteByte(c)
			case c == '-' && i+1 < len(input) && input[i+1] == '-':
				state = lineComment
				i++
			case c == '/' && i+1 < len(input) && input[i+1] == '*':
				state = blockComment
				i++
			case c == ';':
				if s := strings.TrimSpace(cur.String()); s != "" {
					stmts = append(stmts, s)
				}
				cur.Reset()
				start = i + 1
			default:
				cur.WriteByte(c)
			}
		case quoted:
			cur.WriteByte(c)
			switch {
			case c == '\\' && quote != '`' && i+1 < len(input):
				i++
				cur.WriteByte(input[i])
			case c == quote:
				state = normal
			}
		case lineComment:
			if c == '\n' {
				state = normal
				cur.WriteByte('\n')
			}
		case blockComment:
			if c == '*' && i+1 < len(input) && input[i+1] == '/' {
				state = normal
				cur.WriteByte(' ')
				i++
			}
		}
	}
	rest = input[start:]
	pending = state == quoted || state == blockComment || strings.TrimSpace(cur.String()) != ""
	return stmts, rest, pending
}
