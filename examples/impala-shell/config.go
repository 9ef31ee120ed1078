package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Config files follow impala-shell: an optional global file ($IMPALA_SHELL_GLOBAL_CONFIG_FILE,
// else /etc/impalarc), then the user's (--config_file, else ~/.impalarc),
// each overriding the one before, and the command line overriding both.
// Section [impala] holds flags by long name (short names and impala-shell's
// internal names work too) with values as on the command line; true, false,
// 1 or 0 for switches; "none" for a flag's default; a repeatable flag holds
// its values joined by ",NAME=" (var=a=1,var=b=2). Section
// [impala.query_options] holds KEY=VALUE query options, keys upper-cased;
// -Q/--query_option in [impala] or on the command line overrides them. The
// text is read as Python's configparser reads it for impala-shell: ';' and
// '#' start comment lines, ':' may stand for '=', an indented line continues
// the value before it, and '%' is written "%%".

const (
	// globalConfigEnv names the global config file; when it is set, the
	// file must exist.
	globalConfigEnv = "IMPALA_SHELL_GLOBAL_CONFIG_FILE"
	// globalConfigDefault is read when it exists and globalConfigEnv is unset.
	globalConfigDefault = "/etc/impalarc"
	// userConfigDefault is --config_file's default; it may be missing.
	userConfigDefault = "~/.impalarc"
)

// iniEntry is one key of a section of an INI file.
type iniEntry struct {
	path    string // the file
	line    int    // of the key, from 1
	section string
	key     string
	value   string
}

// configError is a bad config file: it names the file, the line and the key.
type configError struct {
	path string
	line int
	key  string // empty for a line without a key
	msg  string
	// notFound: a file that must exist does not.
	notFound bool
}

func (e *configError) Error() string {
	if e.notFound {
		return e.path + " not found.\n" // impala-shell's words
	}
	if e.key == "" {
		return fmt.Sprintf("config file %s, line %d: %s", e.path, e.line, e.msg)
	}
	return fmt.Sprintf("config file %s, line %d: %s: %s", e.path, e.line, e.key, e.msg)
}

// parseINI reads INI text: [section] lines, KEY=VALUE or KEY: VALUE lines,
// comment lines starting with '#' or ';', blank lines, and indented lines
// that continue the value above them. Section and key names keep their case.
func parseINI(path, text string) ([]iniEntry, error) {
	var entries []iniEntry
	section := ""
	last := -1 // index in entries of the key an indented line continues
	for i, line := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		n := i + 1
		t := strings.TrimSpace(line)
		switch {
		case t == "":
			last = -1
			continue
		case t[0] == '#' || t[0] == ';':
			continue
		case last >= 0 && (line[0] == ' ' || line[0] == '\t'):
			entries[last].value += "\n" + t
			continue
		case t[0] == '[':
			end := strings.LastIndexByte(t, ']')
			if end < 2 {
				return nil, &configError{path: path, line: n, msg: "want [section], got " + fmt.Sprintf("%q", t)}
			}
			section, last = t[1:end], -1
			continue
		}
		d := strings.IndexAny(t, "=:")
		if d <= 0 {
			return nil, &configError{path: path, line: n, msg: fmt.Sprintf("want KEY=VALUE, got %q", t)}
		}
		key := strings.TrimSpace(t[:d])
		if section == "" {
			return nil, &configError{path: path, line: n, key: key, msg: "a [section] line must come first"}
		}
		entries = append(entries, iniEntry{path: path, line: n, section: section, key: key, value: strings.TrimSpace(t[d+1:])})
		last = len(entries) - 1
	}
	return entries, nil
}

// unpercent undoes configparser's escape: "%%" is "%", and any other '%'
// is an error (impala-shell's parser would read it as a reference).
func unpercent(v string) (string, error) {
	if !strings.Contains(v, "%") {
		return v, nil
	}
	var sb strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] != '%' {
			sb.WriteByte(v[i])
			continue
		}
		if i+1 < len(v) && v[i+1] == '%' {
			sb.WriteByte('%')
			i++
			continue
		}
		return "", errors.New(`a '%' must be written "%%"`)
	}
	return sb.String(), nil
}

// loadConfigFiles reads the global config file and the user's, in that
// order. userPath is --config_file; explicit says it was given, so that a
// missing file is an error. announce is told each file read that
// impala-shell names when it loads it (the global file, and the user's
// when --config_file named it).
func loadConfigFiles(userPath string, explicit bool, announce func(global bool, path string)) ([]iniEntry, error) {
	var all []iniEntry
	global, fromEnv := os.LookupEnv(globalConfigEnv)
	if !fromEnv || global == "" {
		global, fromEnv = globalConfigDefault, false
	}
	e, err := readConfigFile(expandHome(global), fromEnv)
	if err != nil {
		return nil, err
	}
	if e != nil {
		announce(true, expandHome(global))
	}
	all = append(all, e...)
	if userPath == "" {
		userPath, explicit = userConfigDefault, false
	}
	e, err = readConfigFile(expandHome(userPath), explicit)
	if err != nil {
		return nil, err
	}
	if explicit {
		announce(false, expandHome(userPath))
	}
	return append(all, e...), nil
}

// readConfigFile parses one config file; a missing file is nothing unless
// it must exist.
func readConfigFile(path string, mustExist bool) ([]iniEntry, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && !mustExist {
		return nil, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &configError{path: path, msg: "not found", notFound: true}
	}
	if err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, errors.Unwrap(err))
	}
	e, err := parseINI(path, string(b))
	if e == nil && err == nil {
		e = []iniEntry{} // read, if empty
	}
	return e, err
}

// expandHome replaces a leading "~" by the home directory ("" when there
// is none to find).
func expandHome(p string) string {
	if p != "~" && !strings.HasPrefix(p, "~/") {
		return p
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return ""
	}
	return filepath.Join(home, p[1:])
}

// configAliases are impala-shell's internal names of flags, accepted as
// keys of [impala].
//
//nolint:gosec // G101: names of flags ("creds_ok_in_clear"), no credential
var configAliases = map[string]string{
	"write_delimited":   "delimited",
	"use_kerberos":      "kerberos",
	"use_ldap":          "ldap",
	"use_jwt":           "jwt",
	"default_db":        "database",
	"keyval":            "var",
	"query_options":     "query_option",
	"creds_ok_in_clear": "auth_creds_ok_in_clear",
}

// impalaShellOnly are keys impala-shell knows that this shell does not
// implement: they are skipped with a warning, so that an existing
// ~/.impalarc still works.
var impalaShellOnly = map[string]bool{
	"rpc_stdout": true, "rpc_file": true,
	"a": true, "oauth": true, "use_oauth": true, "oauth_client_id": true, "oauth_client_secret_cmd": true,
	"oauth_cmd": true, "oauth_server": true, "oauth_endpoint": true, "oauth_mock_response_cmd": true,
	"http_socket_timeout_s": true, "connect_max_tries": true,
	"strict_hs2_protocol": true, "use_ldap_test_password": true,
	"http_cookie_names": true, "no_http_tracing": true, "hs2_fp_format": true,
	"use_new_http_connection": true,
}

// ignoredByImpalaShell are the [impala] keys impala-shell 4.6 reads and
// then ignores: a key sets an option only when it is the option's internal
// name (its "dest") or when that option has no built-in default
// (option_parser.py and impala_shell_config_defaults.py). So B=true does
// nothing and write_delimited=true works; -d's key is default_db, -k's
// use_kerberos, -l's use_ldap. This shell ignores the same keys, so that a
// ~/.impalarc means what it meant.
var ignoredByImpalaShell = map[string]bool{
	"i": true, "b": true, "q": true, "f": true, "k": true, "kerberos": true, "o": true,
	"B": true, "delimited": true, "E": true, "s": true, "V": true, "p": true, "quiet": true,
	"v": true, "c": true, "d": true, "database": true, "l": true, "ldap": true, "u": true,
	"disable_live_progress": true, "t": true,
}

// repeatable are the flags whose config value joins several values.
var repeatable = map[string]bool{"var": true, "query_option": true, "Q": true}

// applyConfig sets the flags of fs (and o's query options) from the entries
// of the config files: every [impala.query_options] first, then every
// [impala], each file over the one before. Other sections are ignored, as
// impala-shell does. Warnings go to warn.
func applyConfig(fs *flag.FlagSet, o *options, entries []iniEntry, warn io.Writer) error {
	for _, e := range entries {
		if e.section != "impala.query_options" {
			continue
		}
		v, err := unpercent(e.value)
		if err != nil {
			return &configError{path: e.path, line: e.line, key: e.key, msg: err.Error()}
		}
		k := strings.ToUpper(e.key)
		if !varNamePattern.MatchString(k) {
			return &configError{path: e.path, line: e.line, key: e.key, msg: "not a query option name"}
		}
		o.queryOptions.set(k, v)
	}
	for _, e := range entries {
		if e.section != "impala" {
			continue
		}
		if err := applyEntry(fs, e, warn); err != nil {
			return &configError{path: e.path, line: e.line, key: e.key, msg: err.Error()}
		}
	}
	return nil
}

// applyEntry sets the flag of one [impala] key.
func applyEntry(fs *flag.FlagSet, e iniEntry, warn io.Writer) error {
	name := e.key
	if a, ok := configAliases[name]; ok {
		name = a
	}
	value, err := unpercent(e.value)
	if err != nil {
		return err
	}
	warnf := func(format string, args ...any) {
		fmt.Fprintf(warn, "impala-shell: warning: config file %s, line %d: %s: %s\n", e.path, e.line, e.key, fmt.Sprintf(format, args...))
	}
	if name == "config_file" {
		warnf("only the command line can name the config file; ignored")
		return nil
	}
	f := fs.Lookup(name)
	if ignoredByImpalaShell[e.key] && f != nil {
		if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && bf.IsBoolFlag() {
			if _, err := parseConfigBool(value); err != nil {
				return err // impala-shell checks the value all the same
			}
		}
		return nil
	}
	if f == nil {
		if impalaShellOnly[name] {
			warnf("an impala-shell option this shell does not implement; ignored")
			return nil
		}
		return errors.New("unknown option (keys are the long names of the flags, as in --help)")
	}
	if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && bf.IsBoolFlag() {
		b, err := parseConfigBool(value)
		if err != nil {
			return err
		}
		return fs.Set(name, fmt.Sprint(b))
	}
	if repeatable[name] {
		for _, v := range strings.Split(value, ","+e.key+"=") {
			if err := fs.Set(name, v); err != nil {
				return err
			}
		}
		return nil
	}
	if strings.EqualFold(value, "none") { // the flag's default
		if name == "local" {
			return nil
		}
		value = f.DefValue
	}
	return fs.Set(name, value)
}

// parseConfigBool reads a switch of a config file as impala-shell does.
func parseConfigBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, fmt.Errorf("want true, false, 1 or 0, got %q", v)
}
