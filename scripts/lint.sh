#!/usr/bin/env bash
# Static analysis, part of scripts/test.sh (after go vet, before go test):
# staticcheck, golangci-lint (.golangci.yml) and govulncheck at pinned
# versions. Any finding fails the run. staticcheck and golangci-lint also
# go over the separate modules (internal/lbbench, internal/gohivebench,
# internal/interop/gohive) with the same rules.
#
# The tools are built with `go install` (through the module proxy) into a
# cache outside the checkout, one directory per Go version and tool
# version, the first time they are needed; IMPALALB_TOOLS_DIR overrides
# the cache. staticcheck and golangci-lint keep their analysis caches in
# the user's cache directory too, so a run over unchanged code takes a few
# seconds.
#
# govulncheck needs the vulnerability database at vuln.go.dev. When it
# cannot be reached the check is skipped with one line saying why (and
# which third-party modules the library links, to be checked by hand);
# being offline never fails the run, a vulnerability found does.
set -euo pipefail
cd "$(dirname "$0")/.."

staticcheck_pkg=honnef.co/go/tools/cmd/staticcheck@v0.8.2
golangci_pkg=github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0
govulncheck_pkg=golang.org/x/vuln/cmd/govulncheck@v1.9.0
# IMPALALB_VULNDB: another copy of the vulnerability database (a mirror,
# or file:///path), as govulncheck -db takes it.
vulndb="${IMPALALB_VULNDB:-https://vuln.go.dev}"

# Built per Go version: an analyzer built by an older Go cannot read the
# export data of a newer one.
tools="${IMPALALB_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/impalalb/tools}/$(go env GOVERSION)"

# tool PKG@VERSION prints the path of the tool's binary, installing it
# first when missing.
tool() {
  local pkg="$1" name dir
  name="$(basename "${pkg%@*}")"
  dir="$tools/$name@${pkg#*@}"
  if [ ! -x "$dir/$name" ]; then
    echo "lint.sh: installing $pkg" >&2
    mkdir -p "$dir"
    GOBIN="$dir" GOFLAGS= go install "$pkg" >&2
  fi
  echo "$dir/$name"
}

staticcheck="$(tool "$staticcheck_pkg")"
golangci="$(tool "$golangci_pkg")"
govulncheck="$(tool "$govulncheck_pkg")"

# The generated Thrift code is not ours to restyle (.golangci.yml excludes
# it the same way).
mapfile -t pkgs < <(go list ./... | grep -v '/internal/thrift/gen/')
"$staticcheck" "${pkgs[@]}"
"$golangci" run ./...

# The separate modules, each with its own go.mod that replaces the
# library with this checkout: the benchmark harness, the gohive benchmark
# and gohive as a client of the test coordinator. Each is analysed from
# its own directory (a module is one build), with the root's
# .golangci.yml (golangci-lint then names files from the root,
# staticcheck from the module's directory, named after its findings).
# govulncheck (below) stays on the library's module: these are harnesses
# and tests, and nothing of theirs is shipped. About 3 s when nothing
# changed.
root="$PWD"
nested_rc=0
# lint_module DIR [TAGS] runs both linters in module DIR, with build
# tags TAGS; a finding fails the run once every module has been seen.
lint_module() {
  local dir="$1" tags="${2:-}" rc=0
  (cd "$dir" && "$staticcheck" ${tags:+-tags "$tags"} ./...) || rc=1
  (cd "$dir" && "$golangci" run --config "$root/.golangci.yml" ${tags:+--build-tags "$tags"} ./...) || rc=1
  if [ "$rc" -ne 0 ]; then
    echo "lint.sh: findings in $dir${tags:+ (build tags $tags)}" >&2
    nested_rc=1
  fi
}
lint_module internal/lbbench
lint_module internal/gohivebench
lint_module internal/interop/gohive
# gohive's GSSAPI, behind build tag kerberos (kerberos_test.go), is cgo
# over MIT's <gssapi/gssapi.h> (libkrb5-dev, which scripts/test.sh
# installs): linted with the tag when that header compiles; otherwise the
# tag is skipped with one line saying why.
gssapi_header() {
  local cc
  [ "$(go env CGO_ENABLED)" = 1 ] || return 1
  cc="$(go env CC)"
  # CC may carry flags ("gcc -m64"): unquoted on purpose.
  # shellcheck disable=SC2086
  printf '#include <gssapi/gssapi.h>\n' | $cc -E -x c - >/dev/null 2>&1
}
if gssapi_header; then
  lint_module internal/interop/gohive kerberos
else
  echo "lint.sh: internal/interop/gohive not linted with build tag kerberos: no cgo, or no <gssapi/gssapi.h> (libkrb5-dev)"
fi
[ "$nested_rc" -eq 0 ] || exit 1

# reachable URL: whether URL answers within 5 s; when not, prints why.
reachable() {
  if command -v curl >/dev/null 2>&1; then
    local out
    out="$(curl -fsS --max-time 5 -o /dev/null "$1" 2>&1)" && return 0
    out="${out#curl: }"
    echo "${out#(*) }"
    return 1
  fi
  case "$1" in file://*) [ -e "${1#file://}" ] && return 0 ;; esac
  local host="${1#*://}"
  host="${host%%/*}"
  timeout 5 bash -c "exec 3<>/dev/tcp/$host/443" 2>/dev/null && return 0
  echo "no connection to $host:443 within 5 s"
  return 1
}

# skipped WHY: the line that says govulncheck did not run, naming the
# third-party modules the library links, to be checked by hand.
skipped() {
  local linked
  linked="$(go list -deps -f '{{with .Module}}{{if not .Main}}{{.Path}}@{{.Version}}{{end}}{{end}}' \
    . ./balancer/... ./conn/... ./kerberos/... ./tlsconf/... | sort -u | paste -sd' ' -)"
  echo "lint.sh: govulncheck skipped: $1; the library links $linked"
}

if ! why="$(reachable "$vulndb/index/db.json")"; then
  skipped "$vulndb unreachable ($why)"
  exit 0
fi
rc=0
out="$("$govulncheck" -db "$vulndb" ./... 2>&1)" || rc=$?
case "$rc" in
0) echo "$out" | tail -1 ;;
3)
  # A vulnerability that the code reaches.
  echo "$out" >&2
  exit 1
  ;;
*)
  # The database went away between the probe and the scan: still offline.
  if fetch="$(grep -m1 'fetching vulnerabilities' <<<"$out")"; then
    skipped "${fetch#govulncheck: }"
  else
    echo "$out" >&2
    exit "$rc"
  fi
  ;;
esac
