package main

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Variables follow impala-shell: --var=NAME=VALUE on the command line, SET
// VAR:NAME=VALUE and UNSET VAR:NAME in the session, and ${VAR:NAME} or
// ${HIVEVAR:NAME} in any statement, comments and string literals included.
// Names and prefixes are case-insensitive: names are kept upper-cased. A
// '\' just before '$' keeps the reference as typed (and is sent with it,
// so that Impala reads "\$" in a string literal as "$").

// varNamePattern is what --var accepts as a name.
var varNamePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

// varPrefixes are the namespaces of ${PREFIX:NAME}, upper-cased.
var varPrefixes = []string{"VAR", "HIVEVAR"}

// variables maps upper-cased names to values.
type variables map[string]string

// varName returns the upper-cased name of a reference or of a SET/UNSET
// target written PREFIX:NAME, and whether the prefix is one of varPrefixes.
func varName(ref string) (string, bool) {
	ns, name, ok := strings.Cut(ref, ":")
	if !ok {
		return "", false
	}
	for _, p := range varPrefixes {
		if strings.EqualFold(ns, p) {
			return strings.ToUpper(name), true
		}
	}
	return "", false
}

// substError says which references of a statement could not be replaced.
type substError struct {
	unknown   []string // names of undefined variables
	badSyntax []string // references without a known prefix, as typed
	// problems are impala-shell's messages for them, in the order of the
	// references.
	problems []string
}

func (e *substError) Error() string {
	var parts []string
	if len(e.unknown) > 0 {
		parts = append(parts, "undefined variable "+strings.Join(e.unknown, ", ")+
			" (define it with --var="+e.unknown[0]+"=VALUE or SET VAR:"+e.unknown[0]+"=VALUE)")
	}
	for _, r := range e.badSyntax {
		parts = append(parts, "unknown substitution syntax ${"+r+"}: write ${VAR:NAME} or ${HIVEVAR:NAME}")
	}
	return strings.Join(parts, "; ") + "; the statement was not run"
}

// substitute replaces every ${PREFIX:NAME} of s not preceded by '\' with
// the value of NAME, in one pass: values are not searched for references.
// A '${' without a closing '}', or '${}', is left as typed, as impala-shell
// does. When a reference cannot be replaced, s is returned unchanged with a
// *substError naming every such reference.
func (vs variables) substitute(s string) (string, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var sb strings.Builder
	var serr substError
	seen := map[string]bool{}
	i := 0
	for {
		j := strings.Index(s[i:], "${")
		if j < 0 {
			sb.WriteString(s[i:])
			break
		}
		j += i
		k := strings.IndexByte(s[j+2:], '}')
		if k <= 0 || (j > 0 && s[j-1] == '\\') {
			// Escaped, unterminated or empty: as typed.
			sb.WriteString(s[i : j+2])
			i = j + 2
			continue
		}
		k += j + 2
		ref := s[j+2 : k]
		sb.WriteString(s[i:j])
		i = k + 1
		name, ok := varName(ref)
		switch v, defined := vs[name]; {
		case !ok:
			if !seen["!"+strings.ToUpper(ref)] {
				seen["!"+strings.ToUpper(ref)] = true
				serr.badSyntax = append(serr.badSyntax, ref)
				serr.problems = append(serr.problems, "Error: Unknown substitution syntax ("+strings.ToUpper(ref)+"). Use ${VAR:var_name}.")
			}
		case !defined:
			if !seen[name] {
				seen[name] = true
				serr.unknown = append(serr.unknown, name)
				serr.problems = append(serr.problems, "Error: Unknown variable "+name)
			}
		default:
			sb.WriteString(v)
		}
	}
	if len(serr.unknown) > 0 || len(serr.badSyntax) > 0 {
		return s, &serr
	}
	return sb.String(), nil
}

// sortedNames returns the names in order.
func (vs variables) sortedNames() []string {
	names := make([]string, 0, len(vs))
	for k := range vs {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// varFlag is the repeatable --var NAME=VALUE flag. Each value may use the
// variables defined before it, as in impala-shell.
type varFlag struct {
	vars variables
}

func (f *varFlag) String() string {
	if f == nil || len(f.vars) == 0 {
		return ""
	}
	parts := make([]string, 0, len(f.vars))
	for _, k := range f.vars.sortedNames() {
		parts = append(parts, k+"="+f.vars[k])
	}
	return strings.Join(parts, ",")
}

func (f *varFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || !varNamePattern.MatchString(k) {
		return fmt.Errorf("want NAME=VALUE with NAME a letter then letters, digits or _, got %q", s)
	}
	if f.vars == nil {
		f.vars = variables{}
	}
	v, err := f.vars.substitute(v)
	var se *substError
	if errors.As(err, &se) {
		if len(se.unknown) > 0 {
			return fmt.Errorf("%s: undefined variable %s (define it in an earlier --var)", k, strings.Join(se.unknown, ", "))
		}
		return fmt.Errorf("%s: unknown substitution syntax ${%s}: write ${VAR:NAME}", k, se.badSyntax[0])
	}
	f.vars[strings.ToUpper(k)] = v
	return nil
}

// clone returns an independent copy, never nil.
func (vs variables) clone() variables {
	m := make(variables, len(vs))
	for k, v := range vs {
		m[k] = v
	}
	return m
}
