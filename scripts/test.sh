#!/usr/bin/env bash
# The whole test suite, as README says: installs what the tests need on a
# fresh Debian machine (when missing), then go vet and go test -race.
# CI (.ci/run) runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkgs=()
need() { command -v "$1" >/dev/null 2>&1 || need_pkgs+=("$2"); }
# A real MIT KDC for the Kerberos tests, HAProxy for the proxy tests,
# tmux for the interactive shell test, the thrift compiler to check that
# the generated code is current.
need krb5kdc krb5-kdc
need kadmin.local krb5-admin-server
need kinit krb5-user
[ -x /usr/bin/python3 ] && /usr/bin/python3 -c "import gssapi" 2>/dev/null || need_pkgs+=(python3-gssapi)
need haproxy haproxy
need tmux tmux
need thrift thrift-compiler
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "test.sh: installing ${need_pkgs[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

# The generated Thrift code must match the IDL.
if command -v thrift >/dev/null 2>&1; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  cp -r internal/thrift "$tmp/"
  (cd "$tmp/thrift" && ./gen.sh >/dev/null 2>&1)
  if ! diff -r internal/thrift/gen "$tmp/thrift/gen" >/dev/null; then
    echo "test.sh: internal/thrift/gen is stale: run go generate ./internal/thrift/" >&2
    exit 1
  fi
fi

unformatted=$(gofmt -l . | grep -v '^internal/thrift/gen/' || true)
if [ -n "$unformatted" ]; then
  echo "test.sh: gofmt would change:" >&2
  echo "$unformatted" >&2
  exit 1
fi
go vet ./...
go test -race -count=1 -timeout 12m ./...
