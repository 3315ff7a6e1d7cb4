#!/usr/bin/env bash
# make.sh - regenerate the README's screenshots from the real demo.
#
# usage: bash screenshots/make.sh [--install-deps] [--keep DIR]
#
# Builds cutover and the renderer (screenshots/render, its own Go module: golang.org/x/image draws
# the text with DejaVu Sans Mono), runs `cutover demo --seed 1 --speed 600` in a private tmux server
# at 120x40, waits until the provider panes show non-zero counts and the 1 h window has filled, then
# captures with colours (tmux capture-pane -e -p) and renders:
#   cockpit.png  the cockpit            detail.png  google's detail (enter)
#   sources.png  the sources view (s)   help.png    the help overlay (?)
#   suppression.png  the suppression view (u) after an export was imported through the running demo
#   slider.png   the ratio slider one step up, with its diff and the (y/N) confirmation (t, →)
#   audit.png    the audit view after an apply and its rollback (t → y, R y, a)
#   alarm.png    the cockpit after a ratio jump to 75 %: providers in WARN/CRIT with NEW▲
#   session.gif  an animated GIF of that session (slider → apply → rollback → audit), one frame
#                per captured screen, drawn by the same renderer
# sources.png and help.png are taken at 80x24 (the window is resized for them): the size an on-call
# engineer's SSH session often has, where the help overlay must fit and scroll.
# Dependencies: Go, tmux, fonts-dejavu-core, tzdata (bash scripts/screenshot-deps.sh check|install).
# --keep DIR keeps the raw captures (*.ans: `less -R` shows them) and the demo's workspace (DIR/demo).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/screenshots
COLS=120
ROWS=40
SIM_WARMUP_MIN=70 # simulated minutes to run after the first counts, so the 1 h window is full

die() { printf 'make.sh: ERROR: %s\n' "$*" >&2; exit 1; }
say() { printf 'make.sh: %s\n' "$*" >&2; }

keep=
install=
while [ $# -gt 0 ]; do
	case "$1" in
	--install-deps) install=1 ;;
	--keep) keep=${2:?--keep needs a directory}; shift ;;
	*) die "unknown argument $1 (usage: bash screenshots/make.sh [--install-deps] [--keep DIR])" ;;
	esac
	shift
done

command -v go >/dev/null || export PATH="/usr/local/go/bin:$PATH"
if [ -n "$install" ]; then
	bash scripts/screenshot-deps.sh install
else
	bash scripts/screenshot-deps.sh check ||
		die "dependencies missing (see above): run 'bash scripts/screenshot-deps.sh install' as root, or pass --install-deps"
fi

# A fixed work directory: the cockpit shows the database's absolute path, and the pictures should not
# change with a random temporary name.
WORK=${TMPDIR:-/tmp}/cutover-screenshots
[ ! -L "$WORK" ] || die "$WORK is a symlink"
rm -rf -- "$WORK"
mkdir -m 700 "$WORK" || die "cannot create $WORK"
T() { tmux -S "$WORK/tmux.sock" -f "$WORK/tmux.conf" "$@"; }
cleanup() {
	T kill-server 2>/dev/null || true
	sleep 0.2
	rm -rf "$WORK" || true
}
trap cleanup EXIT

say "building cutover and the renderer"
go build -o "$WORK/cutover" . || die "go build . failed"
(cd screenshots/render && go build -o "$WORK/render" .) || die "go build screenshots/render failed (it needs golang.org/x/image: network or a module cache)"

# The demo runs in RUNDIR with a relative --dir (its sources' paths show as demo/logs/...).
RUNDIR=$WORK
if [ -n "$keep" ]; then
	mkdir -p "$keep"
	RUNDIR=$(cd "$keep" && pwd)
	rm -rf "$RUNDIR/demo"
fi

# A private tmux server with a known configuration (no status line: the pane is the whole 120x40)
# and a fixed environment, whatever the caller's: UTF-8, a local zone other than UTC so the header
# shows both clocks, no NO_COLOR.
printf 'set -g status off\nset -g history-limit 2000\n' >"$WORK/tmux.conf"
T -u new-session -d -x "$COLS" -y "$ROWS" -c "$RUNDIR" \
	"env -u NO_COLOR LC_ALL=C.UTF-8 TZ=Europe/Berlin '$WORK/cutover' demo --seed 1 --speed 600 --dir demo; echo CUTOVER-EXIT=\$?; sleep 30"
size=$(T display -p '#{pane_width}x#{pane_height}')
[ "$size" = "${COLS}x${ROWS}" ] || die "tmux pane is $size, want ${COLS}x${ROWS}"

cap() { T capture-pane -p "$@"; }

# wait_for SECONDS DESCRIPTION COMMAND...: poll COMMAND every 0.1 s until it succeeds.
wait_for() {
	local secs=$1 what=$2
	shift 2
	local end=$((SECONDS + secs))
	until "$@"; do
		if [ $SECONDS -ge $end ]; then
			say "screen after ${secs}s:"
			cap >&2 || true
			die "timed out waiting for $what"
		fi
		sleep 0.1
	done
}

# The checks read a whole capture first: `cap | grep -q` could kill tmux with SIGPIPE, and
# pipefail would call that a failure.
has() { grep -q -- "$2" <<<"$1"; }
line() { sed -n "$2p" <<<"$1"; }

# The cockpit's header clock, HH:MM:SS, as seconds of the day.
sim_clock() {
	local s
	s=$(cap) || return 0
	line "$s" 1 | grep -o '[0-9][0-9]:[0-9][0-9]:[0-9][0-9] UTC' | sed -n 1p |
		awk -F'[: ]' '{print $1*3600+$2*60+$3}' || true
}
# google's OLD row has a non-zero recipients/hour figure.
counts_shown() { local s; s=$(cap) && grep -Eq '^. google +OLD +[1-9]' <<<"$s"; }
sim_advanced() {
	local now
	now=$(sim_clock)
	[ -n "$now" ] && [ $(((now - start + 86400) % 86400)) -ge $((SIM_WARMUP_MIN * 60)) ]
}
is_cockpit() { local s; s=$(cap) && has "$s" 'rcpt/h' && has "$(line "$s" "$ROWS")" 'enter detail'; }
is_detail() { local s; s=$(cap) && has "$(line "$s" 2)" '^ google .*window' && has "$s" 'top responses'; }
is_sources() { local s; s=$(cap) && has "$(line "$s" 2)" '^sources' && has "$s" 'new-pmta'; }
is_help() { local s; s=$(cap) && has "$s" '│ keys' && has "$s" 'refresh now'; }
is_slider_or_nothing() { local s; s=$(cap) && has "$(line "$s" 2)" 'ratio to NEW'; }

# shot NAME CHECK: capture (until a capture passes CHECK twice in a row, so a frame being drawn is
# never caught half-way) and render it.
shot() {
	local name=$1 check=$2 a b tries=0
	while :; do
		a=$(cap -e)
		sleep 0.15
		b=$(cap -e)
		if [ "$a" = "$b" ] && $check; then break; fi
		tries=$((tries + 1))
		[ $tries -lt 40 ] || die "$name: the screen never held still"
	done
	printf '%s\n' "$b" >"$WORK/$name.ans"
	[ -z "$keep" ] || cp "$WORK/$name.ans" "$keep/"
	"$WORK/render" -cols "$COLS" -rows "$ROWS" -in "$WORK/$name.ans" -out "$OUT/$name.png" ||
		die "rendering $name failed"
	say "wrote screenshots/$name.png ($(wc -c <"$OUT/$name.png") bytes)"
}

say "starting the demo (tmux ${COLS}x${ROWS})"
wait_for 30 "provider panes with non-zero counts" counts_shown
start=$(sim_clock)
[ -n "$start" ] || die "no clock in the header: $(cap | sed -n 1p)"
say "counts are in; letting the simulation run $SIM_WARMUP_MIN simulated minutes"
wait_for 60 "the simulated clock to advance" sim_advanced

# The header's suppression warning: NEW carries 5 % and the demo's suppressions (its own hard bounces)
# are verified on no MTA. The cockpit rereads the suppression state every 10 s.
warned() { local s; s=$(cap) && has "$(line "$s" 2)" 'NOT VERIFIED'; }
wait_for 25 "the header's suppression warning" warned

# The sim keeps running between shots; each view is captured as soon as it shows.
shot cockpit is_cockpit
T send-keys Enter
wait_for 10 "google's detail" is_detail
shot detail is_detail
T send-keys Escape
wait_for 10 "the cockpit (after esc)" is_cockpit
# sources and help at 80x24.
resize() { COLS=$1 ROWS=$2; T resize-window -x "$COLS" -y "$ROWS"; }
resize 80 24
wait_for 10 "the cockpit at 80x24" is_cockpit
T send-keys s
wait_for 10 "the sources view" is_sources
shot sources is_sources
T send-keys Escape
wait_for 10 "the cockpit (after esc)" is_cockpit
T send-keys '?'
wait_for 10 "the help overlay" is_help
shot help is_help
T send-keys Escape
resize 120 40
wait_for 10 "the cockpit (after esc, 120x40)" is_cockpit

# The control session: the slider one step up with its preview, apply, roll back, the audit view.
# Every step's screen is kept as a frame of session.gif.
frames=()
frame() { shot "$1" "$2"; frames+=("$WORK/$1.ans"); }
frames+=("$WORK/cockpit.ans")
is_slider_ready() { local s; s=$(cap) && has "$(line "$s" 2)" 'ratio to NEW' && has "$s" '(y/N)' && has "$s" 'diff'; }
is_applied() { local s; s=$(cap) && has "$s" '✓ #'; }
is_rollback() { local s; s=$(cap) && has "$(line "$s" 2)" 'roll back' && has "$s" '(y/N)'; }
is_audit() { local s; s=$(cap) && has "$s" 'changes, newest first' && has "$s" 'rollback'; }
T send-keys t
wait_for 10 "the slider" is_slider_or_nothing
T send-keys Right
wait_for 10 "the slider's preview one step up" is_slider_ready
frame slider is_slider_ready
T send-keys y
wait_for 20 "the apply's result" is_applied
frame frame-applied is_applied
T send-keys Escape
wait_for 10 "the cockpit (after the result)" is_cockpit
T send-keys R
wait_for 10 "the rollback preview" is_rollback
frame frame-rollback is_rollback
T send-keys y
wait_for 20 "the rollback's result" is_applied
frame frame-rolledback is_applied
T send-keys Escape
wait_for 10 "the cockpit (after the rollback)" is_cockpit
T send-keys a
wait_for 10 "the audit view" is_audit
frame audit is_audit
T send-keys Escape
wait_for 10 "the cockpit (after the audit)" is_cockpit
# A ratio jump (5 % → 75 %) overloads NEW's young reputation: within simulated hours the providers
# defer it, the cockpit marks WARN/CRIT and NEW▲.
T send-keys t
wait_for 10 "the slider" is_slider_or_nothing
T send-keys Right Right Right Right
is_jump_ready() { local s; s=$(cap) && has "$(line "$s" 2)" 'proposed 75%' && has "$s" '(y/N)'; }
wait_for 10 "the slider at 75 %" is_jump_ready
T send-keys y
wait_for 20 "the jump's result" is_applied
T send-keys Escape
is_alarm() { local s; s=$(cap) && grep -Eq '(WARN|CRIT) NEW▲' <<<"$s" && has "$(line "$s" "$ROWS")" 'enter detail'; }
wait_for 120 "a provider in WARN or CRIT with NEW▲ after the jump" is_alarm
shot alarm is_alarm
rm -f "$OUT"/frame-*.png
gif_in=$(IFS=,; echo "${frames[*]}")
"$WORK/render" -cols "$COLS" -rows "$ROWS" -in "$gif_in" -gif "$OUT/session.gif" -delay 180 ||
	die "rendering session.gif failed"
say "wrote screenshots/session.gif ($(wc -c <"$OUT/session.gif") bytes, ${#frames[@]} frames)"

# An export imported through the running cockpit (the demo owns its database, so the CLI hands the
# import to it over demo/cutover.db.sock): 5,000 SendGrid bounce rows, 200 of them repeats and 10 junk.
awk 'BEGIN { print "email,created,status,reason"
	for (i = 0; i < 5000; i++) {
		if (i % 500 == 499) { printf "#%08d,1700000000,5.1.1,junk\n", i; continue }
		printf "User.%d@Example%d.com,%d,5.1.1,\"550 5.1.1 <user>: Recipient address rejected: User unknown\"\n", i % 4800, i % 4800 % 7, 1700000000 + i % 4800
	} }' >"$WORK/sendgrid_bounces.csv"
(cd "$RUNDIR" && "$WORK/cutover" suppress import --db demo/cutover.db --provider sendgrid --list bounces \
	"$WORK/sendgrid_bounces.csv") >"$WORK/import.out" 2>&1 || die "import through the demo failed: $(cat "$WORK/import.out")"
has "$(cat "$WORK/import.out")" 'accepted' || die "import printed no summary: $(cat "$WORK/import.out")"
is_suppression() { local s; s=$(cap) && has "$(line "$s" 2)" 'Suppression log' && has "$s" 'sendgrid_bounces.csv' && has "$s" ' done '; }
T send-keys u
wait_for 15 "the suppression view with the import" is_suppression
shot suppression is_suppression
T send-keys q
exited() { local s; s=$(cap) && has "$s" 'CUTOVER-EXIT='; }
wait_for 10 "cutover to exit" exited
final=$(cap)
has "$final" 'CUTOVER-EXIT=0' || die "cutover exited with an error: $(grep CUTOVER-EXIT <<<"$final")"
say "done: screenshots/{cockpit,detail,sources,help,suppression,slider,audit,alarm}.png and session.gif"
