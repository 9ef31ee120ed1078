package impalalb

import (
	"errors"
	"slices"
	"strings"

	"github.com/impalalb/impalalb/conn"
	"github.com/impalalb/impalalb/secret"
)

// Arguments and errors. Impala has no bind parameters: an argument
// becomes a literal in the statement's text, and Impala echoes that text
// in its errors (a syntax error shows the line around the error, an
// analysis error the expression it could not type). A password or a token
// passed as an argument would then be in the error the caller logs. An
// argument passed as a secret.Value is interpolated like a string, and
// every error of its statement (Execute, the rows, Close) is given back
// with the argument replaced by secret.Redacted wherever it shows: the
// literal as written, its text, and the pieces of it that Impala's
// 60-character window of a long line leaves next to its "...".

// argSecrets are the texts to hide from the errors of one statement,
// longest first.
type argSecrets []string

// minFragment is the shortest piece of a secret that is hidden when it
// shows cut at an ellipsis.
const minFragment = 4

// add records the literal of a secret argument ('...' or unhex('...'))
// and its value.
func (s *argSecrets) add(literal, value string) {
	inner := literal
	if i, j := strings.IndexByte(literal, '\''), strings.LastIndexByte(literal, '\''); i >= 0 && j > i {
		inner = literal[i+1 : j]
	}
	for _, t := range []string{literal, inner, value} {
		if t != "" && !slices.Contains(*s, t) {
			*s = append(*s, t)
		}
	}
	slices.SortFunc(*s, func(a, b string) int { return len(b) - len(a) })
}

// hide returns text with every secret, and every piece of one of at least
// minFragment bytes cut at an ellipsis, replaced by secret.Redacted.
func (s argSecrets) hide(text string) string {
	for _, t := range s {
		text = strings.ReplaceAll(text, t, secret.Redacted)
	}
	for _, t := range s {
		for k := len(t) - 1; k >= minFragment; k-- {
			text = strings.ReplaceAll(text, "..."+t[len(t)-k:], "..."+secret.Redacted)
			text = strings.ReplaceAll(text, t[:k]+"...", secret.Redacted+"...")
		}
	}
	return text
}

// shows reports whether text holds a secret or a piece of one.
func (s argSecrets) shows(text string) bool { return s.hide(text) != text }

// scrub returns err, or when its text shows a secret argument, the same
// chain with the secret hidden: conn's errors are copied with their
// Message and causes scrubbed, so that errors.Is, errors.As and
// conn.SafeToRetry answer as they did; other links keep their place in
// the chain with their text scrubbed.
func (s argSecrets) scrub(err error) error {
	if err == nil || len(s) == 0 || !s.shows(err.Error()) {
		return err
	}
	switch e := err.(type) { //nolint:errorlint // the chain is rebuilt link by link: each link is matched itself
	case *conn.Error:
		c := *e
		c.Message = s.hide(e.Message)
		c.Err = s.scrub(e.Err)
		return &c
	case *conn.MoveError:
		return &conn.MoveError{Cause: s.scrub(e.Cause), Err: s.scrub(e.Err)}
	case interface{ Unwrap() []error }:
		var errs []error
		for _, x := range e.Unwrap() {
			errs = append(errs, s.scrub(x))
		}
		return &scrubbedError{msg: s.hide(err.Error()), errs: errs}
	}
	return &scrubbedError{msg: s.hide(err.Error()), errs: []error{s.scrub(errors.Unwrap(err))}}
}

// scrubbedError is a link of an error chain whose text showed a secret
// argument.
type scrubbedError struct {
	msg  string
	errs []error
}

func (e *scrubbedError) Error() string   { return e.msg }
func (e *scrubbedError) Unwrap() []error { return e.errs }
