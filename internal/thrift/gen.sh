#!/usr/bin/env bash
# Regenerates the Go code under gen/ from the IDL files under idl/.
# Run through `go generate ./internal/thrift/`. Needs Debian's
# thrift-compiler 0.17.x (the generated code builds against
# github.com/apache/thrift v0.25.0).
set -euo pipefail
cd "$(dirname "$0")"
want="0.17."
have=$(thrift --version 2>/dev/null || true)
case "$have" in
  "Thrift version $want"*) ;;
  *) echo "gen.sh: need the thrift compiler $want* (Debian package thrift-compiler), found: ${have:-none}" >&2; exit 1 ;;
esac
rm -rf gen
mkdir -p gen
for f in TCLIService beeswax ImpalaService; do
  thrift -I idl --gen go:package_prefix=github.com/impalalb/impalalb/internal/thrift/gen/,thrift_import=github.com/apache/thrift/lib/go/thrift,skip_remote -out gen "idl/$f.thrift"
done
gofmt -w gen
