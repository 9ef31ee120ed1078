#!/usr/bin/env bash
# soak.sh runs the full-length load and leak test of internal/reliability:
# 256 goroutines doing acquire-statement-release cycles over three test
# coordinators while one of them is broken at random (resets, closes, kills
# and restarts, expired sessions, failed OpenSessions, empty fetches,
# delays, crashes in the middle of a call). It then checks that nothing ran
# twice, that every failure was typed and every SafeToRetry truthful, and
# that no goroutine, file descriptor or memory was left behind, and prints
# the figures.
#
#   scripts/soak.sh            # 20000 cycles in total, under -race
#   scripts/soak.sh 100000     # more cycles
#   RACE=0 scripts/soak.sh     # without the race detector (faster)
set -eu -o pipefail

cycles="${1:-20000}"
race="-race"
[ "${RACE:-1}" = "0" ] && race=""

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
echo "soak: $cycles cycles, 256 goroutines, 3 coordinators, random faults ${race:-(no -race)}"
start=$(date +%s)
set +e
IMPALALB_SOAK_CYCLES="$cycles" go test $race -count=1 -timeout=120m -run '^TestLoadAndLeaks$' -v \
	./internal/reliability 2>&1 | grep -vE '^=== (RUN|PAUSE|CONT)'
rc=${PIPESTATUS[0]}
set -e
echo "soak: exit $rc after $(( $(date +%s) - start ))s"
exit "$rc"
