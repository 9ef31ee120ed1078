#!/usr/bin/env bash
# Creates (or reuses) the Python virtual environment of the interop tests
# with the pinned packages of internal/interop/requirements.txt
# (impala-shell, impyla, and pyspark, whose jars hold Spark's Thrift server).
# Idempotent: when the venv was made from the same requirements it returns at
# once. Prints the venv's path on stdout.
#
# Debian packages needed to build impala-shell's dependencies (sasl,
# kerberos): libsasl2-dev libkrb5-dev, and a C compiler.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# Kept outside the checkout so that every clone on this machine (CI clones
# afresh each run) shares one venv; IMPALALB_VENV_DIR overrides.
venv="${IMPALALB_VENV_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/impalalb/venv}"
mkdir -p "$(dirname "$venv")"
req="$root/internal/interop/requirements.txt"
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$req" | cut -d' ' -f1)"
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "$venv"
  exit 0
fi
py="${PYTHON:-python3}"
echo "venv.sh: installing $req into $venv" >&2
rm -f "$stamp"
[ -x "$venv/bin/python" ] || "$py" -m venv "$venv" >&2
"$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip setuptools wheel >&2
"$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$req" >&2
echo "$want" >"$stamp"
echo "$venv"
