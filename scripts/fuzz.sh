#!/usr/bin/env bash
# fuzz.sh runs every Go fuzz target of the module (each "func FuzzX" in a
# _test.go file) for a while and prints one table row per target: execs,
# time, new interesting inputs and crashes.
#
#   scripts/fuzz.sh            # 30 s per target
#   scripts/fuzz.sh 5s         # 5 s per target
#   FUZZ_FILTER=conn scripts/fuzz.sh 60s   # only packages whose path contains "conn"
#
# A crash leaves the failing input under the package's testdata/fuzz/ (Go's
# own behaviour) and makes the script exit 1 after the table. Targets run one
# after the other, each with -fuzzminimizetime 3s and the machine's CPUs.
set -u -o pipefail

fuzztime="${1:-30s}"
case "$fuzztime" in *[0-9]) fuzztime="${fuzztime}s" ;; esac
filter="${FUZZ_FILTER:-}"

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root" || exit 2
logdir="$(mktemp -d)"
trap 'rm -rf "$logdir"' EXIT

targets="$(grep -rn --include='*_test.go' '^func Fuzz' . | grep -v '/vendor/' |
	sed -E 's|^\./([^:]*):[0-9]+:func (Fuzz[A-Za-z0-9_]*).*|\1 \2|' | sort -u)"
if [ -z "$targets" ]; then
	echo "fuzz.sh: no fuzz targets found" >&2
	exit 2
fi

printf '%-48s %-26s %14s %8s %10s %8s\n' package target execs time "new-int" crashes
status=0
total_execs=0
total_crashes=0
n=0
while read -r file name; do
	pkg="./$(dirname "$file")"
	[ "$pkg" = "./." ] && pkg="."
	if [ -n "$filter" ] && [[ "$pkg" != *"$filter"* ]]; then
		continue
	fi
	n=$((n + 1))
	log="$logdir/$n.log"
	start=$(date +%s.%N)
	go test "$pkg" -run='^$' -fuzz="^${name}\$" -fuzztime="$fuzztime" \
		-fuzzminimizetime=3s >"$log" 2>&1
	rc=$?
	end=$(date +%s.%N)
	wall=$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.0fs", e - s }')
	last="$(grep -E '^fuzz: elapsed: .*execs: ' "$log" | tail -n 1)"
	execs="$(sed -nE 's/.*execs: ([0-9]+).*/\1/p' <<<"$last")"
	newint="$(sed -nE 's/.*new interesting: ([0-9]+).*/\1/p' <<<"$last")"
	elapsed="$(sed -nE 's/^fuzz: elapsed: ([0-9]+[a-z]+).*/\1/p' <<<"$last")"
	crashes=0
	if [ $rc -ne 0 ]; then
		if grep -qE 'Failing input written to|--- FAIL: Fuzz' "$log"; then
			crashes="$(grep -cE 'Failing input written to' "$log")"
			[ "$crashes" -eq 0 ] && crashes=1
		else
			crashes="error"
		fi
		status=1
	fi
	[ -z "$execs" ] && execs=0
	[ -z "$newint" ] && newint=0
	[ -z "$elapsed" ] && elapsed="$wall"
	total_execs=$((total_execs + execs))
	[[ "$crashes" =~ ^[0-9]+$ ]] && total_crashes=$((total_crashes + crashes))
	printf '%-48s %-26s %14s %8s %10s %8s\n' "$pkg" "$name" "$execs" "$elapsed" "$newint" "$crashes"
	if [ $rc -ne 0 ]; then
		echo "---- output of $pkg $name (exit $rc) ----" >&2
		tail -n 40 "$log" >&2
	fi
done <<<"$targets"

printf '%d targets, %d execs, %d crashes (fuzztime %s each)\n' "$n" "$total_execs" "$total_crashes" "$fuzztime"
exit $status
