#!/usr/bin/env bash
# The whole test suite, as README says: installs what the tests need on a
# fresh Debian machine (when missing), then go vet, the linters
# (scripts/lint.sh) and go test -race.
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
# A real DNS server on loopback for the discovery tests (internal/dnstest).
[ -x /usr/sbin/dnsmasq ] || need dnsmasq dnsmasq-base
need tmux tmux
need thrift thrift-compiler
# Interop tests (internal/interop): headers to build impala-shell's sasl and
# kerberos wheels and gohive's cgo GSSAPI, Cyrus SASL's GSSAPI plugin
# (impala-shell -k, impyla GSSAPI), Java for Spark's Thrift server.
for p in libsasl2-dev libkrb5-dev libsasl2-modules-gssapi-mit; do
  dpkg -s "$p" >/dev/null 2>&1 || need_pkgs+=("$p")
done
need java openjdk-17-jre-headless
need g++ g++
python3 -c 'import venv, ensurepip' 2>/dev/null || need_pkgs+=(python3-venv)
python3 -c 'import sysconfig,os,sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"],"Python.h")))' || need_pkgs+=(python3-dev)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "test.sh: installing ${need_pkgs[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

# The Python venv of the interop tests (impala-shell, impyla, pyspark),
# cached per machine.
IMPALALB_VENV="$(./scripts/venv.sh)"
export IMPALALB_VENV

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
# staticcheck, golangci-lint (.golangci.yml) and govulncheck, pinned.
./scripts/lint.sh
go test -race -count=1 -timeout 12m ./...
# The separate modules: gohive as a third client of the test coordinator,
# the gohive benchmark's module, the HAProxy benchmark harness.
(cd internal/interop/gohive && go vet -tags kerberos ./... && go test -race -count=1 -tags kerberos ./...)
(cd internal/gohivebench && go vet ./... && go test -count=1 -run . ./...)
(cd internal/lbbench && go vet ./... && go test -count=1 ./...)
