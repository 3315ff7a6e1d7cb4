#!/usr/bin/env bash
# bench-peers.sh - whole-command backfill of a 290k-line Postfix log and a 258k-line Exim log, cutover
# against pflogsumm and eximstats, in one run, rounds interleaved so that both see the same machine load.
# Prints per tool the median wall time and CPU time (user+sys) and the ratios peer/cutover. Not run by CI
# (figures, not pass/fail). Needs pflogsumm and eximstats: bash scripts/real-mta.sh install.
#
# usage: bash scripts/bench-peers.sh [ROUNDS]          (default 5)
#   cutover full   = backfill into a new database (open, parse, classify, commit, close)
#   cutover noop   = the same command again: nothing new to read
#   cutover +1%    = 1 % more lines appended, then backfill again (incremental)
# Logs: ingest/realmta/testdata (real Postfix 3.7 and Exim 4.96 logs), repeated 170 and 163 times.
set -euo pipefail

ROUNDS=${1:-5}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
eval "$(bash "$ROOT/scripts/real-mta.sh" env)"
PFLOGSUMM=$(command -v pflogsumm || true)
EXIMSTATS=${CUTOVER_EXIMSTATS:-}
[ -n "$PFLOGSUMM" ] || { echo "pflogsumm missing: bash scripts/real-mta.sh install" >&2; exit 1; }
[ -f "$EXIMSTATS" ] || { echo "eximstats missing ($EXIMSTATS): bash scripts/real-mta.sh install" >&2; exit 1; }

# No dot in the path: eximstats reads any file whose path matches /\.Z/ or
# /\.gz/ through uncompress or gunzip, and mktemp's letters can make ".Z".
W=$(mktemp -d /tmp/cutover-bench-peers-XXXXXX)
case $W in *.*) echo "temporary directory $W has a dot" >&2; exit 1 ;; esac
trap 'rm -rf "$W"' EXIT
(cd "$ROOT" && go build -o "$W/cutover" .)
for i in $(seq 170); do cat "$ROOT/ingest/realmta/testdata/postfix.log"; done >"$W/pf.log"
for i in $(seq 163); do cat "$ROOT/ingest/realmta/testdata/exim-mainlog"; done >"$W/exim.log"
head -n $(($(wc -l <"$W/pf.log") / 100)) "$W/pf.log" >"$W/pf.1pct"
head -n $(($(wc -l <"$W/exim.log") / 100)) "$W/exim.log" >"$W/exim.1pct"
echo "postfix log: $(wc -l <"$W/pf.log") lines, $(du -m "$W/pf.log" | cut -f1) MB; exim log: $(wc -l <"$W/exim.log") lines, $(du -m "$W/exim.log" | cut -f1) MB; $ROUNDS rounds; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"

# run NAME CMD... : appends "wall_ms cpu_ms" to $W/NAME.t
run() {
	local name=$1
	shift
	local t0 t1
	t0=$(date +%s%N)
	/usr/bin/time -f "%U %S" -o "$W/cpu" "$@" >/dev/null 2>"$W/err" || { cat "$W/err" >&2; exit 1; }
	t1=$(date +%s%N)
	awk -v w=$(((t1 - t0) / 1000)) '{printf "%.3f %.0f\n", w/1000, ($1+$2)*1000}' "$W/cpu" >>"$W/$name.t"
}

for r in $(seq "$ROUNDS"); do
	rm -f "$W"/*.db* "$W"/suppressions.jsonl*
	cp "$W/pf.log" "$W/pf-inc.log"
	cp "$W/exim.log" "$W/exim-inc.log"
	run pflogsumm "$PFLOGSUMM" "$W/pf.log"
	run cutover-postfix-full "$W/cutover" backfill --db "$W/pf.db" --kind postfix --side old "$W/pf.log"
	run cutover-postfix-noop "$W/cutover" backfill --db "$W/pf.db" --kind postfix --side old "$W/pf.log"
	"$W/cutover" backfill --db "$W/pfi.db" --kind postfix --side old "$W/pf-inc.log" >/dev/null
	cat "$W/pf.1pct" >>"$W/pf-inc.log"
	run cutover-postfix-1pct "$W/cutover" backfill --db "$W/pfi.db" --kind postfix --side old "$W/pf-inc.log"
	run eximstats perl "$EXIMSTATS" "$W/exim.log"
	run cutover-exim-full "$W/cutover" backfill --db "$W/ex.db" --kind exim --side old "$W/exim.log"
	run cutover-exim-noop "$W/cutover" backfill --db "$W/ex.db" --kind exim --side old "$W/exim.log"
	"$W/cutover" backfill --db "$W/exi.db" --kind exim --side old "$W/exim-inc.log" >/dev/null
	cat "$W/exim.1pct" >>"$W/exim-inc.log"
	run cutover-exim-1pct "$W/cutover" backfill --db "$W/exi.db" --kind exim --side old "$W/exim-inc.log"
	run cat cat "$W/pf.log" "$W/exim.log"
	# The harness itself (date, /usr/bin/time, fork and exec) costs a few ms
	# per run: measured on /bin/true, so that a no-op run can be read net.
	run harness true
done

# median COLUMN FILE
median() { sort -n -k"$1" "$2" | awk -v c="$1" '{v[NR]=$c} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
printf '%-22s %12s %10s  %s\n' tool "wall ms" "cpu ms" "(median of $ROUNDS; range of wall)"
for n in pflogsumm cutover-postfix-full cutover-postfix-noop cutover-postfix-1pct eximstats cutover-exim-full cutover-exim-noop cutover-exim-1pct cat harness; do
	printf '%-22s %12.1f %10.0f  %s\n' "$n" "$(median 1 "$W/$n.t")" "$(median 2 "$W/$n.t")" \
		"$(sort -n "$W/$n.t" | awk 'NR==1{a=$1} {b=$1} END {printf "%.1f-%.1f", a, b}')"
done
net() { awk -v a="$(median 1 "$W/$1.t")" -v b="$(median 1 "$W/harness.t")" 'BEGIN {printf "%.1f", a-b}'; }
ratio() { awk -v a="$(median "$3" "$W/$1.t")" -v b="$(median "$3" "$W/$2.t")" 'BEGIN {printf "%.1f", a/b}'; }
echo "postfix: pflogsumm / cutover full = $(ratio pflogsumm cutover-postfix-full 1)x wall, $(ratio pflogsumm cutover-postfix-full 2)x cpu; noop = $(median 1 "$W/cutover-postfix-noop.t") ms ($(net cutover-postfix-noop) ms net of the harness); +1% costs $(awk -v a="$(median 1 "$W/cutover-postfix-1pct.t")" -v b="$(median 1 "$W/cutover-postfix-full.t")" 'BEGIN {printf "%.0f", 100*a/b}')% of a full run"
echo "exim:    eximstats / cutover full = $(ratio eximstats cutover-exim-full 1)x wall, $(ratio eximstats cutover-exim-full 2)x cpu; noop = $(median 1 "$W/cutover-exim-noop.t") ms ($(net cutover-exim-noop) ms net of the harness); +1% costs $(awk -v a="$(median 1 "$W/cutover-exim-1pct.t")" -v b="$(median 1 "$W/cutover-exim-full.t")" 'BEGIN {printf "%.0f", 100*a/b}')% of a full run"
